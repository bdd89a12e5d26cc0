package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/store"
)

// pagesPlay knows one share and one snippet.
type pagesPlay struct{ fakePlay }

func (p *pagesPlay) GetShare(id string) (store.Share, error) {
	if id != "shareid" {
		return store.Share{}, playground.ErrNotFound
	}
	return store.Share{ID: id, Name: "demo", Files: map[string]string{"main.go": "package main\n"}}, nil
}

func (p *pagesPlay) Snippet(id string) ([]byte, error) {
	if id != "snip" {
		return nil, playground.ErrNotFound
	}
	return []byte("package main\n"), nil
}

// The web UI's other pages: /s/{id}, /p/{id}, /play and /embed/... serve
// the app with its strict CSP and the allowed origins in a meta tag;
// unknown shares and snippets are 404; /p/{id}.go stays plain text.
func TestWebUIPages(t *testing.T) {
	h := newHarness(t, func(o *server.Options) { o.Playground = &pagesPlay{} })
	for _, path := range []string{"/", "/s/shareid", "/p/snip", "/play", "/embed/play", "/embed/ws/x", "/embed/s/shareid"} {
		r := h.do("GET", path, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `src="/assets/index.js"`) {
			t.Errorf("GET %s: %v", path, r)
			continue
		}
		if !strings.Contains(string(r.Body), `<meta name="ideserver-origins" content="`+portal+`">`) {
			t.Errorf("GET %s: no allowed origins meta tag", path)
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'self' "+portal) || strings.Contains(csp, "script-src") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	for _, path := range []string{"/s/nope", "/p/nope", "/p/nope.go"} {
		if r := h.do("GET", path, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.Status)
		}
	}
	r := h.do("GET", "/p/snip.go?download=true", nil)
	if r.Status != http.StatusOK || string(r.Body) != "package main\n" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET /p/snip.go?download=true: %v", r)
	}
}
