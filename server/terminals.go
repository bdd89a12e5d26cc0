package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/terminal"
)

// terminalRequest is the body of POST .../terminals: all a client may
// choose about a terminal (terminal.CreateOptions also has what only the
// server may set).
type terminalRequest struct {
	Cols    int      `json:"cols,omitempty"`
	Rows    int      `json:"rows,omitempty"`
	Command []string `json:"command,omitempty"`
}

// terminalRoutes are the Terminals routes of docs/api.md.
func (s *Server) terminalRoutes() []route {
	if s.opts.Terminals == nil {
		return nil
	}
	const ws = "/api/v1/workspaces/{ws}/terminals"
	return []route{
		{pattern: "POST " + ws, handle: s.handleCreateTerminal},
		{pattern: "GET " + ws, handle: s.handleListTerminals},
		{pattern: "DELETE " + ws + "/{id}", handle: s.handleDeleteTerminal},
		{pattern: "GET " + ws + "/{id}/attach", kind: kindWebSocket, handle: s.handleAttachTerminal},
	}
}

// terminalError maps a terminal.Manager error to what a client may read.
func terminalError(err error) error {
	switch {
	case errors.Is(err, terminal.ErrNotFound):
		return &apiError{http.StatusNotFound, "not_found", "No such terminal in this workspace; it may have ended.", err}
	case errors.Is(err, terminal.ErrLimit):
		return &apiError{http.StatusTooManyRequests, "too_many_terminals", "You have as many terminals as allowed; close one first.", err}
	case errors.Is(err, terminal.ErrInvalidSize):
		return &apiError{http.StatusBadRequest, "invalid_size", "cols and rows must be between 1 and 1000.", err}
	case errors.Is(err, terminal.ErrInvalidCommand):
		return &apiError{http.StatusBadRequest, "invalid_command", "command must be a non-empty list of arguments naming a program on the workspace's PATH.", err}
	case errors.Is(err, terminal.ErrClosed):
		return &apiError{http.StatusServiceUnavailable, "shutting_down", "The server is shutting down; try again in a moment.", err}
	}
	return err
}

func (s *Server) handleCreateTerminal(w http.ResponseWriter, r *http.Request) error {
	h, err := s.opts.Workspaces.Open(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	var req terminalRequest
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
	}
	t, err := s.opts.Terminals.Create(r.Context(), h, terminal.CreateOptions{Cols: req.Cols, Rows: req.Rows, Command: req.Command})
	if err != nil {
		return terminalError(err)
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+h.WorkspaceID+"/terminals/"+t.ID)
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) handleListTerminals(w http.ResponseWriter, r *http.Request) error {
	h, err := s.opts.Workspaces.Open(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"terminals": s.opts.Terminals.List(h)})
	return nil
}

func (s *Server) handleDeleteTerminal(w http.ResponseWriter, r *http.Request) error {
	h, err := s.opts.Workspaces.Open(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	if err := s.opts.Terminals.Delete(r.Context(), h, r.PathValue("id")); err != nil {
		return terminalError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAttachTerminal bridges a WebSocket to a terminal (docs/api.md,
// attach protocol). An unknown terminal is a 404 before the upgrade; how
// the socket closes is Attach's to say.
func (s *Server) handleAttachTerminal(w http.ResponseWriter, r *http.Request) error {
	h, err := s.opts.Workspaces.Open(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	t, err := s.opts.Terminals.Get(h, r.PathValue("id"))
	if err != nil {
		return terminalError(err)
	}
	return s.serveSocket(w, r, func(ctx context.Context, c *bridge.Conn) error {
		return t.Attach(ctx, c)
	})
}
