package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/ideserver/ideserver/internal/bridge"
)

// DAPService bridges DAP WebSockets to Delve (package dap, adapted in
// cmd/ideserver). Nil in Options: the DAP route is not served.
type DAPService interface {
	// OpenDAP reserves a debug session for owner's workspace before the
	// upgrade; owner is the user's owner key (workspace.Owner.Key), as
	// which dlv runs. The handler has checked ownership. An error wrapping
	// ErrDAPLimit is answered 429; any other is a 503.
	OpenDAP(owner, workspaceID string) (DAPSession, error)
}

// DAPSession is one reserved debug session.
type DAPSession interface {
	// Serve bridges conn until either side ends; it blocks, closes conn,
	// and stops every process of the session before returning.
	Serve(ctx context.Context, conn DAPConn) error
	// Close releases a session that was never served. Idempotent.
	Close()
}

// DAPConn is a DAP WebSocket as a message stream: one DAP message (JSON)
// per text frame.
type DAPConn interface {
	// ReadMessage returns the next text frame; a binary frame is an error.
	// Only one goroutine may call it.
	ReadMessage() ([]byte, error)
	// WriteMessage writes one text frame; safe for concurrent use.
	WriteMessage(msg []byte) error
	// Close closes the WebSocket (normal closure), unblocking ReadMessage.
	Close() error
}

// ErrDAPLimit is wrapped by DAPService errors when the workspace or tenant
// has as many debug sessions as allowed.
var ErrDAPLimit = errors.New("too many debug sessions")

// dapRoutes are the Debugger routes of docs/api.md.
func (s *Server) dapRoutes() []route {
	if s.opts.DAP == nil {
		return nil
	}
	return []route{
		{pattern: "GET /api/v1/workspaces/{ws}/dap", kind: kindWebSocket, handle: s.handleDAP},
	}
}

// handleDAP serves WebSocket /api/v1/workspaces/{ws}/dap.
func (s *Server) handleDAP(w http.ResponseWriter, r *http.Request) error {
	o := owner(r)
	id := r.PathValue("ws")
	if _, err := s.opts.Workspaces.Use(o, id); err != nil {
		return err
	}
	sess, err := s.opts.DAP.OpenDAP(o.Key(), id)
	if err != nil {
		if errors.Is(err, ErrDAPLimit) {
			return &apiError{http.StatusTooManyRequests, "too_many_debug_sessions", "This workspace or account has as many debug sessions as allowed; close one first.", err}
		}
		return &apiError{http.StatusServiceUnavailable, "debugger_unavailable", "The debugger is not available right now; try again in a moment.", err}
	}
	defer sess.Close()
	return s.serveSocket(w, r, func(ctx context.Context, c *bridge.Conn) error {
		return sess.Serve(ctx, dapConn{c})
	})
}

// dapConn adapts a socket to DAPConn.
type dapConn struct{ c *bridge.Conn }

func (d dapConn) ReadMessage() ([]byte, error) {
	return d.c.ReadText()
}

func (d dapConn) WriteMessage(msg []byte) error {
	return d.c.WriteText(msg)
}

func (d dapConn) Close() error {
	return d.c.Close()
}
