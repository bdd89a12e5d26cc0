// Package metrics holds the one Prometheus register loop the packages
// share. It imports none of ideserver's packages.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register registers cs with reg in order and returns the first error
// (prometheus.AlreadyRegisteredError among others), unwrapped; collectors
// registered before it stay registered. A nil reg registers nothing: the
// metrics are still counted, only not exported.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
