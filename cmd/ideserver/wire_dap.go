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
)

// wireDAP builds the dap feature into opts: a dap.Manager running one dlv
// per DAP WebSocket, stopped with the workspace (suspend, delete,
// shutdown). When terminals are served (d.terminals), a launch with console
// "integratedTerminal" runs in one of its terminals.
func wireDAP(d *deps, opts *server.Options) (feature, error) {
	c := d.cfg.DAP
	d.tools.Prepare(gotool.Dlv())
	runDir, err := dapRunDir(d.cfg.Data)
	if err != nil {
		return feature{}, err
	}
	m, err := dap.New(dap.Options{
		RunDir: runDir,
		Runner: d.runner,
		Dlv: func(ctx context.Context) (string, error) {
			return d.tools.Path(ctx, gotool.Dlv())
		},
		MaxMessage:      int(c.MaxMessage),
		MaxPerWorkspace: c.MaxSessionsPerWorkspace,
		MaxPerTenant:    c.MaxSessionsPerTenant,
		StartTimeout:    time.Duration(c.StartTimeout),
		Terminals:       d.terminals,
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
