package server

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/workspace"
)

// LSPService bridges LSP WebSockets to gopls (an *lsp.Manager; the
// server's tests give fakes that stress the socket). Nil in Options: the
// LSP routes are not served.
type LSPService interface {
	// Serve proxies one LSP connection of the workspace h until the
	// client leaves or the service ends it. conn carries one JSON-RPC
	// message per text frame. A *bridge.CloseError result says how the
	// socket closes. gopls runs as h's user.
	Serve(ctx context.Context, h *workspace.Handle, conn *bridge.Conn) error
}

// lspRoutes are the Language server routes of docs/api.md.
func (s *Server) lspRoutes() []route {
	if s.opts.LSP == nil {
		return nil
	}
	const ws = "/api/v1/workspaces/{ws}"
	return []route{
		{pattern: "GET " + ws + "/lsp", kind: kindWebSocket, handle: s.handleLSP},
		{pattern: "GET " + ws + "/goroot/{path...}", handle: s.readOnlyFiles("goroot")},
		{pattern: "GET " + ws + "/gomodcache/{path...}", handle: s.readOnlyFiles("gomodcache")},
	}
}

// handleLSP upgrades to a WebSocket carrying one JSON-RPC message per text
// frame and hands it to the LSP service.
func (s *Server) handleLSP(w http.ResponseWriter, r *http.Request) error {
	h, err := s.opts.Workspaces.Open(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	return s.serveSocket(w, r, func(ctx context.Context, c *bridge.Conn) error {
		return s.opts.LSP.Serve(ctx, h, c)
	})
}

// readOnlyFiles serves a file (or a directory listing) below a read-only
// root of the caller's workspace (its user's module cache, or GOROOT;
// workspace.Handle.ReadOnlyRoot), resolved with os.Root.
func (s *Server) readOnlyFiles(name string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		h, err := s.opts.Workspaces.Open(owner(r), r.PathValue("ws"))
		if err != nil {
			return err
		}
		rel, err := workspace.CleanPath(strings.TrimSuffix(r.PathValue("path"), "/"))
		if err != nil {
			return err
		}
		root, err := h.ReadOnlyRoot(name)
		if err != nil {
			return errNotFound
		}
		defer root.Close()
		if rel == "" {
			rel = "."
		}
		f, err := root.Open(rel)
		if err != nil {
			return readOnlyError(err)
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return readOnlyError(err)
		}
		if info.IsDir() {
			des, err := f.ReadDir(-1)
			if err != nil {
				return readOnlyError(err)
			}
			entries := make([]workspace.Entry, 0, len(des))
			for _, de := range des {
				fi, err := de.Info()
				if err != nil {
					continue
				}
				typ := workspace.TypeFile
				switch {
				case de.IsDir():
					typ = workspace.TypeDir
				case de.Type()&fs.ModeSymlink != 0:
					typ = workspace.TypeSymlink
				}
				entries = append(entries, workspace.Entry{Name: de.Name(), Type: typ, Size: fi.Size(), ModTime: fi.ModTime()})
			}
			writeJSON(w, http.StatusOK, map[string][]workspace.Entry{"entries": entries})
			return nil
		}
		if !info.Mode().IsRegular() {
			return errNotFound
		}
		if info.Size() > s.opts.Limits.MaxFileSize && s.opts.Limits.MaxFileSize > 0 {
			return toAPIError(workspace.ErrTooLarge)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size(), 10))
		w.Header().Set("Cache-Control", "private, max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = io.Copy(w, f) // the status is sent; a failure only cuts the body short
		}
		return nil
	}
}

// readOnlyError maps os.Root errors without exposing host paths.
func readOnlyError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errNotFound
	case errors.Is(err, fs.ErrPermission):
		return errNotFound
	}
	// os.Root refuses escapes (symlinks out, ..) with its own errors.
	return &apiError{http.StatusBadRequest, "invalid_path", "The path must stay inside the directory.", err}
}
