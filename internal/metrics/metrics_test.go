package metrics_test

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/internal/metrics"
)

func TestRegister(t *testing.T) {
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	b := prometheus.NewGauge(prometheus.GaugeOpts{Name: "b", Help: "b"})
	if err := metrics.Register(nil, a, b); err != nil {
		t.Fatalf("nil registerer: %v", err)
	}
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, a, b); err != nil {
		t.Fatal(err)
	}
	a.Inc()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 2 {
		t.Fatalf("gathered %d families (%v), want 2", len(mfs), err)
	}
	// A second registration fails with prometheus's own error, which
	// callers can inspect.
	c := prometheus.NewGauge(prometheus.GaugeOpts{Name: "c", Help: "c"})
	err = metrics.Register(reg, c, a)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || are.ExistingCollector != a {
		t.Fatalf("registering a again: %v, want AlreadyRegisteredError", err)
	}
	if !reg.Unregister(c) {
		t.Error("collectors before the failing one are not registered")
	}
}
