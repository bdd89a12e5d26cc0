package e2e_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserSession: the browser sign-in flow. POST /auth/session trades
// the bearer credential for an HttpOnly cookie; with the cookie alone,
// reads work, state changes need X-Requested-With: ideserver, a WebSocket
// needs an Origin, and DELETE /auth/session ends the session on the server.
func TestBrowserSession(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	wantError(t, "sign-in without credential", s.do(t, request{Method: "POST", Path: "/auth/session"}), http.StatusUnauthorized, "unauthorized")

	resp := s.call(t, request{Method: "POST", Path: "/auth/session", Token: s.Token}, http.StatusNoContent, nil)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "ideserver_session" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value == "" {
		t.Fatalf("no session cookie in %q", resp.Header.Values("Set-Cookie"))
	}
	if !cookie.HttpOnly || cookie.Path != "/" || cookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie %q: want HttpOnly, Path=/, SameSite=Lax", resp.Header.Get("Set-Cookie"))
	}
	if strings.Contains(cookie.Value, s.Token) {
		t.Error("the session cookie holds the bearer token")
	}
	session := &http.Cookie{Name: cookie.Name, Value: cookie.Value}
	csrf := map[string]string{"X-Requested-With": "ideserver"}

	var me struct {
		Tenant, User string
		Admin        bool
	}
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Cookie: session}, http.StatusOK, &me)
	if me.Tenant != "local" || me.User != "local" {
		t.Errorf("me by cookie = %+v, want local/local", me)
	}

	create := map[string]any{"name": "from-browser"}
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
		code   string
	}{
		{"no CSRF header", nil, http.StatusForbidden, "csrf_required"},
		{"wrong CSRF header", map[string]string{"X-Requested-With": "XMLHttpRequest"}, http.StatusForbidden, "csrf_required"},
		{"cross-site Origin", map[string]string{"X-Requested-With": "ideserver", "Origin": "http://evil.example"}, http.StatusForbidden, "origin_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.do(t, request{Method: "POST", Path: "/api/v1/workspaces", Cookie: session, Body: create, Header: tc.header})
			wantError(t, tc.name, resp, tc.status, tc.code)
		})
	}
	if list := s.listWorkspaces(t, s.Token); len(list) != 0 {
		t.Errorf("refused requests created workspaces: %+v", list)
	}
	var ws workspaceJSON
	s.call(t, request{Method: "POST", Path: "/api/v1/workspaces", Cookie: session, Body: create,
		Header: map[string]string{"X-Requested-With": "ideserver", "Origin": "http://" + s.Host}}, http.StatusCreated, &ws)

	t.Run("WebSocket by cookie", func(t *testing.T) {
		path := "/api/v1/workspaces/" + ws.ID + "/watch"
		withCookie := http.Header{"Cookie": {session.String()}}
		wantHandshakeStatus(t, s, "cookie without Origin", path, withCookie, http.StatusForbidden)
		withCookie.Set("Origin", "http://"+s.Host)
		conn, _, err := s.dialWS(path, withCookie)
		if err != nil {
			t.Fatalf("cookie with own Origin: %v", err)
		}
		conn.Close()
	})

	s.call(t, request{Method: "DELETE", Path: "/auth/session", Cookie: session, Header: csrf}, http.StatusNoContent, nil)
	wantError(t, "cookie after sign-out", s.do(t, request{Method: "GET", Path: "/api/v1/me", Cookie: session}), http.StatusUnauthorized, "unauthorized")
}
