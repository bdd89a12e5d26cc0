package lsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/workspace"
)

// Options configures a Manager.
type Options struct {
	// Watchers feeds gopls the workspace's file events; nil: no feeding.
	Watchers *workspace.Watchers
	// GoplsPath resolves the gopls binary (gotool.Installer.Path); required.
	GoplsPath func(ctx context.Context) (string, error)

	// IdleTimeout stops a session's gopls after that long without a client
	// message; the next message starts it again. 0 means 10 minutes.
	IdleTimeout time.Duration
	// MaxInFlight caps a connection's requests awaiting gopls's answer;
	// more get a RequestFailed error at once. 0 means 64.
	MaxInFlight int
	// MessageRate and MessageBurst are the token bucket for client
	// messages per connection: over the rate, reading waits. 0 means 200/s
	// and a burst of 400.
	MessageRate  float64
	MessageBurst int
	// MaxOpenBytes caps the text (and URIs) of the documents a connection
	// has open, which the proxy keeps to replay after a gopls restart; a
	// didOpen or didChange beyond it ends the session (close code 1008).
	// 0 means 256 MiB.
	MaxOpenBytes int
	// MaxServerMessage caps a message from gopls; a larger Content-Length
	// is treated as a gopls fault (it is restarted). 0 means 64 MiB.
	MaxServerMessage int
	// MaxRestarts within RestartWindow end the session (the crash loop is
	// capped and reported). 0 means 5 within 5 minutes.
	MaxRestarts   int
	RestartWindow time.Duration
	// RestartBackoff is the first wait before restarting gopls, doubled
	// per restart within the window up to 5 s. 0 means 200 ms.
	RestartBackoff time.Duration
	// ShutdownTimeout bounds the graceful shutdown/exit of gopls before it
	// is killed. 0 means 2 s.
	ShutdownTimeout time.Duration
	// InitTimeout bounds a replayed initialize. 0 means 30 s.
	InitTimeout time.Duration

	Metrics *Metrics     // nil: no metrics
	Logger  *slog.Logger // nil: discard
}

// Manager owns the gopls sessions of all workspaces. It is safe for
// concurrent use.
type Manager struct {
	opts     Options
	log      *slog.Logger
	sessions *bridge.Registry[*session]
}

// NewManager checks opts and returns a Manager.
func NewManager(opts Options) (*Manager, error) {
	switch {
	case opts.GoplsPath == nil:
		return nil, errors.New("lsp: Options.GoplsPath is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.IdleTimeout, 10*time.Minute)
	def(&opts.RestartWindow, 5*time.Minute)
	def(&opts.RestartBackoff, 200*time.Millisecond)
	def(&opts.ShutdownTimeout, 2*time.Second)
	def(&opts.InitTimeout, 30*time.Second)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	if opts.MessageRate <= 0 {
		opts.MessageRate = 200
	}
	if opts.MessageBurst <= 0 {
		opts.MessageBurst = 400
	}
	if opts.MaxOpenBytes <= 0 {
		opts.MaxOpenBytes = 256 << 20
	}
	if opts.MaxServerMessage <= 0 {
		opts.MaxServerMessage = 64 << 20
	}
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{opts: opts, log: opts.Logger, sessions: bridge.NewRegistry[*session](bridge.Limits{})}, nil
}

// Serve proxies one LSP connection of the workspace h until the client
// leaves, ctx ends, the workspace stops (StopWorkspace) or the manager
// closes. conn carries one JSON-RPC message per text frame. Serve starts
// gopls (h.Start: as h's user, with its HOME and caches, in the sandbox
// view of the workspace) before reading the client, and when it returns
// gopls has been shut down and nothing it started runs. URIs are mapped
// between the client roots and gopls's paths by h.Paths. It returns a
// *bridge.CloseError when the client must be told why it ended (1007
// malformed message, 1008 open documents over the limit, 1011 gopls keeps
// crashing, 1013 gopls unavailable, 1001 workspace stopped or server
// shutting down), having closed conn with it already; after Close it
// fails with bridge.ErrClosed.
func (m *Manager) Serve(ctx context.Context, h *workspace.Handle, conn *bridge.Conn) error {
	return m.serve(ctx, handleTarget(h), conn)
}

func (m *Manager) serve(ctx context.Context, t target, client clientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newSession(m, t, client, cancel)
	if err := m.sessions.Add(t.key, "", s); err != nil {
		return fmt.Errorf("lsp: %w", err)
	}
	defer func() {
		m.sessions.Remove(s)
		close(s.done) // after Remove: StopWorkspace's callers see Sessions without s
	}()
	if mt := m.opts.Metrics; mt != nil {
		mt.sessions.Inc()
		defer mt.sessions.Dec()
	}
	return s.serve(ctx)
}

// StopWorkspace ends every session of workspace workspaceID and waits for
// them (or ctx). It is a workspace.StopFunc: register it with OnStop.
func (m *Manager) StopWorkspace(ctx context.Context, workspaceID string) error {
	return m.sessions.Stop(ctx, workspaceID)
}

// Close ends every session and waits until their gopls processes are gone
// (or ctx ends). Serve fails with bridge.ErrClosed afterwards. Close may be
// called more than once.
func (m *Manager) Close(ctx context.Context) error {
	return m.sessions.Close(ctx)
}

// Sessions returns how many LSP connections are being served.
func (m *Manager) Sessions() int { return m.sessions.Len() }
