package server

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	imetrics "github.com/ideserver/ideserver/internal/metrics"
)

// metrics are the server's Prometheus collectors. Labels come from small
// fixed sets (route patterns, status classes), never tenant or workspace
// ids.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	websockets prometheus.Gauge
	errors     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_http_requests_total",
			Help: "HTTP requests by route pattern and status class.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ideserver_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests (WebSockets: their whole life).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route"}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_websockets",
			Help: "Open WebSocket connections.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_errors_total",
			Help: "Errors an operator may need to look at, by component and kind.",
		}, []string{"component", "kind"}),
	}
	if err := imetrics.Register(reg, m.requests, m.duration, m.websockets, m.errors); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}

func (m *metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status/100)+"xx").Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}
