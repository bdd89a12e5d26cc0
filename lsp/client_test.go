package lsp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/lsp"
)

// pipeStream is the server side of an in-memory client connection: what
// the test sends arrives at ReadText; WriteText delivers to the test.
type pipeStream struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once

	mu     sync.Mutex
	code   int
	reason string
}

func newPipe() *pipeStream {
	return &pipeStream{in: make(chan []byte, 64), out: make(chan []byte, 4096), closed: make(chan struct{})}
}

func (p *pipeStream) ReadText() ([]byte, error) {
	select {
	case b := <-p.in:
		return b, nil
	case <-p.closed:
		return nil, io.EOF
	}
}

func (p *pipeStream) WriteText(b []byte) error {
	b = append([]byte(nil), b...)
	select {
	case p.out <- b:
		return nil
	case <-p.closed:
		return io.ErrClosedPipe
	}
}

// Stop closes with the code bridge.CloseCode gives cause, as a
// bridge.Conn does.
func (p *pipeStream) Stop(cause error) { p.CloseWith(bridge.CloseCode(cause)) }

func (p *pipeStream) Close() error { p.CloseWith(1000, ""); return nil }

func (p *pipeStream) CloseWith(code int, reason string) {
	p.once.Do(func() {
		p.mu.Lock()
		p.code, p.reason = code, reason
		p.mu.Unlock()
		close(p.closed)
	})
}

func (p *pipeStream) closeCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// client drives a session from the test's side.
type client struct {
	t      testing.TB
	p      *pipeStream
	nextID int
	seen   []map[string]any // every message received, in order
	bytes  [][]byte         // the bytes of each message in seen
	raw    strings.Builder  // every byte received
	done   chan error
}

// startSession runs m.Serve (ServeClient) in the background with a new
// client.
func startSession(t testing.TB, m *lsp.Manager, w lsp.Target) *client {
	t.Helper()
	c := &client{t: t, p: newPipe(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { c.done <- m.ServeClient(ctx, w, c.p) }()
	t.Cleanup(func() {
		cancel()
		c.p.CloseWith(1000, "")
		select {
		case <-c.done:
		case <-time.After(waitShort):
			t.Error("Serve did not return")
		}
	})
	return c
}

// awaitEnd waits for Serve to return a CloseError with code (what
// prefixes the failure) and puts the error back for the cleanup.
func (c *client) awaitEnd(what string, code int) {
	c.t.Helper()
	select {
	case err := <-c.done:
		var ce *bridge.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			c.t.Errorf("%sServe = %v, want CloseError %d", what, err, code)
		}
		c.done <- err
	case <-time.After(waitShort):
		c.t.Fatalf("%ssession did not end", what)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	select {
	case c.p.in <- b:
	case <-c.p.closed:
	case <-time.After(waitShort):
		c.t.Fatal("send blocked")
	}
}

func (c *client) notify(method string, params any) {
	c.send(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
}

// request sends a request and returns its id.
func (c *client) request(method string, params any) int {
	c.nextID++
	c.send(map[string]any{"jsonrpc": "2.0", "id": c.nextID, "method": method, "params": params})
	return c.nextID
}

// next returns the next message from the server.
func (c *client) next(timeout time.Duration) (map[string]any, error) {
	select {
	case b := <-c.p.out:
		c.raw.Write(b)
		c.raw.WriteByte('\n')
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		c.seen = append(c.seen, m)
		c.bytes = append(c.bytes, b)
		return m, nil
	case <-time.After(timeout):
		return nil, errors.New("timeout")
	case <-c.p.closed:
		select {
		case b := <-c.p.out:
			c.p.out <- b
			return c.next(timeout)
		default:
		}
		return nil, errors.New("closed")
	}
}

// await returns the first message (from now on) for which match is true.
func (c *client) await(what string, timeout time.Duration, match func(m map[string]any) bool) map[string]any {
	c.t.Helper()
	return c.awaitFrom(len(c.seen), what, timeout, match)
}

// awaitFrom is await that also looks at messages received since mark (an
// earlier len(c.seen)).
func (c *client) awaitFrom(mark int, what string, timeout time.Duration, match func(m map[string]any) bool) map[string]any {
	c.t.Helper()
	for _, m := range c.seen[mark:] {
		if match(m) {
			return m
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		m, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(m) {
			return m
		}
	}
}

func (c *client) response(id int, timeout time.Duration) map[string]any {
	c.t.Helper()
	return c.await(fmt.Sprintf("response %d", id), timeout, func(m map[string]any) bool {
		n, ok := m["id"].(float64)
		return ok && int(n) == id && m["method"] == nil
	})
}

func (c *client) call(method string, params any, timeout time.Duration) map[string]any {
	c.t.Helper()
	return c.response(c.request(method, params), timeout)
}

func isMethod(name string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["method"] == name }
}

func errCode(m map[string]any) int {
	e, _ := m["error"].(map[string]any)
	n, _ := e["code"].(float64)
	return int(n)
}

func initParams() map[string]any {
	return map[string]any{
		"processId":        1234,
		"rootUri":          "file:///",
		"capabilities":     map[string]any{"textDocument": map[string]any{"hover": map[string]any{"contentFormat": []any{"markdown"}}}},
		"workspaceFolders": []any{map[string]any{"uri": "file:///etc", "name": "evil"}},
		"initializationOptions": map[string]any{
			"buildFlags": []any{"-toolexec=/bin/sh", "-tags=x"},
			"env":        map[string]any{"CC": "/bin/evil", "GOFLAGS": "-toolexec=x"},
		},
	}
}

// initialize runs the handshake and returns the initialize response.
func (c *client) initialize(timeout time.Duration) map[string]any {
	c.t.Helper()
	resp := c.call("initialize", initParams(), timeout)
	c.notify("initialized", map[string]any{})
	return resp
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
