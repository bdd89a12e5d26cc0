package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ideserver/ideserver/web"
)

// The browser IDE from package web: index.html at / and its built assets
// under /assets/. The page turns the printed URL's credential (in the
// fragment, never sent in a URL) into a login cookie and then works with
// the API like any other client. The same page serves the app's other
// paths (/s/{id}, /p/{id}, /play, /embed/...): the script routes by path.

// pageCSP is the Content-Security-Policy of the web UI: scripts only from
// this origin (no inline scripts); inline styles are allowed because
// CodeMirror and xterm.js style their elements at run time.
const pageCSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "

// originsMeta is the placeholder in index.html that the server fills with
// the configured allowed origins (space-separated), the only origins the
// embedding postMessage API talks to besides the page's own.
const originsMeta = `<meta name="ideserver-origins" content="">`

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) error {
	return s.serveApp(w)
}

// handleEmbed serves the app for /embed/...: the chrome-less mode for
// iframes of the allowed origins (frame-ancestors).
func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) error {
	return s.serveApp(w)
}

// serveApp writes index.html with the allowed origins in its meta tag and
// the page's CSP.
func (s *Server) serveApp(w http.ResponseWriter) error {
	data, err := fs.ReadFile(web.Dist(), "index.html")
	if err != nil {
		return err
	}
	var origins []string
	if s.opts.Origins != nil {
		origins = s.opts.Origins.Origins()
	}
	meta := `<meta name="ideserver-origins" content="` + html.EscapeString(strings.Join(origins, " ")) + `">`
	data = bytes.Replace(data, []byte(originsMeta), []byte(meta), 1)
	w.Header().Set("Content-Security-Policy", pageCSP+s.frameAncestors())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(data)
	return nil
}

// handleAsset serves a file of dist/assets; anything else is 404. The
// entry files (index.js, index.css) are revalidated on every load with
// their ETag; the chunks they load are named by the hash of their content
// (name-HASH.js), so browsers may keep them for good. Scripts and styles
// are sent gzip-compressed to clients that accept it.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	if !fs.ValidPath(name) || name == "." {
		return errNotFound
	}
	a, err := s.asset(name)
	if err != nil {
		return errNotFound // missing, or a directory
	}
	body, etag := a.data, a.etag
	if a.gz != nil {
		w.Header().Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, a.gzETag
			w.Header().Set("Content-Encoding", "gzip")
			r.Header.Del("Range") // ranges of the compressed bytes are of no use
		}
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("ETag", etag)
	if hashedAsset(name) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	return nil
}

// webAsset is an embedded asset ready to serve: its bytes, their gzip
// compression (nil when it does not pay), and the strong ETag of each.
type webAsset struct {
	data, gz     []byte
	etag, gzETag string
	contentType  string
}

// asset returns the embedded asset dist/assets/name, reading, hashing and
// compressing it only the first time (the assets never change while the
// binary runs); s.assets caches it by name.
func (s *Server) asset(name string) (*webAsset, error) {
	if a, ok := s.assets.Load(name); ok {
		return a.(*webAsset), nil
	}
	data, err := fs.ReadFile(web.Dist(), path.Join("assets", name))
	if err != nil {
		return nil, err
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(data)
	tag := hex.EncodeToString(sum[:16])
	a := &webAsset{data: data, etag: `"` + tag + `"`, contentType: ct}
	if compressible(ct) && len(data) >= 1024 {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err == nil {
			_, err = zw.Write(data)
		}
		if err == nil {
			err = zw.Close()
		}
		if err == nil && buf.Len() < len(data) {
			a.gz, a.gzETag = buf.Bytes(), `"`+tag+`-gz"`
		}
	}
	v, _ := s.assets.LoadOrStore(name, a)
	return v.(*webAsset), nil
}

// compressible reports whether a content type is text worth compressing.
func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.HasPrefix(contentType, "application/json") || strings.HasPrefix(contentType, "image/svg+xml")
}

// acceptsGzip reports whether an Accept-Encoding header value accepts gzip
// (listed, or through "*", and not with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(params), "=")
		if !ok || strings.TrimSpace(k) != "q" {
			return true
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err != nil || q > 0
	}
	return false
}

// hashedAsset reports whether an asset's name carries the hash of its
// content, as the build names the chunks: NAME-HASH.EXT with an 8
// character hash of upper-case letters and digits.
func hashedAsset(name string) bool {
	base := strings.TrimSuffix(name, path.Ext(name))
	i := strings.LastIndexByte(base, '-')
	if i < 0 || len(base)-i-1 != 8 || strings.Contains(name, "/") {
		return false
	}
	for _, c := range base[i+1:] {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
