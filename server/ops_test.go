package server_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/server"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	t.Run("ready", func(t *testing.T) {
		h := newHarness(t, func(o *server.Options) {
			o.ReadyChecks = []server.ReadyCheck{{Name: "gopls", Check: func() error { return nil }}}
		})
		wantStatus(t, "healthz", h.do("GET", "/healthz", nil), http.StatusOK)
		r := h.do("GET", "/readyz", nil)
		wantStatus(t, "readyz", r, http.StatusOK)
		if got := decode[struct{ Status string }](t, r); got.Status != "ready" {
			t.Errorf("readyz %s", r)
		}
	})
	t.Run("not ready", func(t *testing.T) {
		h := newHarness(t, func(o *server.Options) {
			o.ReadyChecks = []server.ReadyCheck{
				{Name: "gopls", Check: func() error { return errors.New("gopls is being installed") }},
				{Name: "dlv", Check: func() error { return nil }},
			}
		})
		r := h.do("GET", "/readyz", nil)
		wantStatus(t, "readyz", r, http.StatusServiceUnavailable)
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("readyz Content-Type %q", ct)
		}
		got := decode[struct {
			Status  string
			Reasons map[string]string
		}](t, r)
		if got.Status != "unavailable" || got.Reasons["gopls"] != "gopls is being installed" || len(got.Reasons) != 1 {
			t.Errorf("readyz %s, want the gopls reason only", r)
		}
		// Health is about the process, not its dependencies.
		wantStatus(t, "healthz while not ready", h.do("GET", "/healthz", nil), http.StatusOK)
	})
}

func TestMetricsAuth(t *testing.T) {
	t.Parallel()
	t.Run("public by default", func(t *testing.T) {
		h := newHarness(t)
		h.do("GET", "/api/v1/me", nil, bearer(h.tokA))
		r := h.do("GET", "/metrics", nil)
		wantStatus(t, "metrics", r, http.StatusOK)
		for _, m := range []string{"ideserver_http_requests_total", "ideserver_websockets"} {
			if !bytes.Contains(r.Body, []byte(m)) {
				t.Errorf("metrics lack %s", m)
			}
		}
		// Labels are route patterns, never ids.
		if bytes.Contains(r.Body, []byte(h.wsA)) || bytes.Contains(r.Body, []byte(`"a1"`)) {
			t.Errorf("metrics hold ids:\n%s", r.Body)
		}
	})
	t.Run("require auth", func(t *testing.T) {
		h := newHarness(t, func(o *server.Options) { o.MetricsRequireAuth = true })
		wantError(t, "anonymous metrics", h.do("GET", "/metrics", nil), http.StatusUnauthorized, "unauthorized")
		wantStatus(t, "metrics with bearer", h.do("GET", "/metrics", nil, bearer(h.tokA)), http.StatusOK)
		// Health probes stay anonymous.
		wantStatus(t, "healthz", h.do("GET", "/healthz", nil), http.StatusOK)
	})
}

// TestFrameAncestors is EMB-01: every response, errors included, carries
// the CSP that limits framing to ourselves and the portal.
func TestFrameAncestors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const want = "frame-ancestors 'self' " + portal
	tok := bearer(h.tokA)
	for _, tc := range []struct {
		name   string
		r      func() result
		status int
	}{
		{"index page", func() result { return h.do("GET", "/", nil) }, 200},
		{"script", func() result { return h.do("GET", "/assets/index.js", nil) }, 200},
		{"healthz", func() result { return h.do("GET", "/healthz", nil) }, 200},
		{"readyz", func() result { return h.do("GET", "/readyz", nil) }, 200},
		{"metrics", func() result { return h.do("GET", "/metrics", nil) }, 200},
		{"api", func() result { return h.do("GET", "/api/v1/workspaces", nil, tok) }, 200},
		{"file", func() result { return h.do("GET", h.filesURL(h.wsA, "main.go"), nil, tok) }, 200},
		{"401", func() result { return h.do("GET", "/api/v1/workspaces", nil) }, 401},
		{"403 host", func() result {
			return h.do("GET", "/api/v1/me", nil, tok, func(r *http.Request) { r.Host = "evil.com" })
		}, 403},
		{"404 fallback", func() result { return h.do("GET", "/no/such/page", nil) }, 404},
		{"404 workspace", func() result { return h.do("GET", "/api/v1/workspaces/"+h.wsA, nil, bearer(h.tokB)) }, 404},
		{"405 method", func() result { return h.do("PATCH", "/healthz", nil) }, 405},
		{"400 invalid path", func() result { return h.raw("GET", "/api/v1/workspaces/../x", nil) }, 400},
		{"415", func() result {
			return h.do("POST", "/api/v1/workspaces", []byte("x"), tok, withHeader("Content-Type", "text/plain"))
		}, 415},
		{"refused upgrade", func() result {
			_, r := h.dial(h.watchPath(h.wsA), hdr("Origin", "https://evil.example", "Authorization", "Bearer "+h.tokA), nil)
			return r
		}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r()
			if tc.status != 0 && r.Status != tc.status {
				t.Errorf("status %s, want %d", r, tc.status)
			}
			csp := r.Header.Values("Content-Security-Policy")
			if len(csp) != 1 {
				t.Fatalf("CSP headers %q, want exactly one", csp)
			}
			if tc.name == "index page" {
				if !strings.HasSuffix(csp[0], want) {
					t.Errorf("index CSP %q does not end with %q", csp[0], want)
				}
			} else if csp[0] != want {
				t.Errorf("CSP %q, want %q", csp[0], want)
			}
			if xfo := r.Header.Get("X-Frame-Options"); strings.Contains(strings.ToUpper(xfo), "ALLOW-FROM") {
				t.Errorf("X-Frame-Options %q", xfo)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
		})
	}
}

// TestMethodNotAllowed: a path with routes for other methods answers 405
// with Allow; a path with none answers 404.
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := bearer(h.tokA)
	r := h.do("PUT", "/api/v1/workspaces", []byte(`{}`), tok)
	wantError(t, "PUT workspaces", r, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := r.Header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Errorf("Allow = %q, want GET, HEAD, POST", got)
	}
	r = h.do("DELETE", "/no/such/path", nil, tok)
	wantError(t, "unknown path", r, http.StatusNotFound, "not_found")
	if got := r.Header.Get("Allow"); got != "" {
		t.Errorf("404 with Allow %q", got)
	}
}
