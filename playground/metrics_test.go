package playground_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/playground"
)

// metricValue sums the samples of name in reg whose labels include want
// (counters and gauges; a histogram's sample count).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestMetrics: each run is counted by its outcome and timed, a repeated
// body is a binary cache hit, and nothing stays pending afterwards.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(o *playground.Options) { o.Registerer = reg; o.RunTimeout = 2 * time.Second })
	bodies := map[string]string{
		"ok":           hello,
		"exit_error":   "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n",
		"build_failed": "package main\n\nfunc main() { undefinedThing() }\n",
		"timeout":      "package main\n\nfunc main() { for {} }\n",
	}
	for outcome, body := range bodies {
		if _, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: body}); err != nil {
			t.Fatalf("%s: %v", outcome, err)
		}
	}
	if _, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: hello}); err != nil {
		t.Fatal(err)
	}
	for outcome, want := range map[string]float64{"ok": 2, "exit_error": 1, "build_failed": 1, "timeout": 1, "error": 0} {
		if got := metricValue(t, reg, "ideserver_playground_runs_total", map[string]string{"outcome": outcome}); got != want {
			t.Errorf("runs with outcome %s: %v, want %v", outcome, got, want)
		}
	}
	if got := metricValue(t, reg, "ideserver_playground_run_duration_seconds", nil); got != 5 {
		t.Errorf("run durations observed: %v, want 5", got)
	}
	if hits := metricValue(t, reg, "ideserver_playground_binary_cache_lookups_total", map[string]string{"result": "hit"}); hits != 1 {
		t.Errorf("binary cache hits: %v, want 1 (hello world again)", hits)
	}
	if misses := metricValue(t, reg, "ideserver_playground_binary_cache_lookups_total", map[string]string{"result": "miss"}); misses < 3 {
		t.Errorf("binary cache misses: %v, want at least 3", misses)
	}
	for _, g := range []string{"ideserver_playground_requests_pending", "ideserver_playground_requests_queued"} {
		if got := metricValue(t, reg, g, nil); got != 0 {
			t.Errorf("%s = %v after every run ended, want 0", g, got)
		}
	}
}
