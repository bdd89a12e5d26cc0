package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Conn is one client's message stream, e.g. a WebSocket. Attach is its
// only reader and its only writer while it runs.
type Conn interface {
	// ReadMessage blocks for the next client message; binary reports a
	// binary (raw input) message, otherwise data is a JSON control message.
	ReadMessage() (binary bool, data []byte, err error)
	// WriteMessage sends one message; it should fail rather than block
	// for long (a write timeout), since a stalled client holds only its
	// own attachment.
	WriteMessage(binary bool, data []byte) error
	// CloseRead makes a pending and every later ReadMessage return an
	// error. Attach calls it before returning; the caller still owns the
	// connection and closes it after Attach returns.
	CloseRead() error
}

// msgOverhead is what each client message costs on top of its length in
// the input rate limit, so floods of tiny messages are limited too.
const msgOverhead = 64

// writeChunk is the most output one message carries.
const writeChunk = 64 << 10

// Control messages.
var (
	overrunMsg = []byte(`{"type":"overrun"}`)
)

type controlMsg struct {
	Type string `json:"type"`
	Cols *int   `json:"cols,omitempty"`
	Rows *int   `json:"rows,omitempty"`
}

type exitMsg struct {
	Type string `json:"type"`
	Code int    `json:"code"`
}

type errorMsg struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// attachment is one attached client's cursor and wake-up channel.
type attachment struct {
	cursor  int64         // next ring offset to send; guarded by Session.mu
	wake    chan struct{} // cap 1: output or exit may be pending
	replies chan []byte   // control replies from the input side, cap 4
}

// Attach serves conn until the terminal's exit has been delivered (then it
// returns nil), ctx ends, the client's stream fails or closes, or the
// client sends a message larger than Options.MaxInput (ErrInputTooLarge).
// It first replays the scrollback, then streams live output; the replay and
// the subscription happen under one lock, so nothing is missed or
// repeated. A client more than a scrollback behind is sent
// {"type":"overrun"} and resumes at the oldest retained byte. Input is
// written to the PTY as is; control messages resize. Attach blocks; any
// number of clients may be attached at once. It returns ErrNotFound when
// the terminal is gone.
func (s *Session) Attach(ctx context.Context, conn Conn) error {
	a := &attachment{wake: make(chan struct{}, 1), replies: make(chan []byte, 4)}
	s.mu.Lock()
	if s.m.sessionGone(s) {
		s.mu.Unlock()
		return ErrNotFound
	}
	a.cursor = s.ring.start()
	s.subs[a] = struct{}{}
	s.disarmIdleLocked()
	s.mu.Unlock()
	s.m.met.clients.Inc()
	defer func() {
		s.mu.Lock()
		delete(s.subs, a)
		if !s.m.sessionGone(s) {
			s.armIdleLocked()
		}
		s.mu.Unlock()
		s.m.met.clients.Dec()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	go func() { readErr <- s.readClient(ctx, conn, a) }()
	readerDone, err := s.writeClient(ctx, conn, a, readErr)
	if !readerDone {
		cancel()
		_ = conn.CloseRead()
		<-readErr
	}
	return err
}

// writeClient is the attachment's writer: it sends output from its cursor,
// overruns, replies and finally the exit message. readerDone reports that
// err came from the reader, which has then ended.
func (s *Session) writeClient(ctx context.Context, conn Conn, a *attachment, readErr <-chan error) (readerDone bool, err error) {
	for {
		select {
		case r := <-a.replies:
			if err := conn.WriteMessage(false, r); err != nil {
				return false, err
			}
		default:
		}
		s.mu.Lock()
		overrun := false
		if start := s.ring.start(); a.cursor < start {
			a.cursor, overrun = start, true
		}
		var chunk *[]byte
		n := 0
		if s.ring.end > a.cursor {
			chunk = s.m.chunks.Get().(*[]byte)
			n = s.ring.read(a.cursor, *chunk)
			a.cursor += int64(n)
		}
		exited, code, caughtUp := s.exited, s.code, a.cursor == s.ring.end
		s.mu.Unlock()

		if overrun {
			s.m.met.overruns.Inc()
			if err := conn.WriteMessage(false, overrunMsg); err != nil {
				if chunk != nil {
					s.m.chunks.Put(chunk)
				}
				return false, err
			}
		}
		if n > 0 {
			err := conn.WriteMessage(true, (*chunk)[:n])
			s.m.chunks.Put(chunk)
			if err != nil {
				return false, err
			}
			continue
		}
		if exited && caughtUp {
			b, _ := json.Marshal(exitMsg{Type: "exit", Code: code})
			if err := conn.WriteMessage(false, b); err != nil {
				return false, err
			}
			// The output was delivered: the terminal leaves the list.
			s.m.remove(s)
			return false, nil
		}
		select {
		case <-a.wake:
		case r := <-a.replies:
			if err := conn.WriteMessage(false, r); err != nil {
				return false, err
			}
		case <-ctx.Done():
			return false, ctx.Err()
		case err := <-readErr:
			return true, err
		}
	}
}

// readClient is the attachment's reader: input to the PTY, control
// messages handled, at most InputRate bytes per second.
func (s *Session) readClient(ctx context.Context, conn Conn, a *attachment) error {
	tb := newBucket(s.m.opts.InputRate, s.m.opts.InputBurst)
	for {
		binary, data, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		if len(data) > s.m.opts.MaxInput {
			return ErrInputTooLarge
		}
		if err := tb.take(ctx, len(data)+msgOverhead); err != nil {
			return err
		}
		if binary {
			if len(data) > 0 {
				s.input(data)
			}
			continue
		}
		if msg := s.control(data); msg != "" {
			b, _ := json.Marshal(errorMsg{Type: "error", Message: msg})
			select {
			case a.replies <- b: // waits while the writer is busy: backpressure
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// control handles one control message and returns a reply for the client
// when it was refused ("" when it was applied).
func (s *Session) control(data []byte) string {
	var c controlMsg
	if err := json.Unmarshal(data, &c); err != nil {
		return "Control messages are JSON objects such as {\"type\":\"resize\",\"cols\":80,\"rows\":24}."
	}
	switch c.Type {
	case "resize":
		if c.Cols == nil || c.Rows == nil {
			return "A resize needs cols and rows."
		}
		if err := s.Resize(*c.Cols, *c.Rows); err != nil {
			if errors.Is(err, ErrInvalidSize) {
				return "The size must be between 1x1 and 1000x1000 (cols x rows)."
			}
			s.log.Debug("terminal: resize", "err", err)
			return "The terminal could not be resized."
		}
		return ""
	default:
		return "Unknown control message type; the only one is \"resize\"."
	}
}

// bucket is a token bucket; take waits for tokens.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(rate, burst int) *bucket {
	return &bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// take removes n tokens, waiting until they are there or ctx ends.
func (b *bucket) take(ctx context.Context, n int) error {
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return nil
	}
	wait := time.Duration(-b.tokens / b.rate * float64(time.Second))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
