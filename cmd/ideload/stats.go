package main

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// time runs f and records how long it took when it succeeded.
func (l *latencies) time(f func() error) error {
	start := time.Now()
	err := f()
	if err == nil {
		l.add(time.Since(start))
	}
	return err
}

// stats summarises latencies in milliseconds.
type stats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func (l *latencies) stats() stats {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	if len(d) == 0 {
		return stats{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return stats{
		Count: len(d),
		P50:   ms(percentile(d, 50)),
		P99:   ms(percentile(d, 99)),
		Max:   ms(d[len(d)-1]),
		Mean:  ms(sum / time.Duration(len(d))),
	}
}

// percentile is the nearest-rank percentile p of the sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// maxErrors caps the distinct error messages a summary lists.
const maxErrors = 50

// failures collects error messages from many goroutines, counting
// repeats of one message instead of listing them again.
type failures struct {
	mu     sync.Mutex
	order  []string
	counts map[string]int
	phases map[string]int // errors per phase
}

// add records "phase: what: err".
func (f *failures) add(phase, what string, err error) {
	msg := fmt.Sprintf("%s: %s: %v", phase, what, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts, f.phases = make(map[string]int), make(map[string]int)
	}
	f.phases[phase]++
	if f.counts[msg] == 0 {
		f.order = append(f.order, msg)
	}
	f.counts[msg]++
}

// total is the number of errors recorded.
func (f *failures) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.phases {
		n += c
	}
	return n
}

// of is the number of errors recorded for phase.
func (f *failures) of(phase string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.phases[phase]
}

// list returns the messages in the order first seen, a repeated one with
// its count, at most maxErrors of them and then how many more there were.
func (f *failures) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for i, msg := range f.order {
		if i == maxErrors {
			out = append(out, fmt.Sprintf("… and %d more distinct errors", len(f.order)-maxErrors))
			break
		}
		if n := f.counts[msg]; n > 1 {
			msg = fmt.Sprintf("%s (×%d)", msg, n)
		}
		out = append(out, msg)
	}
	return out
}
