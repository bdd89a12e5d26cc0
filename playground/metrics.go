package playground

import (
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/internal/metrics"
)

// serviceMetrics are the playground's Prometheus metrics: what an operator
// (and an autoscaler) watches.
type serviceMetrics struct {
	pending  prometheus.Gauge       // admitted and not answered: queued plus running
	queued   prometheus.Gauge       // waiting for a slot
	runs     *prometheus.CounterVec // runs by outcome
	duration prometheus.Histogram   // a run's build and execution
	binaries *prometheus.CounterVec // binary cache lookups by result
}

// Outcomes of a run (ideserver_playground_runs_total's outcome label).
const (
	outcomeOK          = "ok"           // exit status 0
	outcomeExitError   = "exit_error"   // another exit status, or a panic
	outcomeBuildFailed = "build_failed" // build errors (the user's)
	outcomeTimeout     = "timeout"      // the run (or its build) took too long
	outcomeOutputLimit = "output_limit" // stopped for writing too much
	outcomeKilled      = "killed"       // the client killed it
	outcomeRejected    = "rejected"     // the queue was full, or the program too large
	outcomeError       = "error"        // anything else: the server's failure, a client gone
)

func newServiceMetrics(reg prometheus.Registerer) (*serviceMetrics, error) {
	m := &serviceMetrics{
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_playground_requests_pending",
			Help: "Playground builds and runs admitted and not yet answered: queued plus running (the signal to scale on).",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ideserver_playground_requests_queued",
			Help: "Playground builds and runs waiting for a slot.",
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_playground_runs_total",
			Help: "Playground runs (/compile and the streaming API) by outcome: ok, exit_error, build_failed, timeout, output_limit, killed, rejected, error.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ideserver_playground_run_duration_seconds",
			Help:    "Time from a run's admission to its answer: build (or binary cache hit), vet when asked, and the program.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		binaries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_playground_binary_cache_lookups_total",
			Help: "Builds looked up in the playground's binary cache, by result (hit: the build was reused; miss: it ran).",
		}, []string{"result"}),
	}
	if err := metrics.Register(reg, m.pending, m.queued, m.runs, m.duration, m.binaries); err != nil {
		return nil, err
	}
	return m, nil
}

// buildOutcome is the outcome of a run whose build (or modules) failed
// with errs.
func buildOutcome(errs string) string {
	if errs == msgBuildTimeout || strings.HasPrefix(errs, msgModuleTimeout) {
		return outcomeTimeout
	}
	return outcomeBuildFailed
}

// errorOutcome is the outcome of a run that ended with err instead of a
// result.
func errorOutcome(err error) string {
	switch {
	case errors.Is(err, ErrBusy), errors.Is(err, ErrTooLarge):
		return outcomeRejected
	case errors.Is(err, errKilled):
		return outcomeKilled
	}
	return outcomeError
}

// binaryLookup counts one binary cache lookup.
func (m *serviceMetrics) binaryLookup(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.binaries.WithLabelValues(result).Inc()
}

// observe counts one run with its outcome and, when it was admitted
// (start not zero), its duration.
func (m *serviceMetrics) observe(outcome string, start time.Time) {
	m.runs.WithLabelValues(outcome).Inc()
	if !start.IsZero() {
		m.duration.Observe(time.Since(start).Seconds())
	}
}
