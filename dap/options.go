package dap

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/terminal"
)

// Options configures a Manager. Runner and Dlv are required;
// zero values of the others take the defaults in parentheses.
type Options struct {
	// Runner is the sandbox runner the workspaces' handles start with; the
	// manager asks it only for the isolation and a user's uid.
	Runner *sandbox.Runner
	// Dlv returns the dlv binary, waiting until ctx ends while it is being
	// prepared.
	Dlv func(ctx context.Context) (string, error)

	// RunDir holds each session's private 0700 directory (the sockets dlv
	// dials and the debug binary it builds). It must be the server's
	// (owned by it or root, writable by no one else: New checks), so that
	// no tenant can rename or replace a session directory; it is the
	// package's alone, and New removes what an earlier run left in it.
	// cmd/ideserver uses DATA/run/dap. Empty: New makes one in
	// os.TempDir(), and Close removes it.
	RunDir string
	// MaxMessage bounds one DAP message in either direction (16 MiB). A
	// larger one from dlv ends the session.
	MaxMessage int
	// MaxPerWorkspace and MaxPerTenant bound concurrent sessions (2, 8).
	MaxPerWorkspace int
	MaxPerTenant    int
	// StartTimeout bounds waiting for dlv and for it to connect (30s).
	StartTimeout time.Duration
	// Terminals, when set, lets a launch with console "integratedTerminal"
	// run dlv, and so the program, in a workspace terminal that the
	// client attaches to for the program's stdin and output, listed and
	// attachable like any other (nil: such a launch is refused).
	Terminals *terminal.Manager

	Registerer prometheus.Registerer // nil: metrics are not registered
	Logger     *slog.Logger          // nil: discard
}

// setDefaults checks the required options and fills in the defaults.
func (o *Options) setDefaults() error {
	switch {
	case o.Runner == nil:
		return errors.New("dap: Options.Runner is required")
	case o.Dlv == nil:
		return errors.New("dap: Options.Dlv is required")
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 16 << 20
	}
	if o.MaxPerWorkspace <= 0 {
		o.MaxPerWorkspace = 2
	}
	if o.MaxPerTenant <= 0 {
		o.MaxPerTenant = 8
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
