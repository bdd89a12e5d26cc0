package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// watchEvent is one message of the watch WebSocket.
type watchEvent struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// watcher reads a watch WebSocket in its own goroutine (gorilla read
// deadlines break a connection, so waiting with a timeout needs a
// channel).
type watcher struct {
	conn   *websocket.Conn
	events chan watchEvent // closed when reading ends
	err    chan error      // the read error that ended reading
}

func newWatcher(t *testing.T, conn *websocket.Conn) *watcher {
	w := &watcher{conn: conn, events: make(chan watchEvent, 1024), err: make(chan error, 1)}
	go func() {
		defer close(w.events)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				w.err <- err
				return
			}
			var ev watchEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				w.err <- fmt.Errorf("decode watch event %q: %w", data, err)
				return
			}
			w.events <- ev
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return w
}

// sync writes probe files until the watcher reports one: after it, the
// server's subscription is in place (the API has no "subscribed" message,
// so a change made right after the handshake could be missed).
func (w *watcher) sync(t *testing.T, s *instance, token, ws string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		s.putFile(t, token, ws, fmt.Sprintf("sync-%d.txt", i), "probe")
		select {
		case ev, ok := <-w.events:
			if !ok {
				t.Fatalf("watch ended while syncing: %v", <-w.err)
			}
			if strings.HasPrefix(ev.Path, "sync-") {
				return
			}
		case <-time.After(250 * time.Millisecond):
		}
	}
	t.Fatal("watch reported no change within 10s")
}

// waitFor returns the first event for path, failing after timeout.
func (w *watcher) waitFor(t *testing.T, path string, timeout time.Duration) watchEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				t.Fatalf("watch ended before an event for %s: %v", path, <-w.err)
			}
			if ev.Path == path {
				return ev
			}
		case <-deadline:
			t.Fatalf("no watch event for %s within %v", path, timeout)
		}
	}
}

// dialWS opens a WebSocket to path on s with the given headers.
func (s *instance) dialWS(path string, header http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial("ws://"+s.Host+path, header)
	if err != nil && resp != nil && resp.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		err = fmt.Errorf("%w: %s: %s", err, resp.Status, bytes.TrimSpace(body))
	}
	return conn, resp, err
}

// wantHandshakeStatus fails unless dialing path with header is refused
// with status.
func wantHandshakeStatus(t *testing.T, s *instance, what, path string, header http.Header, status int) {
	t.Helper()
	conn, resp, err := s.dialWS(path, header)
	if err == nil {
		conn.Close()
		t.Errorf("%s: handshake succeeded, want %d", what, status)
		return
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Errorf("%s: %v, want a refused handshake with %d", what, err, status)
		return
	}
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d", what, resp.StatusCode, status)
	}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// ticket asks for a WebSocket ticket for path.
func (s *instance) ticket(t *testing.T, token, path string) string {
	t.Helper()
	var out struct {
		Ticket    string    `json:"ticket"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	s.call(t, request{Method: "POST", Path: "/api/v1/tickets", Token: token, Body: map[string]string{"path": path}}, http.StatusCreated, &out)
	if out.Ticket == "" {
		t.Fatal("empty ticket")
	}
	if d := time.Until(out.ExpiresAt); d <= 0 || d > 61*time.Second {
		t.Errorf("ticket expires in %v, want within 60s", d)
	}
	return out.Ticket
}

// TestWatch: file changes made over HTTP reach the watch WebSocket, opened
// with a bearer header or with a single-use ticket and the server's own
// Origin; other origins and reused tickets are refused.
func TestWatch(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "watched"}).ID
	path := "/api/v1/workspaces/" + ws + "/watch"
	own := http.Header{"Origin": {"http://" + s.Host}}

	t.Run("bearer without Origin", func(t *testing.T) {
		conn, _, err := s.dialWS(path, bearer(s.Token))
		if err != nil {
			t.Fatalf("dial watch: %v", err)
		}
		w := newWatcher(t, conn)
		w.sync(t, s, s.Token, ws)
		s.putFile(t, s.Token, ws, "created-by-put.go", "package main\n")
		if ev := w.waitFor(t, "created-by-put.go", 5*time.Second); ev.Type != "created" {
			t.Errorf("event = %+v, want type created", ev)
		}
		s.call(t, request{Method: "DELETE", Path: filesPath(ws, "created-by-put.go"), Token: s.Token}, http.StatusNoContent, nil)
		if ev := w.waitFor(t, "created-by-put.go", 5*time.Second); ev.Type != "deleted" {
			t.Errorf("event = %+v, want type deleted", ev)
		}
	})

	t.Run("ticket works once", func(t *testing.T) {
		tk := s.ticket(t, s.Token, path)
		conn, _, err := s.dialWS(path+"?ticket="+tk, own)
		if err != nil {
			t.Fatalf("dial with ticket: %v", err)
		}
		w := newWatcher(t, conn)
		w.sync(t, s, s.Token, ws)
		s.putFile(t, s.Token, ws, "by-ticket.txt", "x")
		if ev := w.waitFor(t, "by-ticket.txt", 5*time.Second); ev.Type != "created" {
			t.Errorf("event = %+v, want type created", ev)
		}
		wantHandshakeStatus(t, s, "reused ticket", path+"?ticket="+tk, own, http.StatusUnauthorized)
	})

	t.Run("refusals", func(t *testing.T) {
		other := s.createToken(t, "globex", "bob").Token
		otherWS := s.createWorkspace(t, other, map[string]any{"name": "other"}).ID
		for _, tc := range []struct {
			name   string
			path   string
			header func() http.Header
			status int
		}{
			{"cross-site Origin with ticket", path, func() http.Header {
				return http.Header{"Origin": {"http://evil.example"}}
			}, http.StatusForbidden},
			{"cross-site Origin with bearer", path, func() http.Header {
				h := bearer(s.Token)
				h.Set("Origin", "http://evil.example")
				return h
			}, http.StatusForbidden},
			{"same host other port", path, func() http.Header {
				return http.Header{"Origin": {"http://127.0.0.1:1"}}
			}, http.StatusForbidden},
			{"no credential", path, func() http.Header { return own.Clone() }, http.StatusUnauthorized},
			{"another tenant's workspace", "/api/v1/workspaces/" + otherWS + "/watch", func() http.Header { return bearer(s.Token) }, http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := tc.path
				if strings.Contains(tc.name, "ticket") {
					p += "?ticket=" + s.ticket(t, s.Token, path)
				}
				wantHandshakeStatus(t, s, tc.name, p, tc.header(), tc.status)
			})
		}
		// A ticket is bound to the path it was issued for.
		tk := s.ticket(t, s.Token, "/api/v1/workspaces/"+ws+"/lsp")
		wantHandshakeStatus(t, s, "ticket for another path", path+"?ticket="+tk, own, http.StatusUnauthorized)
	})
}
