package server

import (
	"errors"
	"net/http"

	"github.com/ideserver/ideserver/internal/bridge"
)

// dapRoutes are the Debugger routes of docs/api.md.
func (s *Server) dapRoutes() []route {
	if s.opts.DAP == nil {
		return nil
	}
	return []route{
		{pattern: "GET /api/v1/workspaces/{ws}/dap", kind: kindWebSocket, handle: s.handleDAP},
	}
}

// handleDAP serves WebSocket /api/v1/workspaces/{ws}/dap: it reserves a
// debug session before the upgrade (429 at the session limits, 503 when
// the debugger cannot take one), then the session bridges the socket to
// its dlv.
func (s *Server) handleDAP(w http.ResponseWriter, r *http.Request) error {
	h, err := s.opts.Workspaces.Open(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	sess, err := s.opts.DAP.Open(h)
	if err != nil {
		if errors.Is(err, bridge.ErrLimit) {
			return &apiError{http.StatusTooManyRequests, "too_many_debug_sessions", "This workspace or account has as many debug sessions as allowed; close one first.", err}
		}
		return &apiError{http.StatusServiceUnavailable, "debugger_unavailable", "The debugger is not available right now; try again in a moment.", err}
	}
	defer sess.Close()
	return s.serveSocket(w, r, sess.Serve)
}
