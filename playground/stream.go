package playground

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ideserver/ideserver/sandbox"
)

// Message is one frame of the streaming run protocol, in the spirit of
// golang.org/x/tools/playground/socket. Client to server: Kind "run" with
// Body (source or txtar) and an Id the client chose, on fake time unless
// RealTime; Kind "kill" with the Id of the run to stop. Server to client:
// "stdout" and "stderr" with output as it is written (on fake time, with
// the Delay to wait before showing it, in nanoseconds), then exactly one
// "end" whose Body is "" after a successful run, "exit status N", "build
// failed" (after the build errors on stderr), "timeout running program",
// "program killed", "output limit exceeded" or a short error.
type Message struct {
	Id       string        //nolint:revive // the protocol's field name
	Kind     string        // run, kill; stdout, stderr, end
	Body     string        // the program; output; how the run ended
	RealTime bool          `json:",omitempty"` // run: on the wall clock
	Delay    time.Duration `json:",omitempty"` // stdout, stderr on fake time: since the output before
}

// Stream serves one streaming connection: it reads messages with recv
// (the only reader) until recv fails, runs programs one at a time (a new
// "run" stops the previous one), and writes output with send, which must
// be safe for concurrent use. It returns recv's error after the current run
// has ended and its processes are gone.
func (s *Service) Stream(ctx context.Context, client string, recv func() (Message, error), send func(Message) error) error {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		cancel context.CancelCauseFunc
		runID  string
	)
	stop := func(cause error) {
		mu.Lock()
		c := cancel
		mu.Unlock()
		if c != nil {
			c(cause)
		}
		wg.Wait()
	}
	defer stop(context.Canceled)
	for {
		m, err := recv()
		if err != nil {
			return err
		}
		switch m.Kind {
		case "run":
			stop(errKilled)
			rctx, c := context.WithCancelCause(ctx)
			mu.Lock()
			cancel, runID = c, m.Id
			mu.Unlock()
			wg.Add(1)
			go func(m Message) {
				defer wg.Done()
				defer c(nil)
				body := s.streamRun(rctx, client, m, send)
				_ = send(Message{Id: m.Id, Kind: "end", Body: body})
			}(m)
		case "kill":
			mu.Lock()
			same := m.Id == runID
			mu.Unlock()
			if same {
				stop(errKilled)
			}
		default:
			_ = send(Message{Id: m.Id, Kind: "end", Body: fmt.Sprintf("unknown message kind %q", m.Kind)})
		}
	}
}

// streamRun builds and runs m.Body, sending output, and returns the body
// of the "end" message.
func (s *Service) streamRun(ctx context.Context, client string, m Message, send func(Message) error) string {
	o, start := outcomeError, time.Time{}
	defer func() { s.met.observe(o, start) }()
	if err := s.checkSize(len(m.Body)); err != nil {
		o = outcomeRejected
		return "program too large"
	}
	fs, err := SplitFiles([]byte(m.Body))
	if err != nil {
		o = outcomeBuildFailed
		return err.Error()
	}
	ctx, release, err := s.admit(ctx, client)
	if err != nil {
		o = errorOutcome(err)
		return endMessage(ctx, err)
	}
	defer release()
	start = time.Now()
	p, err := s.prepare(ctx, fs, runOptions{build: true, realTime: m.RealTime})
	if err != nil {
		o = errorOutcome(context.Cause(ctx))
		return endMessage(ctx, err)
	}
	defer sandbox.RemoveAll(p.root)
	if p.buildErrs != "" {
		o = buildOutcome(p.buildErrs)
		_ = send(Message{Id: m.Id, Kind: "stderr", Body: p.buildErrs})
		return "build failed"
	}
	out := &sendSink{id: m.Id, send: send, now: FakeEpoch}
	res, err := s.execute(ctx, p, out)
	out.flush()
	if err != nil {
		o = errorOutcome(context.Cause(ctx))
		return endMessage(ctx, err)
	}
	o = res.outcome
	switch {
	case res.errors != "":
		return res.errors
	case res.status != 0:
		return fmt.Sprintf("exit status %d", res.status)
	}
	return ""
}

func endMessage(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, ErrBusy):
		return "too many runs; try again in a moment"
	case errors.Is(context.Cause(ctx), errKilled):
		return "program killed"
	case ctx.Err() != nil:
		return "canceled"
	}
	return "internal error"
}

// sendSink sends a run's output as it comes. A fake-time program's is held
// for reorderWindow and sent in the order of its fake time, each with its
// delay since the output before: its stdout and stderr arrive through two
// pipes, so one may come a little after the other. What arrives later
// still is sent with no delay. Call flush when the program has ended.
type sendSink struct {
	id   string
	send func(Message) error

	mu      sync.Mutex
	now     time.Time // the fake time sent so far
	pending []timedOutput
	timer   *time.Timer
}

// reorderWindow is how long fake-time output waits for output of the other
// stream that the program wrote before it.
const reorderWindow = 50 * time.Millisecond

func (s *sendSink) write(kind string, p []byte, at time.Time) {
	if at.IsZero() {
		_ = s.send(Message{Id: s.id, Kind: kind, Body: string(p)})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, timedOutput{kind: kind, msg: slices.Clone(p), at: at})
	if s.timer == nil {
		s.timer = time.AfterFunc(reorderWindow, s.flush)
	}
}

// flush sends the output held, in the order of its fake time.
func (s *sendSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	slices.SortStableFunc(s.pending, func(a, b timedOutput) int { return a.at.Compare(b.at) })
	for _, o := range s.pending {
		m := Message{Id: s.id, Kind: o.kind, Body: string(o.msg)}
		if o.at.After(s.now) {
			m.Delay, s.now = o.at.Sub(s.now), o.at
		}
		_ = s.send(m)
	}
	s.pending = nil
}
