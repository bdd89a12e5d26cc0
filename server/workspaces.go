package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// decodeJSON reads one JSON object from r's body into v. Unknown fields,
// trailing data, a wrong content type and malformed JSON are 4xx errors
// with a message naming the problem.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the request body as application/json.")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe), errors.Is(err, errBodyTimeout):
			return err
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "invalid_json", "The request body is empty; send a JSON object.")
		case errors.As(err, &se):
			return errorf(http.StatusBadRequest, "invalid_json", "The request body is not valid JSON (at byte %d).", se.Offset)
		case errors.As(err, &te):
			return errorf(http.StatusBadRequest, "invalid_json", "The field %q has the wrong type; expected %s.", te.Field, te.Type)
		default:
			// DisallowUnknownFields and friends: the message names the
			// field the client sent, nothing of ours.
			return errorf(http.StatusBadRequest, "invalid_json", "The request body is not what this route accepts: %s.", err.Error())
		}
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid_json", "Send exactly one JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "invalid_json", "Send exactly one JSON object.")
	}
	return nil
}

// owner is the workspace owner the caller may act as.
func owner(r *http.Request) workspace.Owner {
	p, _ := principalFrom(r.Context())
	return workspace.Owner{Tenant: p.Tenant, User: p.User}
}

// workspaceJSON is a workspace as the API shows it.
type workspaceJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toWorkspaceJSON(w store.Workspace) workspaceJSON {
	return workspaceJSON{w.ID, w.Name, w.State, w.CreatedAt.UTC(), w.UpdatedAt.UTC()}
}

type createWorkspaceRequest struct {
	Name     string            `json:"name"`
	Files    map[string]string `json:"files"`
	Template string            `json:"template"`
}

func (s *Server) handleCreateWorkspace(w http.ResponseWriter, r *http.Request) error {
	var req createWorkspaceRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ws, err := s.opts.Workspaces.Create(r.Context(), owner(r), workspace.CreateOptions{
		Name: req.Name, Files: req.Files, Template: req.Template,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+ws.ID)
	writeJSON(w, http.StatusCreated, toWorkspaceJSON(ws))
	return nil
}

func (s *Server) handleListWorkspaces(w http.ResponseWriter, r *http.Request) error {
	list, err := s.opts.Workspaces.List(owner(r))
	if err != nil {
		return err
	}
	out := make([]workspaceJSON, 0, len(list))
	for _, ws := range list {
		out = append(out, toWorkspaceJSON(ws))
	}
	writeJSON(w, http.StatusOK, map[string][]workspaceJSON{"workspaces": out})
	return nil
}

func (s *Server) handleGetWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.opts.Workspaces.Get(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
	return nil
}

type renameWorkspaceRequest struct {
	Name *string `json:"name"`
}

func (s *Server) handleRenameWorkspace(w http.ResponseWriter, r *http.Request) error {
	var req renameWorkspaceRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	workspaceID := r.PathValue("ws")
	if req.Name == nil {
		// Nothing to change; still answer 404 for another's workspace.
		return s.handleGetWorkspace(w, r)
	}
	ws, err := s.opts.Workspaces.Rename(owner(r), workspaceID, *req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
	return nil
}

func (s *Server) handleDeleteWorkspace(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Workspaces.Delete(r.Context(), owner(r), r.PathValue("ws")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleSuspendWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.opts.Workspaces.Suspend(r.Context(), owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
	return nil
}

func (s *Server) handleResumeWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.opts.Workspaces.Resume(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
	return nil
}

// handleGetState answers the client's opaque UI state, or null when none
// was saved.
func (s *Server) handleGetState(w http.ResponseWriter, r *http.Request) error {
	state, err := s.opts.Workspaces.State(owner(r), r.PathValue("ws"))
	if err != nil {
		return err
	}
	if state == nil {
		state = []byte("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(state)
	return nil
}

// handlePutState stores any JSON value of at most Limits.MaxStateSize.
func (s *Server) handlePutState(w http.ResponseWriter, r *http.Request) error {
	var state json.RawMessage
	if err := decodeJSONValue(r, &state); err != nil {
		return err
	}
	if err := s.opts.Workspaces.SetState(owner(r), r.PathValue("ws"), []byte(state)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeJSONValue reads any single JSON value (unknown fields are the
// client's business here).
func decodeJSONValue(r *http.Request, v *json.RawMessage) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if !json.Valid(body) {
		return errorf(http.StatusBadRequest, "invalid_json", "The state must be one valid JSON value.")
	}
	*v = json.RawMessage(body)
	return nil
}
