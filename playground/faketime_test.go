package playground_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
)

// sleepy prints the time, then a tick after each of three 10-second
// sleeps, then a line on stderr.
const sleepy = `package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Println(time.Now().UTC())
	for i := range 3 {
		time.Sleep(10 * time.Second)
		fmt.Println("tick", i)
	}
	fmt.Fprintln(os.Stderr, "done")
}
`

// TestCompileFakeTime: /compile runs programs on fake time, as the Go
// Playground does: the clock starts at 2009-11-10 23:00:00 UTC, sleeps
// return at once (30 s of them finish within a 5 s run limit), and the
// events carry the delays, in the order the program wrote them.
func TestCompileFakeTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) { o.RunTimeout = 5 * time.Second })
	res, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: sleepy})
	if err != nil {
		t.Fatal(err)
	}
	want := []playground.Event{
		{Message: "2009-11-10 23:00:00 +0000 UTC\n", Kind: "stdout"},
		{Message: "tick 0\n", Kind: "stdout", Delay: 10 * time.Second},
		{Message: "tick 1\n", Kind: "stdout", Delay: 10 * time.Second},
		{Message: "tick 2\n", Kind: "stdout", Delay: 10 * time.Second},
		{Message: "done\n", Kind: "stderr"},
	}
	if res.Errors != "" || res.Status != 0 || len(res.Events) != len(want) {
		t.Fatalf("Compile = errors %q, status %d, events %+v", res.Errors, res.Status, res.Events)
	}
	for i, w := range want {
		got := res.Events[i]
		// The runtime moves the clock on by a nanosecond when a write
		// goes to the other stream.
		if got.Message != w.Message || got.Kind != w.Kind || got.Delay < w.Delay || got.Delay > w.Delay+time.Microsecond {
			t.Errorf("event %d = %+v, want %+v", i, got, w)
		}
	}
}

// TestStreamFakeAndRealTime: the streaming API runs on fake time by
// default, each output message with its delay; with RealTime the program
// sleeps for real and messages carry no delay.
func TestStreamFakeAndRealTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	run := func(m playground.Message) []playground.Message {
		t.Helper()
		in := make(chan playground.Message, 1)
		in <- m
		var (
			mu  sync.Mutex
			out []playground.Message
		)
		ended := make(chan struct{})
		recv := func() (playground.Message, error) {
			select {
			case m := <-in:
				return m, nil
			case <-ended:
				return playground.Message{}, io.EOF
			}
		}
		send := func(m playground.Message) error {
			mu.Lock()
			defer mu.Unlock()
			out = append(out, m)
			if m.Kind == "end" {
				close(ended)
			}
			return nil
		}
		if err := e.svc.Stream(context.Background(), "test", recv, send); err != io.EOF {
			t.Fatalf("Stream: %v", err)
		}
		return out
	}
	fake := run(playground.Message{Id: "a", Kind: "run", Body: sleepy})
	// Each tick's time on the timeline the delays make. Its two streams
	// arrive apart: the server waits a little for the other one, but on a
	// busy machine "done" may still come before the last ticks, which
	// then show at once, a nanosecond after it.
	var at time.Duration
	var ticks []time.Duration
	for _, m := range fake {
		at += m.Delay
		if m.Kind == "stdout" && strings.HasPrefix(m.Body, "tick") {
			ticks = append(ticks, at)
		}
	}
	if end := fake[len(fake)-1]; end.Kind != "end" || end.Body != "" || len(ticks) != 3 {
		t.Fatalf("fake-time run: %+v", fake)
	}
	for i, tick := range ticks {
		if want := time.Duration(i+1) * 10 * time.Second; tick < want || tick > 30*time.Second+time.Microsecond {
			t.Errorf("fake-time ticks at %v on the delays' timeline, want 10s, 20s, 30s", ticks)
			break
		}
	}
	if ticks[2] < 30*time.Second {
		t.Errorf("the last tick at %v on the delays' timeline, want 30s", ticks[2])
	}

	real := run(playground.Message{Id: "b", Kind: "run", RealTime: true, Body: strings.ReplaceAll(sleepy, "10 * time.Second", "10 * time.Millisecond")})
	var text strings.Builder
	for _, m := range real {
		if m.Delay != 0 {
			t.Errorf("a real-time message has a delay: %+v", m)
		}
		if m.Kind == "stdout" {
			text.WriteString(m.Body)
		}
	}
	if got := text.String(); strings.HasPrefix(got, "2009-11-10") || !strings.HasSuffix(got, "tick 2\n") {
		t.Errorf("real-time run printed %q; want today's time and three ticks", got)
	}
}
