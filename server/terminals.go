package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
)

// TerminalService runs workspaces' terminals (package terminal, adapted in
// cmd/ideserver). Nil in Options: the terminal routes are not served.
// Callers have checked that the tenant owns the workspace. Errors wrap
// ErrTerminalNotFound, ErrTerminalLimit or ErrTerminalInvalid where they
// apply; their text never reaches a client.
type TerminalService interface {
	// CreateTerminal starts a terminal; the context bounds the start only.
	// owner (in every method) is the user's owner key
	// (workspace.Owner.Key): the terminal runs as that user.
	CreateTerminal(ctx context.Context, owner, workspace string, req TerminalRequest) (TerminalInfo, error)
	// ListTerminals lists the workspace's terminals.
	ListTerminals(owner, workspace string) ([]TerminalInfo, error)
	// DeleteTerminal kills the terminal's processes and returns when they
	// are gone.
	DeleteTerminal(ctx context.Context, owner, workspace, id string) error
	// AttachTerminal finds the terminal; its Serve bridges a client to it.
	AttachTerminal(owner, workspace, id string) (TerminalAttachment, error)
}

// TerminalAttachment bridges one client to a terminal.
type TerminalAttachment interface {
	// Serve blocks until the terminal's exit was delivered (nil), ctx
	// ends, the connection fails, or the client broke a limit
	// (ErrTerminalInputTooLarge). It is the sole reader and writer of conn
	// while it runs.
	Serve(ctx context.Context, conn TerminalConn) error
}

// TerminalConn is a WebSocket as the terminal bridge sees it.
type TerminalConn interface {
	ReadMessage() (binary bool, data []byte, err error)
	WriteMessage(binary bool, data []byte) error
	// CloseRead makes a pending and every later ReadMessage fail; the
	// server still closes the connection afterwards.
	CloseRead() error
}

// TerminalRequest is the body of POST .../terminals.
type TerminalRequest struct {
	Cols    int      `json:"cols,omitempty"`
	Rows    int      `json:"rows,omitempty"`
	Command []string `json:"command,omitempty"`
}

// TerminalInfo is a terminal as the API shows it.
type TerminalInfo struct {
	ID        string    `json:"id"`
	Cols      int       `json:"cols"`
	Rows      int       `json:"rows"`
	CreatedAt time.Time `json:"created_at"`
	Clients   int       `json:"clients"`
	Exited    bool      `json:"exited"`
	ExitCode  *int      `json:"exit_code,omitempty"`
}

// Errors a TerminalService wraps so that handlers can answer with the
// right status.
var (
	ErrTerminalNotFound      = errors.New("terminal not found")
	ErrTerminalLimit         = errors.New("terminal limit reached")
	ErrTerminalInvalid       = errors.New("invalid terminal request")
	ErrTerminalSize          = errors.New("invalid terminal size")
	ErrTerminalInputTooLarge = errors.New("terminal input message too large")
)

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

// terminalError maps a TerminalService error to what a client may read.
func terminalError(err error) error {
	switch {
	case errors.Is(err, ErrTerminalNotFound):
		return &apiError{http.StatusNotFound, "not_found", "No such terminal in this workspace; it may have ended.", err}
	case errors.Is(err, ErrTerminalLimit):
		return &apiError{http.StatusTooManyRequests, "too_many_terminals", "You have as many terminals as allowed; close one first.", err}
	case errors.Is(err, ErrTerminalSize):
		return &apiError{http.StatusBadRequest, "invalid_size", "cols and rows must be between 1 and 1000.", err}
	case errors.Is(err, ErrTerminalInvalid):
		return &apiError{http.StatusBadRequest, "invalid_command", "command must be a non-empty list of arguments naming a program on the workspace's PATH.", err}
	}
	return err
}

func (s *Server) handleCreateTerminal(w http.ResponseWriter, r *http.Request) error {
	o := owner(r)
	id := r.PathValue("ws")
	if _, err := s.opts.Workspaces.Use(o, id); err != nil {
		return err
	}
	var req TerminalRequest
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
	t, err := s.opts.Terminals.CreateTerminal(r.Context(), o.Key(), id, req)
	if err != nil {
		return terminalError(err)
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+id+"/terminals/"+t.ID)
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) handleListTerminals(w http.ResponseWriter, r *http.Request) error {
	o := owner(r)
	id := r.PathValue("ws")
	if _, err := s.opts.Workspaces.Use(o, id); err != nil {
		return err
	}
	ts, err := s.opts.Terminals.ListTerminals(o.Key(), id)
	if err != nil {
		return terminalError(err)
	}
	if ts == nil {
		ts = []TerminalInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"terminals": ts})
	return nil
}

func (s *Server) handleDeleteTerminal(w http.ResponseWriter, r *http.Request) error {
	o := owner(r)
	id := r.PathValue("ws")
	if _, err := s.opts.Workspaces.Use(o, id); err != nil {
		return err
	}
	if err := s.opts.Terminals.DeleteTerminal(r.Context(), o.Key(), id, r.PathValue("id")); err != nil {
		return terminalError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAttachTerminal bridges a WebSocket to a terminal (docs/api.md, attach
// protocol). An unknown terminal is a 404 before the upgrade.
func (s *Server) handleAttachTerminal(w http.ResponseWriter, r *http.Request) error {
	o := owner(r)
	id := r.PathValue("ws")
	if _, err := s.opts.Workspaces.Use(o, id); err != nil {
		return err
	}
	att, err := s.opts.Terminals.AttachTerminal(o.Key(), id, r.PathValue("id"))
	if err != nil {
		return terminalError(err)
	}
	return s.serveSocket(w, r, func(ctx context.Context, c *bridge.Conn) error {
		err := att.Serve(ctx, terminalConn{c})
		switch {
		case errors.Is(err, ErrTerminalInputTooLarge):
			c.CloseWith(bridge.CloseTooBig, "input message too big")
			return nil
		case errors.Is(err, ErrTerminalNotFound):
			c.CloseWith(bridge.CloseNormal, "terminal ended")
			return nil
		case err == nil:
			c.CloseWith(bridge.CloseNormal, "terminal exited")
		}
		return err
	})
}

// terminalConn adapts a socket to TerminalConn.
type terminalConn struct{ c *bridge.Conn }

func (t terminalConn) ReadMessage() (bool, []byte, error) {
	return t.c.Read()
}

func (t terminalConn) WriteMessage(binary bool, data []byte) error {
	return t.c.Write(binary, data)
}

// CloseRead expires the read deadline, so a pending ReadMessage returns;
// the close frame is sent by serveSocket afterwards.
func (t terminalConn) CloseRead() error {
	return t.c.CloseRead()
}
