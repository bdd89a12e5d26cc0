package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/web"
)

// Every file of the code-split build is served with its type; the chunks
// named by their content hash are cacheable for good and the entry files
// are revalidated; scripts and styles go out gzip-compressed to clients
// that accept it, with an ETag of their own, and both variants answer
// If-None-Match with 304.
func TestWebUIAssets(t *testing.T) {
	h := newHarness(t)
	entries, err := fs.ReadDir(web.Dist(), "assets")
	if err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".css") {
			continue
		}
		raw, err := fs.ReadFile(web.Dist(), "assets/"+name)
		if err != nil {
			t.Fatal(err)
		}
		path := "/assets/" + name
		identity := h.do("GET", path, nil, func(r *http.Request) { r.Header.Set("Accept-Encoding", "identity") })
		if identity.Status != http.StatusOK || !bytes.Equal(identity.Body, raw) || identity.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET %s without gzip: %d, %q, %d bytes (want %d)", path, identity.Status, identity.Header.Get("Content-Encoding"), len(identity.Body), len(raw))
			continue
		}
		want := "text/javascript"
		if strings.HasSuffix(name, ".css") {
			want = "text/css"
		}
		if ct := identity.Header.Get("Content-Type"); !strings.HasPrefix(ct, want) {
			t.Errorf("GET %s: Content-Type %q, want %s", path, ct, want)
		}
		cc := identity.Header.Get("Cache-Control")
		if strings.HasPrefix(name, "index.") {
			if cc != "no-cache" {
				t.Errorf("GET %s: Cache-Control %q, want no-cache (an entry file keeps its name)", path, cc)
			}
		} else {
			chunks++
			if !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("GET %s: Cache-Control %q, want a year and immutable for a hashed chunk", path, cc)
			}
		}
		if len(raw) < 1024 {
			continue
		}
		gz := h.do("GET", path, nil, func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip, deflate, br") })
		if gz.Status != http.StatusOK || gz.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("GET %s with gzip: %d, Content-Encoding %q, Vary %q", path, gz.Status, gz.Header.Get("Content-Encoding"), gz.Header.Get("Vary"))
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz.Body))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(plain, raw) {
			t.Errorf("GET %s: the gzip body does not decompress to the asset (%v)", path, err)
		}
		if len(gz.Body) >= len(raw) {
			t.Errorf("GET %s: gzip %d bytes, raw %d", path, len(gz.Body), len(raw))
		}
		if gz.Header.Get("ETag") == identity.Header.Get("ETag") || gz.Header.Get("ETag") == "" {
			t.Errorf("GET %s: ETags %q (gzip) and %q (identity) must differ", path, gz.Header.Get("ETag"), identity.Header.Get("ETag"))
		}
		for _, v := range []result{identity, gz} {
			enc := "identity"
			if v.Header.Get("Content-Encoding") == "gzip" {
				enc = "gzip"
			}
			r := h.do("GET", path, nil, func(r *http.Request) {
				r.Header.Set("Accept-Encoding", enc)
				r.Header.Set("If-None-Match", v.Header.Get("ETag"))
			})
			if r.Status != http.StatusNotModified {
				t.Errorf("GET %s (%s) with If-None-Match: %d, want 304", path, enc, r.Status)
			}
		}
	}
	if chunks == 0 {
		t.Error("the build has no chunks: is it code-split?")
	}
}

// index.html preloads the chunks index.js imports, and every chunk that a
// served script imports is served too.
func TestWebUIChunksResolve(t *testing.T) {
	h := newHarness(t)
	page := h.do("GET", "/", nil)
	preloads := regexp.MustCompile(`<link rel="modulepreload" href="(/assets/[^"]+)">`).FindAllStringSubmatch(string(page.Body), -1)
	if len(preloads) == 0 {
		t.Error("index.html preloads no chunks")
	}
	imports := regexp.MustCompile(`(?:from|import\()\s*"\./([^"]+\.js)"`)
	seen := map[string]bool{}
	queue := []string{"index.js"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		r := h.do("GET", "/assets/"+name, nil, func(r *http.Request) { r.Header.Set("Accept-Encoding", "identity") })
		if r.Status != http.StatusOK {
			t.Errorf("GET /assets/%s: %d", name, r.Status)
			continue
		}
		for _, m := range imports.FindAllStringSubmatch(string(r.Body), -1) {
			queue = append(queue, m[1])
		}
	}
	for _, p := range preloads {
		if !seen[strings.TrimPrefix(p[1], "/assets/")] {
			t.Errorf("index.html preloads %s, which no script imports", p[1])
		}
	}
	if len(seen) < 3 {
		t.Errorf("only %d scripts reachable from index.js", len(seen))
	}
}
