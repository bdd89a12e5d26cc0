package e2e_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLimits (AV-02): oversized headers get 431, bodies over the
// configured limits get 413, an oversized WebSocket message closes with
// 1009, and a client stalled mid-request does not hold up others. (The
// stalled client itself is cut by ReadHeaderTimeout, 10s: too slow to wait
// for here.)
func TestLimits(t *testing.T) {
	t.Parallel()
	const maxFile = 64 << 10
	s := startServerWith(t, serverConfig{Env: []string{
		"IDESERVER_LIMITS_MAX_FILE_SIZE=64KiB",
		"IDESERVER_LIMITS_MAX_WS_MESSAGE=1KiB",
	}})
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "limits"}).ID

	t.Run("stalled request line does not block others", func(t *testing.T) {
		c, err := net.Dial("tcp", s.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET /heal")); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			s.call(t, request{Method: "GET", Path: "/healthz"}, http.StatusOK, nil)
		}
	})

	t.Run("100 KiB of headers is 431", func(t *testing.T) {
		var req bytes.Buffer
		fmt.Fprintf(&req, "GET /api/v1/me HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", s.Host, s.Token)
		for i := range 100 {
			fmt.Fprintf(&req, "X-Pad-%d: %s\r\n", i, strings.Repeat("a", 1024))
		}
		req.WriteString("\r\n")
		resp := rawRequest(t, s.Host, req.Bytes())
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})

	t.Run("file at the limit is accepted", func(t *testing.T) {
		s.putFile(t, s.Token, ws, "at-limit.bin", strings.Repeat("x", maxFile))
	})

	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   []byte
	}{
		{"file one byte over", "PUT", filesPath(ws, "over.bin"), bytes.Repeat([]byte("x"), maxFile+1)},
		{"file of 4 MiB", "PUT", filesPath(ws, "huge.bin"), bytes.Repeat([]byte("x"), 4<<20)},
		{"workspace files over the limit", "POST", "/api/v1/workspaces",
			[]byte(`{"name":"big","files":{"big.txt":"` + strings.Repeat("x", 2*maxFile) + `"}}`)},
		{"JSON body over max_request_body", "POST", "/api/v1/tickets",
			[]byte(`{"path":"/api/v1/` + strings.Repeat("x", 2<<20) + `"}`)},
		{"UI state over max_state_size", "PUT", "/api/v1/workspaces/" + ws + "/state",
			[]byte(`"` + strings.Repeat("x", 2<<20) + `"`)},
	} {
		t.Run(tc.name+" is 413", func(t *testing.T) {
			resp := s.do(t, request{Method: tc.method, Path: tc.path, Token: s.Token, Body: tc.body,
				Header: map[string]string{"Content-Type": "application/json"}})
			wantError(t, tc.name, resp, http.StatusRequestEntityTooLarge, "too_large")
		})
	}
	if names := listNames(t, s, s.Token, ws, ""); strings.Join(names, ",") != "at-limit.bin" {
		t.Errorf("workspace root after refused writes = %v, want only at-limit.bin", names)
	}
	if n := len(s.listWorkspaces(t, s.Token)); n != 1 {
		t.Errorf("%d workspaces, want 1 (the oversized create must not make one)", n)
	}

	t.Run("WebSocket message over max_ws_message closes with 1009", func(t *testing.T) {
		conn, _, err := s.dialWS("/api/v1/workspaces/"+ws+"/watch", bearer(s.Token))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		w := newWatcher(t, conn)
		if err := conn.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 4<<10)); err != nil {
			t.Fatalf("write: %v", err)
		}
		for range w.events {
		}
		select {
		case err := <-w.err:
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Errorf("watch ended with %v, want close 1009", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("connection not closed 5s after an oversized message")
		}
	})
}

// rawRequest writes req on a new TCP connection while reading the answer
// (the server may answer before it has read everything).
func rawRequest(t *testing.T, host string, req []byte) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = c.Write(req) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp
}

// TestOperations: health, readiness and metrics answer without a
// credential; unknown paths and foreign Host headers are refused; pages
// carry the frame-ancestors CSP.
func TestOperations(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, tc := range []struct {
		path string
		want string // in the body
	}{
		{"/healthz", `"ok"`},
		{"/readyz", `"ready"`},
		{"/metrics", "ideserver_http_requests_total"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp := s.call(t, request{Method: "GET", Path: tc.path}, http.StatusOK, nil)
			if !strings.Contains(string(resp.Body), tc.want) {
				t.Errorf("body %.300s..., want it to contain %s", resp.Body, tc.want)
			}
		})
	}
	resp := s.call(t, request{Method: "GET", Path: "/metrics"}, http.StatusOK, nil)
	if !strings.Contains(string(resp.Body), "go_goroutines") {
		t.Error("/metrics has no Go runtime metrics")
	}

	wantError(t, "unknown path", s.do(t, request{Method: "GET", Path: "/no/such/route", Token: s.Token}), http.StatusNotFound, "not_found")
	wantError(t, "API without credential", s.do(t, request{Method: "GET", Path: "/api/v1/workspaces"}), http.StatusUnauthorized, "unauthorized")
	wantError(t, "dot segments", s.do(t, request{Method: "GET", Path: "/api/v1/./workspaces", Token: s.Token}), http.StatusBadRequest, "invalid_path")
	wantError(t, "pprof for non-admin", s.do(t, request{Method: "GET", Path: "/debug/pprof/", Token: s.createToken(t, "acme", "a").Token}), http.StatusForbidden, "admin_required")
	s.call(t, request{Method: "GET", Path: "/debug/pprof/cmdline", Token: s.Token}, http.StatusOK, nil)

	t.Run("foreign Host", func(t *testing.T) {
		r, err := http.NewRequest("GET", s.URL+"/api/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Host = "evil.example"
		r.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("Host evil.example: status %d, want 403", resp.StatusCode)
		}
		r.URL.Path = "/healthz" // probes answer whatever the Host
		resp, err = http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz with Host evil.example: status %d, want 200", resp.StatusCode)
		}
	})

	t.Run("index page", func(t *testing.T) {
		resp := s.call(t, request{Method: "GET", Path: "/"}, http.StatusOK, nil)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self'") {
			t.Errorf("CSP = %q, want frame-ancestors 'self'", csp)
		}
	})
}
