package sandbox

import (
	"bytes"
	"strings"
	"sync"
)

// Output keeps the first Max bytes a process writes to it and drops the
// rest (a write never fails, so the process never blocks or dies on a
// full pipe), for callers that show a command's output in an error or
// parse a bounded answer. One Output may be a process's Stdout and
// Stderr at once.
type Output struct {
	Max int // bytes kept; 0 keeps nothing

	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps what fits under Max and reports all of p written.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := o.Max - o.buf.Len(); room > 0 {
		o.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Bytes returns a copy of what was kept.
func (o *Output) Bytes() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.buf.Bytes())
}

// String returns what was kept.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// LastLines returns the last n lines of s without its surrounding white
// space: the part of a failing command's output an error message shows.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
