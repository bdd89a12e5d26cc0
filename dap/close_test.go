package dap_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
)

// TestStartUnavailable: when dlv cannot be had, the client is told so
// (an output event, then terminated) and the connection closes with 1013
// (try again later); Serve's error wraps ErrUnavailable and the bridge's.
func TestStartUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, "", nil, func(_ *sandbox.Runner, _ *wstest.Env, o *dap.Options) {
		o.Dlv = func(context.Context) (string, error) { return "", errors.New("dlv is being built") }
	})
	c := f.open()
	c.event("terminated")
	<-c.served
	if !errors.Is(c.err, dap.ErrUnavailable) || !errors.Is(c.err, bridge.ErrUnavailable) {
		t.Errorf("Serve = %v, want ErrUnavailable", c.err)
	}
	if code, reason := c.p.closeCode(); code != bridge.CloseTryAgainLater {
		t.Errorf("close %d %q, want 1013", code, reason)
	}
	if out := c.output("important"); !strings.Contains(out, "could not be started") {
		t.Errorf("output = %q, want the debugger's unavailability", out)
	}
	c.assertNoHostPath(f.secrets)
}

// TestStopClosesWithCause: a session stopped with its workspace closes
// its client with 1001 "workspace stopped", one stopped by Close with
// 1001 "server shutting down"; both are told terminated, their slots are
// freed, and Open fails with ErrClosed after Close.
func TestStopClosesWithCause(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, "", nil, func(_ *sandbox.Runner, _ *wstest.Env, o *dap.Options) {
		// dlv is never ready: each session waits in its start until it
		// is stopped.
		o.Dlv = func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }
		o.StartTimeout = time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	for _, tc := range []struct {
		stop   func() error
		reason string
	}{
		{func() error { return f.m.Stop(ctx, f.workspaceID) }, "workspace stopped"},
		{func() error { return f.m.Close(ctx) }, "server shutting down"},
	} {
		// As many as the workspace may have: the second round opens as
		// many again only if the first round's slots were freed.
		cs := []*client{f.open(), f.open()}
		if err := tc.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		for _, c := range cs {
			select {
			case <-c.p.closed: // before the session was done, which the stop waited for
			default:
				t.Fatal("the stop returned before the client was closed")
			}
			<-c.served
			c.event("terminated")
			if code, reason := c.p.closeCode(); code != bridge.CloseGoingAway || reason != tc.reason {
				t.Errorf("close %d %q, want 1001 %q", code, reason, tc.reason)
			}
			if !errors.Is(c.err, bridge.ErrWorkspaceStopped) && !errors.Is(c.err, bridge.ErrShuttingDown) {
				t.Errorf("Serve = %v, want the stop's cause", c.err)
			}
		}
	}
	if _, err := f.m.Open(f.h); !errors.Is(err, dap.ErrClosed) || !errors.Is(err, bridge.ErrClosed) {
		t.Errorf("Open after Close: %v, want ErrClosed", err)
	}
}

// TestServeWebSocket serves a session over a real WebSocket, as package
// server does: text frames carry DAP messages both ways, and a binary
// frame ends the session with 1003 and leaves nothing behind.
func TestServeWebSocket(t *testing.T) {
	dlv := requireDlv(t)
	f := newFixture(t, dlv, map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain})
	served := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := f.m.Open(f.h)
		if err != nil {
			served <- err
			return
		}
		defer s.Close()
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			served <- err
			return
		}
		c := bridge.NewConn(ws, 0)
		err = s.Serve(r.Context(), c)
		c.CloseWith(bridge.CloseCode(err))
		served <- err
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(waitLong))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"go","pathFormat":"path"}}`)); err != nil {
		t.Fatal(err)
	}
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("before the initialize response: %v", err)
		}
		if typ != websocket.TextMessage {
			t.Fatalf("a frame of type %d", typ)
		}
		var m msg
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m.str("type") == "response" && m.str("command") == "initialize" {
			if m.str("success") != "true" {
				t.Fatalf("initialize: %s", data)
			}
			break
		}
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != bridge.CloseUnsupportedData {
				t.Errorf("close %d %q, want 1003", ce.Code, ce.Text)
			}
			break
		}
		if err != nil {
			t.Fatalf("read: %v, want a close frame", err)
		}
	}
	if err := <-served; bridge.IsPeerClose(err) || err == nil {
		t.Errorf("Serve = %v, want the binary frame's error", err)
	}
	assertGone(t, f)
}
