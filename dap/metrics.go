package dap

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	imetrics "github.com/ideserver/ideserver/internal/metrics"
)

type metrics struct {
	sessions prometheus.Gauge
	launches *prometheus.CounterVec // mode: debug, test, nodebug
	refused  *prometheus.CounterVec // reason: a refusal reason or "limit"
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_dap_sessions", Help: "Open debug sessions.",
		}),
		launches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_dap_launches_total", Help: "Launch requests forwarded to dlv, by mode.",
		}, []string{"mode"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_dap_refused_total", Help: "DAP requests and sessions refused by the proxy, by reason.",
		}, []string{"reason"}),
	}
	if err := imetrics.Register(reg, m.sessions, m.launches, m.refused); err != nil {
		return nil, fmt.Errorf("register dap metrics: %w", err)
	}
	return m, nil
}
