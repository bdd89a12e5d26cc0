package terminal

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	imetrics "github.com/ideserver/ideserver/internal/metrics"
)

// metrics are the package's collectors; labels come from fixed sets.
type metrics struct {
	running  prometheus.Gauge // running terminals
	clients  prometheus.Gauge
	bytes    *prometheus.CounterVec // direction: "in" (client to PTY), "out" (PTY output)
	overruns prometheus.Counter
	in, out  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_terminal_sessions",
			Help: "Running terminals.",
		}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_terminal_attached_clients",
			Help: "Clients attached to terminals.",
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_terminal_bytes_total",
			Help: "Terminal bytes by direction: in (client input to the PTY), out (PTY output).",
		}, []string{"direction"}),
		overruns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ideserver_terminal_overruns_total",
			Help: "Times a client fell a whole scrollback behind and output was skipped.",
		}),
	}
	m.in = m.bytes.WithLabelValues("in")
	m.out = m.bytes.WithLabelValues("out")
	if err := imetrics.Register(reg, m.running, m.clients, m.bytes, m.overruns); err != nil {
		return nil, fmt.Errorf("register terminal metrics: %w", err)
	}
	return m, nil
}
