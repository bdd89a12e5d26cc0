package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// helloRun is the program each playground run builds and runs.
const (
	helloRun    = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello, load\")\n}\n"
	helloOutput = "hello, load"
)

// runsReport is the runs phase's part of the summary.
type runsReport struct {
	Requested int   `json:"requested"`
	OK        int   `json:"ok"`
	Latency   stats `json:"latency"`
	Errors    int   `json:"errors"`
}

// runsPhase posts --runs hello-world programs to /compile at once.
func (l *loader) runsPhase(ctx context.Context) *runsReport {
	r := &runsReport{Requested: l.cfg.Runs}
	var lat latencies
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	l.logf("running %d programs at once", l.cfg.Runs)
	for range l.cfg.Runs {
		wg.Go(func() {
			<-start
			if err := lat.time(func() error { return l.compile(ctx) }); err != nil {
				l.fail.add(phaseRuns, "POST /compile", err)
				return
			}
			ok.Add(1)
		})
	}
	close(start)
	wg.Wait()
	l.sample(phaseRuns)
	r.OK = int(ok.Load())
	r.Latency = lat.stats()
	r.Errors = l.fail.of(phaseRuns)
	return r
}

// compile runs helloRun as the Go Playground's clients do and wants its
// output.
func (l *loader) compile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RunTimeout)
	defer cancel()
	var res struct {
		Errors string
		Status int
		Events []struct{ Message, Kind string }
	}
	form := url.Values{"version": {"2"}, "body": {helloRun}}
	if err := l.api.callCtx(ctx, "POST", "/compile", "", form, http.StatusOK, &res); err != nil {
		return err
	}
	if res.Errors != "" {
		return errors.New(strings.TrimSpace(res.Errors))
	}
	var out strings.Builder
	for _, e := range res.Events {
		if e.Kind == "stdout" {
			out.WriteString(e.Message)
		}
	}
	if res.Status != 0 || !strings.Contains(out.String(), helloOutput) {
		return fmt.Errorf("status %d, output %q", res.Status, out.String())
	}
	return nil
}
