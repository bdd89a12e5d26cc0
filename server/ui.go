package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/ideserver/ideserver/web"
)

// The browser IDE from package web: index.html at / and its built assets
// under /assets/. The page turns the printed URL's credential (in the
// fragment, never sent in a URL) into a session cookie and then works with
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

// handleAsset serves a file of dist/assets; anything else is 404.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	if !fs.ValidPath(name) || name == "." {
		return errNotFound
	}
	data, err := fs.ReadFile(web.Dist(), path.Join("assets", name))
	if err != nil {
		return errNotFound // missing, or a directory
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", s.assetETag(name, data))
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	return nil
}

// assetETag returns the strong ETag of an embedded asset, hashing it only
// the first time (the assets never change while the binary runs).
func (s *Server) assetETag(name string, data []byte) string {
	if tag, ok := s.assetETags.Load(name); ok {
		return tag.(string)
	}
	sum := sha256.Sum256(data)
	tag := `"` + hex.EncodeToString(sum[:16]) + `"`
	s.assetETags.Store(name, tag)
	return tag
}
