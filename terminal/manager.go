package terminal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/workspace"
)

// Manager owns the terminals of all workspaces. Its methods are safe for
// concurrent use.
type Manager struct {
	opts Options
	log  *slog.Logger
	met  *metrics
	ctx  context.Context // parent of every process; cancelled by Close
	stop context.CancelFunc

	// reg holds the terminals from Create until they end (Delete, idle
	// timeout, StopWorkspace, Close) or their exit is delivered to a
	// client; it enforces MaxPerWorkspace and MaxPerTenant.
	reg *bridge.Registry[*Terminal]
	wg  sync.WaitGroup // terminal readers and the process closers Stop starts

	beforeStart func() // tests only (export_test.go): called as a start begins
}

// New returns a Manager. It starts nothing until Create.
func New(opts Options) (*Manager, error) {
	opts.setDefaults()
	met, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Manager{
		opts: opts,
		log:  opts.Logger,
		met:  met,
		ctx:  ctx,
		stop: stop,
		reg:  bridge.NewRegistry[*Terminal](bridge.Limits{PerWorkspace: opts.MaxPerWorkspace, PerTenant: opts.MaxPerTenant}),
	}, nil
}

// Get returns the terminal id of h's user in h's workspace, or ErrNotFound
// (also for another user's or workspace's terminal, and while it starts).
func (m *Manager) Get(h *workspace.Handle, id string) (*Terminal, error) {
	t, ok := m.reg.Get(h.Key(), id)
	if !ok || t.process() == nil {
		return nil, ErrNotFound
	}
	return t, nil
}

// List returns the terminals of h's user in h's workspace, oldest first.
func (m *Manager) List(h *workspace.Handle) []Info {
	ts := m.reg.List(h.Key())
	out := make([]Info, 0, len(ts))
	for _, t := range ts {
		if t.process() != nil {
			out = append(out, t.Info())
		}
	}
	return out
}

// Delete ends the terminal id of h's user in h's workspace: it kills every process
// the terminal started (background jobs and setsid'ed children included)
// and returns when they are gone. Attached clients receive the remaining
// output and the exit message. ErrNotFound for an unknown terminal; an
// error wrapping sandbox.ErrSurvivors if something could not be killed.
func (m *Manager) Delete(ctx context.Context, h *workspace.Handle, id string) error {
	t, err := m.Get(h, id)
	if err != nil {
		return err
	}
	return t.end(ctx)
}

// StopWorkspace ends every terminal of workspaceID, as Delete, and returns
// when their processes are gone or ctx ends. It is the workspace OnStop
// hook (suspend, delete, shutdown).
func (m *Manager) StopWorkspace(ctx context.Context, workspaceID string) error {
	var ts []*Terminal
	for _, t := range m.reg.All() {
		if t.key.WorkspaceID == workspaceID {
			ts = append(ts, t)
		}
	}
	if err := m.reg.Stop(ctx, workspaceID); err != nil {
		return fmt.Errorf("stop terminals: %w", err)
	}
	return endErrs(ts)
}

// Close makes later Creates fail with ErrClosed, ends every terminal and
// waits until their processes are gone and their readers have stopped, or
// until ctx ends. Idempotent.
func (m *Manager) Close(ctx context.Context) error {
	ts := m.reg.All()
	if err := m.reg.Close(ctx); err != nil {
		return fmt.Errorf("close terminals: %w", err)
	}
	if err := bridge.Wait(ctx, &m.wg); err != nil {
		return fmt.Errorf("close terminals: %w", err)
	}
	m.stop()
	return endErrs(ts)
}

// endErrs joins what ending ts's processes returned (sandbox.ErrSurvivors).
func endErrs(ts []*Terminal) error {
	errs := make([]error, len(ts))
	for i, t := range ts {
		errs[i] = t.endErr()
	}
	return errors.Join(errs...)
}

// Count reports the terminals the manager holds, starting ones included
// (for tests and readiness).
func (m *Manager) Count() int { return m.reg.Len() }
