package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/gotool"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/terminal"
)

// wireDAP builds the dap feature into opts: a dap.Manager running one dlv
// per DAP WebSocket, stopped with the workspace (suspend, delete,
// shutdown). When terminals are served (d.terminals), a launch with console
// "integratedTerminal" runs in one of its terminals.
func wireDAP(d *deps, opts *server.Options) (feature, error) {
	c := d.cfg.DAP
	d.tools.Prepare(gotool.Dlv())
	var terms dap.Terminals
	if d.terminals != nil {
		terms = dapTerminals{d.terminals}
	}
	runDir, err := dapRunDir(d.cfg.Data)
	if err != nil {
		return feature{}, err
	}
	m, err := dap.New(dap.Options{
		RunDir:     runDir,
		Runner:     d.runner,
		Workspaces: d.workspaces,
		Dlv: func(ctx context.Context) (string, error) {
			return d.tools.Path(ctx, gotool.Dlv())
		},
		HiddenDirs:      []string{d.cfg.Data},
		MaxMessage:      int(c.MaxMessage),
		MaxPerWorkspace: c.MaxSessionsPerWorkspace,
		MaxPerTenant:    c.MaxSessionsPerTenant,
		StartTimeout:    time.Duration(c.StartTimeout),
		Terminals:       terms,
		Registerer:      d.registerer,
		Logger:          d.logger.With("component", "dap"),
	})
	if err != nil {
		return feature{}, fmt.Errorf("debugger: %w", err)
	}
	d.workspaces.OnStop(m.Stop)
	opts.DAP = m
	return feature{
		ready: []server.ReadyCheck{{Name: "dlv", Check: func() error { return d.tools.Status(gotool.Dlv()) }}},
		close: m.Close,
	}, nil
}

// dapRunDir makes DATA/run/dap, where the debug sessions' private
// directories live: the server's (root's when tenants have uids), mode
// 0711 so a tenant's uid may pass through to its session's directory, and
// writable by no one else, so no tenant can rename or replace one (SBX-12).
func dapRunDir(data string) (string, error) {
	run := filepath.Join(data, "run")
	dir := filepath.Join(run, "dap")
	for _, d := range []string{run, dir} {
		if err := os.Mkdir(d, 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("debugger run directory: %w", err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return "", fmt.Errorf("debugger run directory: %w", err)
		}
	}
	return dir, nil
}

// dapTerminals adapts terminal.Manager to dap.Terminals.
type dapTerminals struct{ m *terminal.Manager }

func (t dapTerminals) Start(ctx context.Context, owner, workspace string, cmd dap.TerminalCmd) (dap.Terminal, error) {
	info, err := t.m.Create(ctx, owner, workspace, terminal.CreateOptions{Command: cmd.Argv, Binds: cmd.Binds, Ptrace: cmd.Ptrace})
	if errors.Is(err, terminal.ErrLimit) {
		return nil, fmt.Errorf("%w: %w", dap.ErrTerminalLimit, err)
	}
	if err != nil {
		return nil, err
	}
	s, err := t.m.Get(owner, workspace, info.ID)
	if err != nil {
		return nil, err
	}
	return dapTerminal{m: t.m, s: s, owner: owner, workspace: workspace}, nil
}

// dapTerminal adapts *terminal.Terminal to dap.Terminal.
type dapTerminal struct {
	m                *terminal.Manager
	s                *terminal.Terminal
	owner, workspace string
}

func (t dapTerminal) ID() string            { return t.s.ID() }
func (t dapTerminal) Owns(pid int) bool     { return t.s.Owns(pid) }
func (t dapTerminal) UID() int              { return t.s.UID() }
func (t dapTerminal) Done() <-chan struct{} { return t.s.Done() }
func (t dapTerminal) Close(ctx context.Context) error {
	err := t.m.Delete(ctx, t.owner, t.workspace, t.s.ID())
	if errors.Is(err, terminal.ErrNotFound) {
		// Ended already, or being ended by someone else: its processes
		// are gone once its reader is done.
		select {
		case <-t.s.Done():
			return nil
		case <-ctx.Done():
			return fmt.Errorf("end debug terminal: %w", ctx.Err())
		}
	}
	return err
}
