package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// PlaygroundService serves sharing and the Go Playground compatible
// endpoints. *playground.Service implements it (package playground does not
// import server). Nil in Options: those routes are not served.
type PlaygroundService interface {
	// ServesAPI reports whether /compile, /fmt, /vet, /share, /p/ and
	// /play/ws are served (the configuration's playground.enabled).
	ServesAPI() bool
	Compile(ctx context.Context, client string, req playground.Request) (*playground.Response, error)
	Vet(ctx context.Context, client, body string) (*playground.Response, error)
	Fmt(ctx context.Context, client, body string, fixImports bool) (playground.FmtResponse, error)
	Share(client string, body []byte) (string, error)
	ShareRetryAfter() time.Duration
	Snippet(id string) ([]byte, error)
	Stream(ctx context.Context, client string, recv func() (playground.Message, error), send func(playground.Message) error) error
	Version() (playground.Version, error)

	CreateShare(ctx context.Context, owner workspace.Owner, workspaceID string, req playground.ShareRequest) (store.Share, []playground.Skipped, error)
	ListShares(owner workspace.Owner, workspaceID string) ([]store.Share, error)
	GetShare(id string) (store.Share, error)
	DeleteShare(owner workspace.Owner, id string) error
	ForkShare(ctx context.Context, owner workspace.Owner, id string) (store.Workspace, error)
}

var _ PlaygroundService = (*playground.Service)(nil)

// playgroundRoutes are the Sharing and Go Playground routes of docs/api.md.
func (s *Server) playgroundRoutes() []route {
	if s.opts.Playground == nil {
		return nil
	}
	const ws = "/api/v1/workspaces/{ws}"
	routes := []route{
		{pattern: "POST " + ws + "/shares", handle: s.handleCreateShare},
		{pattern: "GET " + ws + "/shares", handle: s.handleListShares},
		{pattern: "GET /api/v1/shares/{id}", public: true, handle: s.handleGetShare},
		{pattern: "DELETE /api/v1/shares/{id}", handle: s.handleDeleteShare},
		{pattern: "POST /api/v1/shares/{id}/fork", handle: s.handleForkShare},
		{pattern: "GET /s/{id}", kind: kindPage, public: true, handle: s.handleSharePage},
		// The chrome-less web UI for iframes. It belongs with / in the core
		// routes; it is here because this file may add page routes.
	}
	if !s.opts.Playground.ServesAPI() {
		return routes
	}
	for _, p := range []string{"/compile", "/fmt", "/vet", "/share"} {
		routes = append(routes, route{pattern: "OPTIONS " + p, public: true, handle: s.handlePlayPreflight})
	}
	return append(routes,
		route{pattern: "POST /compile", public: true, cookieless: true, handle: s.handleCompile},
		route{pattern: "POST /fmt", public: true, cookieless: true, handle: s.handleFmt},
		route{pattern: "POST /vet", public: true, cookieless: true, handle: s.handleVet},
		route{pattern: "POST /share", public: true, cookieless: true, handle: s.handleShare},
		route{pattern: "GET /version", public: true, cookieless: true, handle: s.handleVersion},
		route{pattern: "GET /p/{id}", kind: kindPage, public: true, handle: s.handleSnippet},
		route{pattern: "GET /play", kind: kindPage, public: true, handle: s.handleIndex},
		route{pattern: "GET /play/ws", kind: kindWebSocket, public: true, handle: s.handlePlaySocket},
	)
}

// playError maps playground errors to API errors.
func playError(err error) error {
	switch {
	case errors.Is(err, playground.ErrTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", "The program or snapshot is larger than this server accepts (programs: 64 KiB).", err}
	case errors.Is(err, playground.ErrBusy):
		return &apiError{http.StatusTooManyRequests, "too_many_requests", "Too many programs are waiting to run; try again in a moment.", err}
	case errors.Is(err, playground.ErrRateLimited):
		return &apiError{http.StatusTooManyRequests, "too_many_requests", "Too many snippets were shared from this address; try again in a minute.", err}
	case errors.Is(err, playground.ErrNotFound), errors.Is(err, playground.ErrNoWorkspaces):
		return &apiError{http.StatusNotFound, "not_found", "No such share or snippet.", err}
	case errors.Is(err, playground.ErrInvalid):
		msg := strings.TrimPrefix(err.Error(), playground.ErrInvalid.Error()+": ")
		return &apiError{http.StatusBadRequest, "invalid_request", "Invalid share request: " + msg + ".", err}
	case errors.Is(err, playground.ErrClosed):
		return &apiError{http.StatusServiceUnavailable, "shutting_down", "The server is shutting down; try again in a moment.", err}
	}
	return err
}

// playClient is the key of the per-client run limit: the tenant when the
// caller signed in, otherwise the remote address.
func playClient(r *http.Request) string {
	if p, ok := principalFrom(r.Context()); ok {
		return "tenant:" + p.Tenant
	}
	return "ip:" + clientAddr(r)
}

// playCORS sets the headers golang/playground sets on its JSON endpoints:
// any site may call them, without credentials.
func playCORS(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

func (s *Server) handlePlayPreflight(w http.ResponseWriter, r *http.Request) error {
	playCORS(w)
	w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// playBody reads the form (or query) field body, as golang/playground does.
func playBody(r *http.Request) (string, error) {
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", err
		}
		return "", errorf(http.StatusBadRequest, "invalid_form", "The request body is not a valid form.")
	}
	return r.FormValue("body"), nil
}

func (s *Server) handleCompile(w http.ResponseWriter, r *http.Request) error {
	playCORS(w)
	var req playground.Request
	body, err := playBody(r)
	if err != nil {
		return err
	}
	if body != "" {
		req.Body = body
		req.WithVet = r.FormValue("withVet") == "true"
	} else if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return errorf(http.StatusBadRequest, "invalid_json", "The request body is not valid JSON; send {\"body\":\"...\"}.")
		}
	}
	res, err := s.opts.Playground.Compile(r.Context(), playClient(r), req)
	if err != nil {
		return playError(err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) handleVet(w http.ResponseWriter, r *http.Request) error {
	playCORS(w)
	body, err := playBody(r)
	if err != nil {
		return err
	}
	res, err := s.opts.Playground.Vet(r.Context(), playClient(r), body)
	if err != nil {
		return playError(err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// handleVersion answers GET /version as the Go Playground does.
func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) error {
	playCORS(w)
	v, err := s.opts.Playground.Version()
	if err != nil {
		return &apiError{http.StatusServiceUnavailable, "go_version_unknown", "The Go version of the playground is not known.", err}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) handleFmt(w http.ResponseWriter, r *http.Request) error {
	playCORS(w)
	body, err := playBody(r)
	if err != nil {
		return err
	}
	imports := r.FormValue("imports") != "" && r.FormValue("imports") != "false"
	res, err := s.opts.Playground.Fmt(r.Context(), playClient(r), body, imports)
	if err != nil {
		return playError(err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) handleShare(w http.ResponseWriter, r *http.Request) error {
	playCORS(w)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, "empty_body", "Send the snippet as the request body.")
	}
	// Anonymous callers are rate limited per address; signed-in ones are
	// not ("" exempts).
	client := ""
	if _, ok := principalFrom(r.Context()); !ok {
		client = playClient(r)
	}
	id, err := s.opts.Playground.Share(client, body)
	if errors.Is(err, playground.ErrRateLimited) {
		retryAfter(w, s.opts.Playground.ShareRetryAfter())
	}
	if err != nil {
		return playError(err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, id)
	return nil
}

// handleSnippet serves /p/{id}.go (text) and /p/{id} (the web UI's
// playground page, which loads the snippet; 404 for an unknown one).
func (s *Server) handleSnippet(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	raw := strings.HasSuffix(id, ".go")
	id = strings.TrimSuffix(id, ".go")
	body, err := s.opts.Playground.Snippet(id)
	if err != nil {
		return playError(err)
	}
	if raw {
		playCORS(w)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.FormValue("download") == "true" {
			w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.go"`)
		}
		_, _ = w.Write(body)
		return nil
	}
	return s.serveApp(w)
}

func (s *Server) handlePlaySocket(w http.ResponseWriter, r *http.Request) error {
	client := playClient(r)
	return s.serveSocket(w, r, func(ctx context.Context, c *bridge.Conn) error {
		recv := func() (playground.Message, error) {
			var m playground.Message
			_, data, err := c.Read()
			if err != nil {
				return m, err
			}
			if err := json.Unmarshal(data, &m); err != nil {
				return m, errorf(http.StatusBadRequest, "invalid_json", "Send JSON messages.")
			}
			return m, nil
		}
		send := func(m playground.Message) error { return c.WriteJSON(m) }
		return s.opts.Playground.Stream(ctx, client, recv, send)
	})
}

// shareJSON is a share as the API shows it.
type shareJSON struct {
	ID        string               `json:"id"`
	URL       string               `json:"url"`
	Access    string               `json:"access"`
	Name      string               `json:"name,omitempty"`
	CreatedAt time.Time            `json:"created_at"`
	ExpiresAt *time.Time           `json:"expires_at"`
	Skipped   []playground.Skipped `json:"skipped,omitempty"`
}

func (s *Server) toShareJSON(r *http.Request, sh store.Share) shareJSON {
	scheme := "http"
	if s.opts.TLS {
		scheme = "https"
	}
	out := shareJSON{ID: sh.ID, URL: scheme + "://" + r.Host + "/s/" + sh.ID, Access: sh.Access, Name: sh.Name, CreatedAt: sh.CreatedAt.UTC()}
	if !sh.ExpiresAt.IsZero() {
		t := sh.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
}

func (s *Server) handleCreateShare(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.opts.Workspaces.Use(owner(r), r.PathValue("ws")); err != nil {
		return err
	}
	var req playground.ShareRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
	}
	sh, skipped, err := s.opts.Playground.CreateShare(r.Context(), owner(r), r.PathValue("ws"), req)
	if err != nil {
		return playError(err)
	}
	out := s.toShareJSON(r, sh)
	out.Skipped = skipped
	w.Header().Set("Location", "/api/v1/shares/"+sh.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleListShares(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.opts.Workspaces.Use(owner(r), r.PathValue("ws")); err != nil {
		return err
	}
	list, err := s.opts.Playground.ListShares(owner(r), r.PathValue("ws"))
	if err != nil {
		return playError(err)
	}
	out := make([]shareJSON, 0, len(list))
	for _, sh := range list {
		out = append(out, s.toShareJSON(r, sh))
	}
	writeJSON(w, http.StatusOK, map[string][]shareJSON{"shares": out})
	return nil
}

// sharedSnapshot is what anyone may see of a share: the snapshot, nothing of
// its owner.
type sharedSnapshot struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Access    string            `json:"access"`
	Files     map[string]string `json:"files"`
	CreatedAt time.Time         `json:"created_at"`
	ExpiresAt *time.Time        `json:"expires_at"`
}

func (s *Server) handleGetShare(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.opts.Playground.GetShare(r.PathValue("id"))
	if err != nil {
		return playError(err)
	}
	j := s.toShareJSON(r, sh)
	files := sh.Files
	if files == nil {
		files = map[string]string{}
	}
	writeJSON(w, http.StatusOK, sharedSnapshot{sh.ID, sh.Name, sh.Access, files, j.CreatedAt, j.ExpiresAt})
	return nil
}

func (s *Server) handleDeleteShare(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Playground.DeleteShare(owner(r), r.PathValue("id")); err != nil {
		return playError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleForkShare(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.opts.Playground.ForkShare(r.Context(), owner(r), r.PathValue("id"))
	if err != nil {
		return playError(err)
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+ws.ID)
	writeJSON(w, http.StatusCreated, toWorkspaceJSON(ws))
	return nil
}

// handleSharePage serves /s/{id}: the web UI's read-only share page
// of the snapshot (404 for an unknown, expired or revoked share).
func (s *Server) handleSharePage(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.opts.Playground.GetShare(r.PathValue("id")); err != nil {
		return playError(err)
	}
	return s.serveApp(w)
}
