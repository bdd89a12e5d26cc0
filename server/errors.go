package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// apiError is what a client may read. Err is for the log only.
type apiError struct {
	Status  int    // HTTP status
	Code    string // snake_case, e.g. "invalid_path"
	Message string // one sentence a user can act on
	Err     error  // cause; logged, never sent
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.Err }

// errorf makes an apiError with a formatted message.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = errorf(http.StatusUnauthorized, "unauthorized", "Sign in: send a valid credential in the Authorization header, the login cookie, or a WebSocket ticket.")
	errNotFound     = errorf(http.StatusNotFound, "not_found", "No such resource.")
)

// toAPIError maps errors of the packages below to what a client may read.
// Messages are fixed sentences, never err.Error() of a lower layer, which
// could hold a host path.
func toAPIError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, workspace.ErrInvalidPath):
		return &apiError{http.StatusBadRequest, "invalid_path", "The path must be relative to the workspace root, without '..', absolute parts, control characters, or symlinks leading outside.", err}
	case errors.Is(err, workspace.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return &apiError{http.StatusNotFound, "not_found", "No such workspace, file or resource.", err}
	case errors.Is(err, workspace.ErrExists), errors.Is(err, store.ErrExists):
		return &apiError{http.StatusConflict, "already_exists", "Something already exists at that path; remove or rename it first.", err}
	case errors.Is(err, workspace.ErrNotEmpty):
		return &apiError{http.StatusConflict, "directory_not_empty", "The directory is not empty; pass recursive=true to delete it with its contents.", err}
	case errors.Is(err, workspace.ErrIsDir):
		return &apiError{http.StatusConflict, "is_directory", "The path names a directory, not a file.", err}
	case errors.Is(err, workspace.ErrNotDir):
		return &apiError{http.StatusConflict, "not_directory", "A part of the path is a file, not a directory.", err}
	case errors.Is(err, workspace.ErrPrecondition):
		return &apiError{http.StatusPreconditionFailed, "precondition_failed", "The file changed since you read it (If-Match does not match its ETag); reload and try again.", err}
	case errors.Is(err, workspace.ErrTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", "The content is larger than this server accepts.", err}
	case errors.Is(err, workspace.ErrInvalidQuery):
		return &apiError{http.StatusBadRequest, "invalid_query", "The search text is empty or not a valid regular expression.", err}
	case errors.Is(err, workspace.ErrInvalidName):
		return &apiError{http.StatusBadRequest, "invalid_name", "A workspace name is at most 100 bytes of text without control characters.", err}
	case errors.Is(err, workspace.ErrTemplate):
		return &apiError{http.StatusBadRequest, "unknown_template", "Unknown template; use \"hello\" or leave it out.", err}
	case errors.Is(err, workspace.ErrQuota):
		return &apiError{http.StatusTooManyRequests, "quota_exceeded", "You have reached the number of workspaces you may own; delete one first.", err}
	case errors.Is(err, auth.ErrTooManyTickets):
		return &apiError{http.StatusTooManyRequests, "too_many_tickets", "Too many unused WebSocket tickets; use or let some expire first.", err}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("The request body is larger than the %d bytes this route accepts.", mbe.Limit), err}
	}
	return &apiError{http.StatusInternalServerError, "internal", "Something went wrong on the server; try again, and tell the operator if it persists.", err}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError logs err (with its cause) and writes the API error body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	level := slog.LevelDebug
	if ae.Status >= 500 {
		level = slog.LevelError
		s.metrics.errors.WithLabelValues("http", ae.Code).Inc()
	}
	s.log(r).Log(r.Context(), level, "request failed", "status", ae.Status, "code", ae.Code, "err", ae.Err)
	if ae.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		// A quota (terminals, sockets, workspaces) frees when the client
		// closes something; a rate limit sets its own delay first.
		w.Header().Set("Retry-After", strconv.Itoa(quotaRetryAfter))
	}
	writeJSON(w, ae.Status, errorBody{errorDetail{ae.Code, ae.Message}})
}

// quotaRetryAfter is the Retry-After, in seconds, of a 429 that has no
// delay of its own (AV-03).
const quotaRetryAfter = 5

// writeJSON writes v as the JSON response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
