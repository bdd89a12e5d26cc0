package terminal

import (
	"errors"
	"fmt"

	"github.com/ideserver/ideserver/internal/bridge"
)

var (
	// ErrNotFound: no such terminal for this owner and workspace (or it
	// ended and its output was delivered). It wraps bridge.ErrNotFound.
	ErrNotFound = fmt.Errorf("terminal: %w", bridge.ErrNotFound)
	// ErrLimit: the workspace or tenant has as many terminals as allowed.
	// It wraps bridge.ErrLimit.
	ErrLimit = fmt.Errorf("terminal: %w", bridge.ErrLimit)
	// ErrClosed: the Manager was closed. It wraps bridge.ErrClosed.
	ErrClosed = fmt.Errorf("terminal: %w", bridge.ErrClosed)
	// ErrInvalidSize: cols or rows out of [1, MaxCols] x [1, MaxRows].
	ErrInvalidSize = errors.New("terminal: invalid size")
	// ErrInvalidCommand: an empty command, an empty or NUL-holding argument,
	// or one too long.
	ErrInvalidCommand = errors.New("terminal: invalid command")
	// ErrInputTooLarge ends an attachment whose client sent a message larger
	// than Options.MaxInput; Attach returns it inside a bridge.CloseError
	// with code 1009.
	ErrInputTooLarge = errors.New("terminal: input message too large")
)

// addErr maps an error of the registry's Add to the package's sentinels.
func addErr(err error) error {
	switch {
	case errors.Is(err, bridge.ErrLimit):
		return fmt.Errorf("%w (%w)", ErrLimit, err)
	case errors.Is(err, bridge.ErrClosed):
		return ErrClosed
	}
	return err
}

// stoppedWhileStarting is Create's error for a terminal stopped before its
// process existed: the manager closed (ErrClosed), or its workspace
// stopped (ErrNotFound: the terminal is gone).
func stoppedWhileStarting(cause error) error {
	if errors.Is(cause, bridge.ErrShuttingDown) {
		return ErrClosed
	}
	return fmt.Errorf("%w: stopped while starting (%w)", ErrNotFound, cause)
}
