package server_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/server"
)

// openSocket dials path with hdr and returns its reader once the socket
// has answered a ping (so it is open and its credential was checked).
func (h *harness) openSocket(t *testing.T, path string, hdr http.Header) *wsReader {
	t.Helper()
	conn, r := h.dial(path, hdr, nil)
	if conn == nil {
		t.Fatalf("dial %s: %s", path, r)
	}
	var pings atomic.Int32
	conn.SetPingHandler(func(data string) error {
		pings.Add(1)
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitShort))
	})
	rd := readAll(t, conn)
	waitFor(t, "a ping on the open socket", func() bool { return pings.Load() >= 1 })
	return rd
}

// cookieHdr is the upgrade header of a browser with login cookie c.
func (h *harness) cookieHdr(c *http.Cookie) http.Header {
	return hdr("Cookie", c.Name+"="+c.Value, "Origin", h.origin)
}

// wantClosed waits for rd's socket to end, whatever the close code.
func wantClosed(t *testing.T, what string, rd *wsReader) {
	t.Helper()
	if err := rd.closed(t); err == nil {
		t.Fatalf("%s: socket ended without an error", what)
	}
}

// pollUntil polls cond every 50ms until it holds, failing after limit.
// For states that flip on the wall clock (a JWT's exp): the limit is
// generous and only bounds a broken implementation.
func pollUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLoginsEndWithCredential is SBX-06: a login cookie made from a
// token that is then revoked, from a user that is then deleted, or from a
// portal JWT that then expires gets 401 on HTTP, and the WebSockets it
// opened (directly or through a ticket) are closed.
func TestLoginsEndWithCredential(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := newHarness(t, func(o *server.Options) {
		o.PingInterval = 50 * time.Millisecond
		// Only a revoked credential may close a socket here, not a pong
		// that a loaded machine answered late.
		o.PongWait = time.Minute
		v, err := auth.NewJWTVerifier(auth.JWTOptions{HMACSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		o.JWT = v
	})
	pathA := h.watchPath(h.wsA)

	t.Run("token revoked", func(t *testing.T) {
		tok, sec := h.issue("a", "a1")
		c := h.login(sec)
		other := h.login(h.tokA) // the same user's login from another token
		wantStatus(t, "cookie before revocation", h.me(h.cookie(c.Value)), http.StatusOK)
		viaCookie := h.openSocket(t, pathA, h.cookieHdr(c))
		viaTicket := h.openSocket(t, pathA+"?ticket="+h.cookieTicket(c.Value, pathA), hdr("Origin", h.origin))
		otherSocket := h.openSocket(t, pathA, h.cookieHdr(other))

		wantStatus(t, "revoke", h.do("DELETE", "/api/v1/admin/tenants/a/tokens/"+tok.ID, nil, bearer(h.tokAdmin)), http.StatusNoContent)
		wantError(t, "cookie after revocation", h.me(h.cookie(c.Value)), http.StatusUnauthorized, "unauthorized")
		wantError(t, "ticket from the revoked login", h.do("POST", "/api/v1/tickets", []byte(`{"path":"`+pathA+`"}`), h.cookie(c.Value), csrf), http.StatusUnauthorized, "unauthorized")
		wantPolicyClose(t, "socket opened with the cookie", viaCookie, "credential revoked")
		wantPolicyClose(t, "socket opened with a ticket of the login", viaTicket, "credential revoked")
		wantStatus(t, "another token's login", h.me(h.cookie(other.Value)), http.StatusOK)
		select {
		case <-otherSocket.done:
			t.Fatalf("another token's socket closed: %v", otherSocket.err)
		default:
		}
	})

	t.Run("user deleted", func(t *testing.T) {
		// A token user with a workspace, and a portal user.
		_, sec := h.issue("a", "gone")
		workspaceID := h.createWorkspace("a", "gone", "gone-ws", map[string]string{"main.go": "package main\n"})
		c := h.login(sec)
		viaCookie := h.openSocket(t, h.watchPath(workspaceID), h.cookieHdr(c))

		jwtTok := signJWT(t, secret, jwt.MapClaims{"tenant": "portal-t", "sub": "leaver", "exp": time.Now().Add(time.Hour).Unix()})
		r := h.do("POST", "/api/v1/workspaces", []byte(`{"name":"p"}`), bearer(jwtTok))
		wantStatus(t, "portal user's workspace", r, http.StatusCreated)
		portalWorkspaceID := decode[struct {
			ID string `json:"id"`
		}](t, r).ID
		pc := h.login(jwtTok)
		viaJWT := h.openSocket(t, h.watchPath(portalWorkspaceID), hdr("Authorization", "Bearer "+jwtTok))
		viaJWTCookie := h.openSocket(t, h.watchPath(portalWorkspaceID), h.cookieHdr(pc))
		keep := h.openSocket(t, pathA, hdr("Authorization", "Bearer "+h.tokA))

		wantError(t, "non-admin deletes a user", h.do("DELETE", "/api/v1/admin/tenants/a/users/gone", nil, bearer(h.tokA)), http.StatusForbidden, "admin_required")
		wantStatus(t, "delete token user", h.do("DELETE", "/api/v1/admin/tenants/a/users/gone", nil, bearer(h.tokAdmin)), http.StatusNoContent)
		wantError(t, "token of deleted user", h.me(bearer(sec)), http.StatusUnauthorized, "unauthorized")
		wantError(t, "cookie of deleted user", h.me(h.cookie(c.Value)), http.StatusUnauthorized, "unauthorized")
		wantClosed(t, "socket of deleted user", viaCookie)
		if n := h.workspaceCount("a", "gone"); n != 0 {
			t.Errorf("deleted user keeps %d workspaces", n)
		}
		wantError(t, "delete again", h.do("DELETE", "/api/v1/admin/tenants/a/users/gone", nil, bearer(h.tokAdmin)), http.StatusNotFound, "not_found")

		wantStatus(t, "delete portal user", h.do("DELETE", "/api/v1/admin/tenants/portal-t/users/leaver", nil, bearer(h.tokAdmin)), http.StatusNoContent)
		wantError(t, "cookie of deleted portal user", h.me(h.cookie(pc.Value)), http.StatusUnauthorized, "unauthorized")
		wantClosed(t, "JWT socket of deleted portal user", viaJWT)
		wantClosed(t, "cookie socket of deleted portal user", viaJWTCookie)

		wantStatus(t, "other user's token", h.me(bearer(h.tokA)), http.StatusOK)
		select {
		case <-keep.done:
			t.Fatalf("another user's socket closed: %v", keep.err)
		default:
		}
	})

	t.Run("jwt expires", func(t *testing.T) {
		exp := time.Now().Add(3 * time.Second).Truncate(time.Second)
		jwtTok := signJWT(t, secret, jwt.MapClaims{"tenant": "portal-t", "sub": "brief", "exp": exp.Unix()})
		r := h.do("POST", "/api/v1/workspaces", []byte(`{"name":"p"}`), bearer(jwtTok))
		wantStatus(t, "portal user's workspace", r, http.StatusCreated)
		portalWorkspaceID := decode[struct {
			ID string `json:"id"`
		}](t, r).ID
		c := h.login(jwtTok)
		// Deterministic: the cookie itself expires no later than the JWT.
		if c.Expires.After(exp) {
			t.Errorf("login cookie expires %v, after the JWT's exp %v", c.Expires, exp)
		}
		rd := h.openSocket(t, h.watchPath(portalWorkspaceID), h.cookieHdr(c))
		// On the wall clock: after exp the cookie is refused and the
		// socket closed.
		pollUntil(t, "cookie refused after the JWT's exp", 30*time.Second, func() bool {
			return h.me(h.cookie(c.Value)).Status == http.StatusUnauthorized
		})
		if time.Now().Before(exp) {
			t.Errorf("cookie refused before the JWT's exp")
		}
		wantPolicyClose(t, "socket of the expired login", rd, "credential revoked")
	})
	h.waitNoSockets()
}
