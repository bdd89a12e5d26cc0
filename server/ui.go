package server

import (
	_ "embed"
	"net/http"
)

// The sign-in page until the web UI lands: it turns the printed URL's
// credential into a session cookie and lists workspaces.
var (
	//go:embed ui/index.html
	indexHTML []byte
	//go:embed ui/index.js
	indexJS []byte
)

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "+s.frameAncestors())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(indexHTML)
	return nil
}

func (s *Server) handleIndexJS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(indexJS)
	return nil
}
