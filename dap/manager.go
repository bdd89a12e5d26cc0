package dap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

var (
	// ErrLimit is returned by Open when the workspace or the tenant has as
	// many debug sessions as allowed.
	ErrLimit = errors.New("dap: too many debug sessions")
	// ErrClosed is returned by Open after Close.
	ErrClosed = errors.New("dap: manager closed")
	// ErrUnavailable wraps failures to start a session (dlv missing or not
	// built yet, dlv not connecting).
	ErrUnavailable = errors.New("dap: debugger unavailable")
	// ErrTerminalLimit is what a Terminals implementation wraps when the
	// workspace or tenant has as many terminals as allowed.
	ErrTerminalLimit = errors.New("dap: too many terminals")
)

// Workspaces is what the manager needs of workspace.Manager.
type Workspaces interface {
	// Dir is the workspace's host directory.
	Dir(id string) string
	// ProcessEnv is the complete environment of a user's processes
	// (owner is its owner key, workspace.Owner.Key).
	ProcessEnv(owner string, extra ...string) ([]string, error)
	// HomeDirs are the user's own directories (HOME, its module cache).
	HomeDirs(owner string) (workspace.HomeDirs, error)
}

var _ Workspaces = (*workspace.Manager)(nil)

// Terminals starts programs in the workspaces' terminals: cmd/ideserver
// adapts package terminal to it, so a terminal started here is listed and
// attachable like any other.
type Terminals interface {
	// Start runs cmd in a new terminal of owner's workspace: on a PTY
	// that is its stdin, stdout and stderr, in the workspace directory,
	// with the user's process environment, through the sandbox with
	// cmd's Binds and Ptrace (terminal.CreateOptions has both). Errors
	// wrap ErrTerminalLimit at the terminal limits and never hold a host
	// path.
	Start(ctx context.Context, owner, workspace string, cmd TerminalCmd) (Terminal, error)
}

// TerminalCmd is the program Terminals.Start runs: dlv.
type TerminalCmd struct {
	Argv   []string       // argv[0] an absolute host path
	Binds  []sandbox.Bind // further host paths it sees (sandbox.Cmd.Binds)
	Ptrace bool           // it is a debugger (sandbox.Cmd.Ptrace)
}

// Terminal is a terminal started by Terminals.
type Terminal interface {
	// ID is the terminal's id in the terminals API.
	ID() string
	// Owns reports whether pid is the terminal's process or a live
	// descendant of it (sandbox.Process.Owns): the dlv it runs, which
	// under bubblewrap is a descendant.
	Owns(pid int) bool
	// UID is the host uid the terminal's processes run as
	// (sandbox.Process.UID).
	UID() int
	// Done is closed when the terminal's process has ended.
	Done() <-chan struct{}
	// Close ends the terminal and everything started in it and returns
	// when they are gone or ctx ends. Safe to call more than once.
	Close(ctx context.Context) error
}

// Stream is the client side of a session: one DAP message (JSON, no
// Content-Length header) per call. ReadMessage is called from one goroutine;
// WriteMessage is called from one goroutine at a time (the session
// serialises its writes); Close must unblock a pending ReadMessage and may
// be called more than once.
type Stream interface {
	ReadMessage() ([]byte, error)
	WriteMessage(msg []byte) error
	Close() error
}

// Options configures a Manager. Runner, Workspaces and Dlv are required;
// zero values of the others take the defaults in parentheses.
type Options struct {
	Runner     *sandbox.Runner
	Workspaces Workspaces
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
	// HiddenDirs are host directories whose paths must never reach a client
	// even outside the client roots (the server's data directory); they are
	// shown as /ideserver.
	HiddenDirs []string
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
	// client attaches to for the program's stdin and output (nil: such a
	// launch is refused).
	Terminals Terminals

	Registerer prometheus.Registerer // nil: metrics are not registered
	Logger     *slog.Logger          // nil: discard
}

// Manager runs debug sessions. Its methods are safe for concurrent use.
type Manager struct {
	opts      Options
	log       *slog.Logger
	metrics   *metrics
	ownRunDir bool // New made opts.RunDir; Close removes it

	mu       sync.Mutex
	closed   bool
	sessions map[*Session]struct{}
	perWS    map[string]int
	perTen   map[string]int
}

// New checks opts and returns a Manager. It starts nothing.
func New(opts Options) (*Manager, error) {
	switch {
	case opts.Runner == nil:
		return nil, errors.New("dap: Options.Runner is required")
	case opts.Workspaces == nil:
		return nil, errors.New("dap: Options.Workspaces is required")
	case opts.Dlv == nil:
		return nil, errors.New("dap: Options.Dlv is required")
	}
	if opts.RunDir != "" {
		if err := checkRunDir(opts.RunDir); err != nil {
			return nil, err
		}
		if err := removeLeftovers(opts.RunDir); err != nil {
			return nil, err
		}
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = 16 << 20
	}
	if opts.MaxPerWorkspace <= 0 {
		opts.MaxPerWorkspace = 2
	}
	if opts.MaxPerTenant <= 0 {
		opts.MaxPerTenant = 8
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	ownRunDir := opts.RunDir == ""
	if ownRunDir {
		if opts.RunDir, err = makeRunDir(); err != nil {
			return nil, err
		}
	}
	return &Manager{
		opts: opts, log: log, metrics: m, ownRunDir: ownRunDir,
		sessions: make(map[*Session]struct{}),
		perWS:    make(map[string]int),
		perTen:   make(map[string]int),
	}, nil
}

// Open reserves a debug session for owner's workspace; owner is the user's
// owner key (workspace.Owner.Key), whose uid, HOME and caches dlv gets. The
// caller has checked that owner owns the workspace. It returns ErrLimit
// when the workspace or its tenant is at its limit and ErrClosed after
// Close. The session must be served or closed.
func (m *Manager) Open(owner, workspaceID string) (*Session, error) {
	tenant := workspace.OwnerTenant(owner)
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return nil, ErrClosed
	case m.perWS[workspaceID] >= m.opts.MaxPerWorkspace || m.perTen[tenant] >= m.opts.MaxPerTenant:
		m.metrics.refused.WithLabelValues("limit").Inc()
		return nil, ErrLimit
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		m: m, owner: owner, ws: workspaceID,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	m.sessions[s] = struct{}{}
	m.perWS[workspaceID]++
	m.perTen[tenant]++
	m.metrics.sessions.Inc()
	return s, nil
}

func (m *Manager) release(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s]; !ok {
		return
	}
	delete(m.sessions, s)
	if m.perWS[s.ws]--; m.perWS[s.ws] <= 0 {
		delete(m.perWS, s.ws)
	}
	tenant := workspace.OwnerTenant(s.owner)
	if m.perTen[tenant]--; m.perTen[tenant] <= 0 {
		delete(m.perTen, tenant)
	}
	m.metrics.sessions.Dec()
}

// Stop ends every session of the workspace (dlv and debuggee killed, the
// client told `terminated`) and waits for them until ctx ends. It is the
// workspace's stop hook (suspend, delete, shutdown).
func (m *Manager) Stop(ctx context.Context, workspaceID string) error {
	return m.stopWhere(ctx, func(s *Session) bool { return s.ws == workspaceID })
}

// Close makes later Opens fail, ends every session and waits for them
// until ctx ends.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	if err := m.stopWhere(ctx, func(*Session) bool { return true }); err != nil {
		return err
	}
	if m.ownRunDir {
		return os.RemoveAll(m.opts.RunDir)
	}
	return nil
}

func (m *Manager) stopWhere(ctx context.Context, match func(*Session) bool) error {
	m.mu.Lock()
	var stop []*Session
	for s := range m.sessions {
		if match(s) {
			stop = append(stop, s)
		}
	}
	m.mu.Unlock()
	for _, s := range stop {
		s.cancel()
	}
	for _, s := range stop {
		select {
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("stop debug sessions: %w", ctx.Err())
		}
	}
	return nil
}
