package server_test

import (
	"net/http"
	"testing"

	"github.com/ideserver/ideserver/server"
)

// TestSiblingCookieTossing is EMB-06: an attacker who controls a sibling
// subdomain (say a user's preview on another name under the IDE's parent
// domain; ideserver serves no such previews yet) can set cookies for the
// parent domain, and browsers send them to the IDE. Over HTTPS the login
// cookie is "__Host-" prefixed, which browsers accept only when set by
// the IDE's own host with Secure, Path=/ and no Domain, so a sibling
// cannot set it; the server must then read nothing else. So: the
// attacker's own valid login tossed under the unprefixed name is not a
// login, and next to the victim's real cookie (before or after it) it
// does not change who the victim is. A WebSocket opened from the
// sibling's origin with the victim's cookie is refused by the Origin
// allowlist. (Over plain HTTP there is no prefix a browser enforces:
// deployments with sibling hosts run on HTTPS.)
func TestSiblingCookieTossing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *server.Options) { o.TLS = true })
	victim := h.login(h.tokA)     // a/a1
	attacker := h.login(h.tokB)   // b/b1: a real, valid login
	tossed := "ideserver_session" // what a sibling can set
	if victim.Name == tossed {
		t.Fatalf("the login cookie under TLS is %q, without the __Host- prefix", victim.Name)
	}
	type me struct{ Tenant, User string }

	wantError(t, "tossed cookie alone", h.me(withCookie(tossed, attacker.Value)), http.StatusUnauthorized, "unauthorized")
	for _, tc := range []struct {
		name string
		opts []reqOpt
	}{
		{"tossed first", []reqOpt{withCookie(tossed, attacker.Value), h.cookie(victim.Value)}},
		{"tossed last", []reqOpt{h.cookie(victim.Value), withCookie(tossed, attacker.Value)}},
	} {
		r := h.me(tc.opts...)
		wantStatus(t, tc.name, r, http.StatusOK)
		if got := decode[me](t, r); got.Tenant != "a" || got.User != "a1" {
			t.Errorf("%s: the request ran as %s/%s, want the victim a/a1", tc.name, got.Tenant, got.User)
		}
	}
	// A state change carried by the victim's cookie still needs the CSRF
	// header; a tossed cookie adds nothing to that.
	before := h.workspaceCount("b", "b1")
	r := h.do("POST", "/api/v1/workspaces", []byte(`{"name":"tossed"}`), withCookie(tossed, attacker.Value), csrf)
	wantStatus(t, "create with a tossed cookie", r, http.StatusUnauthorized)
	if n := h.workspaceCount("b", "b1"); n != before {
		t.Errorf("a tossed cookie created a workspace: %d -> %d", before, n)
	}

	// WebSockets from the sibling: refused before the credential counts.
	watch := "/api/v1/workspaces/" + h.wsA + "/watch"
	cookieHdr := (&http.Cookie{Name: victim.Name, Value: victim.Value}).String()
	for _, origin := range []string{"https://preview.ide.example", "https://evil.portal.example", "http://preview." + h.host} {
		conn, res := h.dial(watch, hdr("Origin", origin, "Cookie", cookieHdr), nil)
		if conn != nil {
			t.Errorf("WebSocket from sibling origin %s accepted", origin)
			continue
		}
		wantError(t, "WebSocket from sibling origin "+origin, res, http.StatusForbidden, "origin_not_allowed")
	}
}
