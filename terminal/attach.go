package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"

	"golang.org/x/time/rate"

	"github.com/ideserver/ideserver/internal/bridge"
)

// msgOverhead is what each client message costs on top of its length in
// the input rate limit, so floods of tiny messages are limited too.
const msgOverhead = 64

// writeChunk is about the most output one message carries: a message
// ends once it holds writeChunk-64 bytes or more (with the server's 64 KiB
// write buffer, one frame).
const writeChunk = 64 << 10

// keepInput is the largest input buffer an attachment keeps between
// messages; a larger one (a paste) is dropped after use.
const keepInput = 4 << 10

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
	t       *Terminal
	pty     *os.File      // the terminal's PTY master, for input
	cursor  int64         // next ring offset to send; guarded by Terminal.mu
	wake    chan struct{} // cap 1: output or exit may be pending
	replies chan []byte   // control replies from the input side, cap 4
	sent    int           // bytes of the message being written (writer only)
}

// Read is the writer's view of the ring, for bridge.Conn.WriteFrom: it
// copies output from the cursor straight into the WebSocket's write buffer
// and advances the cursor, under Terminal.mu, and ends the message
// (io.EOF) when the attachment has caught up or the message is full. It
// also ends it, with what it holds, when the client fell a ring behind
// (the writer then sends the overrun notice).
func (a *attachment) Read(p []byte) (int, error) {
	t := a.t
	t.mu.Lock()
	n := 0
	if a.cursor >= t.ring.start() {
		n = t.ring.read(a.cursor, p)
		a.cursor += int64(n)
	}
	caughtUp := a.cursor >= t.ring.end
	t.mu.Unlock()
	a.sent += n
	if caughtUp || n == 0 || a.sent >= writeChunk-64 {
		return n, io.EOF
	}
	return n, nil
}

// Results of Attach that say how the WebSocket closes when the terminal is
// done with the client.
var (
	// errExited: the exit message was delivered.
	errExited = bridge.Closing(bridge.CloseNormal, "terminal exited", nil)
	// errEnded: the terminal was gone when the client attached.
	errEnded = bridge.Closing(bridge.CloseNormal, "terminal ended", ErrNotFound)
	// errTooBig: the client sent a message larger than Options.MaxInput.
	errTooBig = bridge.Closing(bridge.CloseTooBig, "input message too big", ErrInputTooLarge)
)

// Attach serves conn until the terminal's exit has been delivered, ctx
// ends, the client's stream fails or closes, or the client sends a
// message larger than Options.MaxInput. It first replays the scrollback,
// then streams live output; the replay and the subscription happen under
// one lock, so nothing is missed or repeated. A client more than a
// scrollback behind is sent {"type":"overrun"} and resumes at the oldest
// retained byte. Input is written to the PTY as is; control messages
// resize. Attach blocks; any number of clients may be attached at once.
//
// Attach is conn's only reader while it runs; the caller closes conn
// afterwards with bridge.CloseCode of the result, which says how: a
// bridge.CloseError with 1000 "terminal exited" after the exit message,
// 1000 "terminal ended" (wrapping ErrNotFound) when the terminal was gone
// already, 1009 "input message too big" (wrapping ErrInputTooLarge), or
// the stream's or ctx's error.
func (t *Terminal) Attach(ctx context.Context, conn *bridge.Conn) error {
	a := &attachment{t: t, wake: make(chan struct{}, 1), replies: make(chan []byte, 4)}
	t.mu.Lock()
	if t.gone || t.proc == nil {
		t.mu.Unlock()
		return errEnded
	}
	a.pty = t.pty
	a.cursor = t.ring.start()
	t.subs = append(t.subs, a)
	t.disarmIdleLocked()
	t.mu.Unlock()
	t.m.met.clients.Inc()
	defer func() {
		t.mu.Lock()
		if i := slices.Index(t.subs, a); i >= 0 {
			t.subs = slices.Delete(t.subs, i, i+1)
		}
		t.armIdleLocked()
		t.mu.Unlock()
		t.m.met.clients.Dec()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	go func() { readErr <- t.readClient(ctx, conn, a) }()
	readerDone, err := t.writeClient(ctx, conn, a, readErr)
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
func (t *Terminal) writeClient(ctx context.Context, conn *bridge.Conn, a *attachment, readErr <-chan error) (readerDone bool, err error) {
	for {
		select {
		case r := <-a.replies:
			if err := conn.Write(false, r); err != nil {
				return false, err
			}
		default:
		}
		t.mu.Lock()
		overrun := false
		if start := t.ring.start(); a.cursor < start {
			a.cursor, overrun = start, true
		}
		pending := t.ring.end > a.cursor
		exited, code := t.exited, t.code
		t.mu.Unlock()

		if overrun {
			t.m.met.overruns.Inc()
			if err := conn.Write(false, overrunMsg); err != nil {
				return false, err
			}
		}
		if pending {
			// One message of what is pending, copied from the ring into
			// the WebSocket's buffer: a lone echo goes out at once, and
			// output that piled up while the client was being written to
			// goes out together.
			a.sent = 0
			if err := conn.WriteFrom(true, a); err != nil {
				return false, err
			}
			continue
		}
		if exited { // and caught up

			b, _ := json.Marshal(exitMsg{Type: "exit", Code: code})
			if err := conn.Write(false, b); err != nil {
				return false, err
			}
			// The output was delivered: the terminal leaves the list.
			t.leave()
			return false, errExited
		}
		select {
		case <-a.wake:
		case r := <-a.replies:
			if err := conn.Write(false, r); err != nil {
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
// messages handled, at most InputRate bytes per second (a faster client
// is paused: its messages are read later).
func (t *Terminal) readClient(ctx context.Context, conn *bridge.Conn, a *attachment) error {
	lim := rate.NewLimiter(rate.Limit(t.m.opts.InputRate), t.m.opts.InputBurst)
	var buf []byte
	for {
		if cap(buf) > keepInput {
			buf = nil
		}
		binary, data, err := conn.ReadInto(buf)
		if err != nil {
			return err
		}
		buf = data
		if len(data) > t.m.opts.MaxInput {
			return errTooBig
		}
		if err := waitN(ctx, lim, len(data)+msgOverhead); err != nil {
			return err
		}
		if binary {
			if len(data) > 0 {
				t.input(a.pty, data)
			}
			continue
		}
		if msg := t.control(data); msg != "" {
			b, _ := json.Marshal(errorMsg{Type: "error", Message: msg})
			select {
			case a.replies <- b: // waits while the writer is busy: backpressure
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// waitN takes n tokens from lim, waiting until they are there or ctx ends.
// More than the burst is taken a burst at a time, so a large message
// waits as long as its size asks instead of failing.
func waitN(ctx context.Context, lim *rate.Limiter, n int) error {
	for n > 0 {
		k := min(n, lim.Burst())
		if err := lim.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// control handles one control message and returns a reply for the client
// when it was refused ("" when it was applied).
func (t *Terminal) control(data []byte) string {
	var c controlMsg
	if err := json.Unmarshal(data, &c); err != nil {
		return "Control messages are JSON objects such as {\"type\":\"resize\",\"cols\":80,\"rows\":24}."
	}
	switch c.Type {
	case "resize":
		if c.Cols == nil || c.Rows == nil {
			return "A resize needs cols and rows."
		}
		if err := t.Resize(*c.Cols, *c.Rows); err != nil {
			if errors.Is(err, ErrInvalidSize) {
				return "The size must be between 1x1 and 1000x1000 (cols x rows)."
			}
			t.log.Debug("terminal: resize", "err", err)
			return "The terminal could not be resized."
		}
		return ""
	default:
		return "Unknown control message type; the only one is \"resize\"."
	}
}
