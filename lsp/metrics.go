package lsp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/internal/metrics"
)

// Metrics are the language server's Prometheus metrics. Labels come from
// small fixed sets, never tenant or workspace ids.
type Metrics struct {
	sessions  prometheus.Gauge
	processes prometheus.Gauge
	messages  *prometheus.CounterVec   // direction: to_server, to_client
	forward   *prometheus.HistogramVec // direction
	restarts  *prometheus.CounterVec   // reason: crash, idle
	refused   *prometheus.CounterVec   // reason
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_lsp_sessions", Help: "LSP WebSocket connections being served.",
		}),
		processes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_lsp_gopls_processes", Help: "Running gopls processes.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_lsp_messages_total", Help: "LSP messages forwarded, by direction.",
		}, []string{"direction"}),
		forward: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ideserver_lsp_forward_seconds",
			Help:    "Time the proxy spends on one message, from read to written, by direction.",
			Buckets: []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2, 0.1, 1},
		}, []string{"direction"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_lsp_gopls_restarts_total", Help: "gopls restarts, by reason (crash, idle).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_lsp_refused_total", Help: "Client messages refused, by reason.",
		}, []string{"reason"}),
	}
	if err := metrics.Register(reg, m.sessions, m.processes, m.messages, m.forward, m.restarts, m.refused); err != nil {
		return nil, err
	}
	return m, nil
}
