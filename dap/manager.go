package dap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/workspace"
)

// Manager runs debug sessions. Its methods are safe for concurrent use.
type Manager struct {
	opts      Options
	log       *slog.Logger
	metrics   *metrics
	ownRunDir bool // New made opts.RunDir; Close removes it

	// sessions holds every session from Open until it has ended (Serve
	// returned) or was closed unserved; it enforces MaxPerWorkspace and
	// MaxPerTenant.
	sessions *bridge.Registry[*Session]

	// peerCheckHook, set by tests only, runs before the peer check of a
	// dlv started in a terminal.
	peerCheckHook func()
}

// New checks opts and returns a Manager. It starts nothing.
func New(opts Options) (*Manager, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if opts.RunDir != "" {
		if err := checkRunDir(opts.RunDir); err != nil {
			return nil, err
		}
		if err := removeLeftovers(opts.RunDir); err != nil {
			return nil, err
		}
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
		opts: opts, log: opts.Logger, metrics: m, ownRunDir: ownRunDir,
		sessions: bridge.NewRegistry[*Session](bridge.Limits{PerWorkspace: opts.MaxPerWorkspace, PerTenant: opts.MaxPerTenant}),
	}, nil
}

// Open reserves a debug session for the workspace of h (the caller's
// checked access: dlv runs as h's user, with its uid, HOME and caches, and
// is started with h.Start). It returns an error wrapping ErrLimit when the
// workspace or its tenant is at its limit and ErrClosed after Close. The
// session must be served or closed.
func (m *Manager) Open(h *workspace.Handle) (*Session, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Session{
		m: m, h: h,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	if err := m.sessions.Add(h.Key(), "", s); err != nil {
		cancel(nil)
		switch {
		case errors.Is(err, bridge.ErrLimit):
			m.metrics.refused.WithLabelValues("limit").Inc()
			return nil, fmt.Errorf("%w (%w)", ErrLimit, err)
		case errors.Is(err, bridge.ErrClosed):
			return nil, ErrClosed
		}
		return nil, err
	}
	m.metrics.sessions.Inc()
	return s, nil
}

// release frees s's slot; once per session.
func (m *Manager) release(s *Session) {
	s.releaseOnce.Do(func() {
		m.sessions.Remove(s)
		m.metrics.sessions.Dec()
	})
}

// Stop ends every session of the workspace (dlv and debuggee killed, the
// client told `terminated`, its socket closed with 1001 "workspace
// stopped") and waits for them until ctx ends. It is the workspace's stop
// hook (suspend, delete).
func (m *Manager) Stop(ctx context.Context, workspaceID string) error {
	if err := m.sessions.Stop(ctx, workspaceID); err != nil {
		return fmt.Errorf("stop debug sessions: %w", err)
	}
	return nil
}

// Close makes later Opens fail, ends every session (their sockets closed
// with 1001 "server shutting down") and waits for them until ctx ends.
func (m *Manager) Close(ctx context.Context) error {
	if err := m.sessions.Close(ctx); err != nil {
		return fmt.Errorf("stop debug sessions: %w", err)
	}
	if m.ownRunDir {
		return os.RemoveAll(m.opts.RunDir)
	}
	return nil
}
