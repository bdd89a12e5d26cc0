package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// The web UI: index.html with a strict CSP, its assets with their types,
// and nothing else under /assets/.
func TestWebUI(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `src="/assets/index.js"`) {
		t.Fatalf("GET /: %v", r)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "object-src 'none'", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q loosens scripts", csp)
	}
	for path, ct := range map[string]string{"/assets/index.js": "text/javascript", "/assets/index.css": "text/css"} {
		r := h.do("GET", path, nil)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), ct) || len(r.Body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes)", path, r.Status, r.Header.Get("Content-Type"), len(r.Body))
		}
		etag := r.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", path)
			continue
		}
		if r := h.do("GET", path, nil, func(req *http.Request) { req.Header.Set("If-None-Match", etag) }); r.Status != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: %d", path, r.Status)
		}
	}
	for _, path := range []string{"/assets/nope.js", "/assets/", "/assets/..%2findex.html", "/index.html"} {
		if r := h.do("GET", path, nil); r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 404 (or 400 for a bad path)", path, r.Status)
		}
	}
}
