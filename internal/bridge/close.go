package bridge

import (
	"context"
	"errors"

	"github.com/gorilla/websocket"
)

// WebSocket close codes (RFC 6455, section 7.4).
const (
	CloseNormal          = websocket.CloseNormalClosure
	CloseGoingAway       = websocket.CloseGoingAway
	CloseUnsupportedData = websocket.CloseUnsupportedData
	CloseInvalidPayload  = websocket.CloseInvalidFramePayloadData
	ClosePolicyViolation = websocket.ClosePolicyViolation
	CloseTooBig          = websocket.CloseMessageTooBig
	CloseInternal        = websocket.CloseInternalServerErr
	CloseTryAgainLater   = websocket.CloseTryAgainLater
)

// CloseError is an error that says how a WebSocket must close: with Code
// and Reason (at most 123 bytes, shown to the client). Bridges return it,
// wrapped or not, and the server closes with it. Err is the cause, for
// logs; it never reaches the client.
type CloseError struct {
	Code   int
	Reason string
	Err    error
}

// Closing returns a CloseError.
func Closing(code int, reason string, err error) *CloseError {
	return &CloseError{Code: code, Reason: reason, Err: err}
}

func (e *CloseError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

// Unwrap returns the cause.
func (e *CloseError) Unwrap() error { return e.Err }

// Stop causes: Registry.Stop and Registry.Close stop sessions with them,
// and a session closes its client's WebSocket with their code and reason.
var (
	// ErrWorkspaceStopped ends the sessions of a workspace that is
	// suspended or deleted.
	ErrWorkspaceStopped = Closing(CloseGoingAway, "workspace stopped", nil)
	// ErrShuttingDown ends every session when the server stops.
	ErrShuttingDown = Closing(CloseGoingAway, "server shutting down", nil)
)

// CloseCode maps a bridge's result to a close frame: nil and a close from
// the peer give a normal closure; a CloseError (found with errors.As) its
// code and reason; an oversized message 1009; a cancelled context 1001
// (the server is shutting down); anything else 1011 "internal error".
func CloseCode(err error) (int, string) {
	var ce *CloseError
	switch {
	case err == nil, IsPeerClose(err):
		return CloseNormal, ""
	case errors.As(err, &ce):
		return ce.Code, ce.Reason
	case errors.Is(err, websocket.ErrReadLimit):
		return CloseTooBig, "message too big"
	case errors.Is(err, context.Canceled):
		return CloseGoingAway, "server shutting down"
	default:
		return CloseInternal, "internal error"
	}
}

// IsPeerClose reports whether err is the peer's orderly close (1000, 1001,
// or a close frame without a code).
func IsPeerClose(err error) bool {
	return websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived)
}

// Sentinels every bridge wraps, so the HTTP layer maps each to one answer.
var (
	// ErrLimit: the workspace, tenant or owner has as many sessions as
	// allowed.
	ErrLimit = errors.New("too many sessions")
	// ErrNotFound: no such session for this owner and workspace.
	ErrNotFound = errors.New("no such session")
	// ErrClosed: the bridge is shutting down.
	ErrClosed = errors.New("shutting down")
	// ErrUnavailable: the tool the bridge runs (gopls, dlv) cannot be
	// started right now.
	ErrUnavailable = errors.New("unavailable")
)
