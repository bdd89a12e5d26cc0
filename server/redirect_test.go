package server_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestNoOpenRedirect is AUTH-11. The server has no redirect after sign-in:
// POST /auth/session answers 204 and sets the cookie, and the web client
// navigates only to same-site paths it builds from ids the server gave it
// (web/src/main.ts, pages.ts), never to a URL from a parameter. So no
// "next" parameter, in any spelling, and no path shaped like another
// site's URL gets a 3xx or a Location header, on sign-in, sign-out, the
// pages or a fallback path.
func TestNoOpenRedirect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.login(h.tokA)
	noRedirect := func(what string, r result) {
		t.Helper()
		if r.Status/100 == 3 || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d with Location %q, want no redirect", what, r.Status, r.Header.Get("Location"))
		}
	}
	targets := []string{
		"//evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example", "https://evil.example",
		"%2F%2Fevil.example", "/%5Cevil.example", "http:%2F%2Fevil.example", "javascript:alert(1)",
		"/%09/evil.example", "////evil.example/%2e%2e",
	}
	for _, target := range targets {
		for _, key := range []string{"next", "redirect", "redirect_uri", "return_to", "returnTo", "url", "continue"} {
			q := "?" + key + "=" + url.QueryEscape(target)
			noRedirect("sign-in "+q, h.do("POST", "/auth/session"+q, nil, bearer(h.tokA)))
			noRedirect("page "+q, h.do("GET", "/"+q, nil, h.cookie(c.Value)))
			noRedirect("embed page "+q, h.do("GET", "/embed/x"+q, nil))
			noRedirect("api "+q, h.do("GET", "/api/v1/me"+q, nil, bearer(h.tokA)))
		}
	}
	// Paths that look like another site's URL, written verbatim.
	for _, p := range []string{"//evil.example/", "//evil.example/%2e%2e", "/\\evil.example", "/%2F%2Fevil.example", "/embed//evil.example", "/assets/..%2F..%2Fevil", "/auth/session/"} {
		noRedirect("raw GET "+p, h.raw("GET", p, nil))
	}
	// Signing out answers 204 too: nowhere to be sent.
	r := h.do("DELETE", "/auth/session?next=%2F%2Fevil.example", nil, h.cookie(c.Value), csrf)
	wantStatus(t, "sign-out", r, http.StatusNoContent)
	noRedirect("sign-out", r)
}
