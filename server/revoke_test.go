package server_test

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/server"
)

// wantPolicyClose waits for rd's socket to end and checks that the server
// closed it with 1008 and reason.
func wantPolicyClose(t *testing.T, what string, rd *wsReader, reason string) {
	t.Helper()
	err := rd.closed(t)
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != reason {
		t.Fatalf("%s: socket ended with %v, want close 1008 %q", what, err, reason)
	}
}

func asCloseError(err error, out **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	*out = ce
	return ok
}

// cookieTicket issues a WebSocket ticket for path with the login cookie
// value cookieValue.
func (h *harness) cookieTicket(cookieValue, path string) string {
	h.tb.Helper()
	body, _ := json.Marshal(map[string]string{"path": path})
	r := h.do("POST", "/api/v1/tickets", body, h.cookie(cookieValue), csrf)
	if r.Status != http.StatusCreated {
		h.tb.Fatalf("ticket for %s: %s", path, r)
	}
	return decode[struct {
		Ticket string `json:"ticket"`
	}](h.tb, r).Ticket
}

// TestWebSocketCredentialRevoked is AUTH-03: a socket whose credential is
// revoked while it is open is closed with 1008 within a ping interval.
func TestWebSocketCredentialRevoked(t *testing.T) {
	t.Parallel()
	const ping = 50 * time.Millisecond
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := newHarness(t, func(o *server.Options) {
		o.PingInterval = ping
		o.PongWait = time.Minute // only the revocation closes sockets here
		v, err := auth.NewJWTVerifier(auth.JWTOptions{HMACSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		o.JWT = v
	})
	path := h.watchPath(h.wsA)

	for _, tc := range []struct {
		name string
		// open dials a socket and returns a func that revokes its
		// credential.
		open func(t *testing.T) (*websocket.Conn, func())
	}{
		{"bearer token revoked", func(t *testing.T) (*websocket.Conn, func()) {
			tok, sec := h.issue("a", "a1")
			conn, r := h.dial(path, hdr("Authorization", "Bearer "+sec), nil)
			if conn == nil {
				t.Fatalf("dial: %s", r)
			}
			return conn, func() {
				if err := h.db.RevokeToken("a", tok.ID); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"token revoked by the admin API", func(t *testing.T) (*websocket.Conn, func()) {
			tok, sec := h.issue("a", "a1")
			conn, r := h.dial(path, hdr("Authorization", "Bearer "+sec), nil)
			if conn == nil {
				t.Fatalf("dial: %s", r)
			}
			return conn, func() {
				r := h.do("DELETE", "/api/v1/admin/tenants/a/tokens/"+tok.ID, nil, bearer(h.tokAdmin))
				if r.Status/100 != 2 {
					t.Fatalf("revoke: %s", r)
				}
			}
		}},
		{"login cookie logged out", func(t *testing.T) (*websocket.Conn, func()) {
			c := h.login(h.tokA)
			conn, r := h.dial(path, hdr("Cookie", c.Name+"="+c.Value, "Origin", h.origin), nil)
			if conn == nil {
				t.Fatalf("dial: %s", r)
			}
			return conn, func() {
				wantStatus(t, "logout", h.do("DELETE", "/auth/session", nil, h.cookie(c.Value), csrf), http.StatusNoContent)
			}
		}},
		{"ticket issued by a login that logged out", func(t *testing.T) (*websocket.Conn, func()) {
			c := h.login(h.tokA)
			tkt := h.cookieTicket(c.Value, path)
			conn, r := h.dial(path+"?ticket="+tkt, hdr("Origin", h.origin), nil)
			if conn == nil {
				t.Fatalf("dial: %s", r)
			}
			return conn, func() {
				wantStatus(t, "logout", h.do("DELETE", "/auth/session", nil, h.cookie(c.Value), csrf), http.StatusNoContent)
			}
		}},
		{"portal jwt expires", func(t *testing.T) (*websocket.Conn, func()) {
			tok := signJWT(t, secret, jwt.MapClaims{"tenant": "portal-t", "sub": "u1", "exp": time.Now().Add(2 * time.Second).Unix()})
			r := h.do("POST", "/api/v1/workspaces", []byte(`{"name":"jwt-ws"}`), bearer(tok))
			wantStatus(t, "create workspace with portal JWT", r, http.StatusCreated)
			workspaceID := decode[struct {
				ID string `json:"id"`
			}](t, r).ID
			conn, r := h.dial(h.watchPath(workspaceID), hdr("Authorization", "Bearer "+tok), nil)
			if conn == nil {
				t.Fatalf("dial: %s", r)
			}
			return conn, func() {} // the clock revokes it
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, revoke := tc.open(t)
			// The socket is open and served: it answers pings, and the
			// server keeps it through more than one check.
			var pings atomic.Int32
			conn.SetPingHandler(func(data string) error {
				pings.Add(1)
				return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitShort))
			})
			rd := readAll(t, conn)
			waitFor(t, "two pings before revocation", func() bool { return pings.Load() >= 2 })
			select {
			case <-rd.done:
				t.Fatalf("socket closed before revocation: %v", rd.err)
			default:
			}
			start := time.Now()
			revoke()
			wantPolicyClose(t, tc.name, rd, "credential revoked")
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("closed %v after revocation, want within about a ping interval", d)
			}
		})
	}
	h.waitNoSockets()
}

// TestWebSocketCredentialKept: a socket whose credential holds stays open
// across many credential checks, whichever way it authenticated.
func TestWebSocketCredentialKept(t *testing.T) {
	t.Parallel()
	// The credential is checked every ping; a late pong on a loaded
	// machine must not be what closes a socket here.
	const ping = 100 * time.Millisecond
	h := newHarness(t, func(o *server.Options) { o.PingInterval = ping; o.PongWait = time.Minute })
	path := h.watchPath(h.wsA)
	c := h.login(h.tokA)
	for _, tc := range []struct {
		name string
		path string
		hdr  http.Header
	}{
		{"bearer", path, hdr("Authorization", "Bearer "+h.tokA)},
		{"cookie", path, hdr("Cookie", c.Name+"="+c.Value, "Origin", h.origin)},
		{"ticket", path + "?ticket=" + h.ticket(h.tokA, path), hdr("Origin", h.origin)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, r := h.dial(tc.path, tc.hdr, nil)
			if conn == nil {
				t.Fatalf("dial: %s", r)
			}
			var pings atomic.Int32
			conn.SetPingHandler(func(data string) error {
				pings.Add(1)
				return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitShort))
			})
			rd := readAll(t, conn)
			waitFor(t, "10 ping intervals", func() bool { return pings.Load() >= 10 })
			select {
			case <-rd.done:
				t.Fatalf("socket with a valid credential closed: %v", rd.err)
			default:
			}
			_ = conn.Close()
		})
	}
	h.waitNoSockets()
}

// TestWatchMessageFlood is WS-13: a client flooding the watch socket with
// tiny messages is closed with 1008; a client within the rate is not.
func TestWatchMessageFlood(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := h.watchPath(h.wsA)
	auth := hdr("Authorization", "Bearer "+h.tokA)

	// Within the burst: a few messages leave the socket open.
	calm, r := h.dial(path, auth, nil)
	if calm == nil {
		t.Fatalf("dial: %s", r)
	}
	for range 20 {
		if err := calm.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// A ping after the messages is answered only once they were read.
	pong := make(chan struct{})
	calm.SetPongHandler(func(string) error { close(pong); return nil })
	calmRd := readAll(t, calm)
	if err := calm.WriteControl(websocket.PingMessage, nil, time.Now().Add(waitShort)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pong:
	case <-calmRd.done:
		t.Fatalf("socket within the rate closed: %v", calmRd.err)
	case <-time.After(waitShort):
		t.Fatal("no pong")
	}

	// A flood: 10k tiny messages as fast as possible.
	flood, r := h.dial(path, auth, nil)
	if flood == nil {
		t.Fatalf("dial: %s", r)
	}
	rd := readAll(t, flood)
	for range 10000 {
		if flood.WriteMessage(websocket.TextMessage, []byte("x")) != nil {
			break // the server closed the connection
		}
	}
	wantPolicyClose(t, "flood", rd, "message rate exceeded")
	select {
	case <-calmRd.done:
		t.Fatalf("the calm socket was closed by another's flood: %v", calmRd.err)
	default:
	}
	_ = calm.Close()
	h.waitNoSockets()
}
