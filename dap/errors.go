package dap

import (
	"errors"
	"fmt"

	"github.com/ideserver/ideserver/internal/bridge"
)

var (
	// ErrLimit is returned by Open when the workspace or the tenant has as
	// many debug sessions as allowed. It wraps bridge.ErrLimit.
	ErrLimit = fmt.Errorf("dap: %w", bridge.ErrLimit)
	// ErrClosed is returned by Open after Close. It wraps bridge.ErrClosed.
	ErrClosed = fmt.Errorf("dap: %w", bridge.ErrClosed)
	// ErrUnavailable wraps failures to start a session (dlv missing or not
	// built yet, dlv not connecting). It wraps bridge.ErrUnavailable.
	ErrUnavailable = fmt.Errorf("dap: debugger %w", bridge.ErrUnavailable)
)

// errDlvEnded is how the dlv pump reports that dlv closed its side.
var errDlvEnded = errors.New("dlv ended")
