package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/gotool"
	"github.com/ideserver/ideserver/server"
)

// wireDAP builds the dap feature into opts: a dap.Manager running one dlv
// per DAP WebSocket, stopped with the workspace (suspend, delete,
// shutdown).
func wireDAP(d deps, opts *server.Options) (feature, error) {
	c := d.cfg.DAP
	d.tools.Prepare(gotool.Dlv())
	m, err := dap.New(dap.Options{
		Runner:     d.runner,
		Workspaces: d.workspaces,
		Dlv: func(ctx context.Context) (string, error) {
			return d.tools.Path(ctx, gotool.Dlv())
		},
		HiddenDirs:      []string{d.cfg.Data},
		MaxMessage:      int64(c.MaxMessage),
		MaxPerWorkspace: c.MaxSessionsPerWorkspace,
		MaxPerTenant:    c.MaxSessionsPerTenant,
		StartTimeout:    time.Duration(c.StartTimeout),
		Registerer:      d.registerer,
		Logger:          d.logger.With("component", "dap"),
	})
	if err != nil {
		return feature{}, fmt.Errorf("debugger: %w", err)
	}
	d.workspaces.OnStop(m.Stop)
	opts.DAP = dapService{m}
	return feature{
		ready: []server.ReadyCheck{{Name: "dlv", Check: func() error { return d.tools.Status(gotool.Dlv()) }}},
		close: m.Close,
	}, nil
}

// dapService adapts dap.Manager to server.DAPService.
type dapService struct{ m *dap.Manager }

func (s dapService) OpenDAP(tenant, workspaceID string) (server.DAPSession, error) {
	sess, err := s.m.Open(tenant, workspaceID)
	if errors.Is(err, dap.ErrLimit) {
		return nil, fmt.Errorf("%w: %w", server.ErrDAPLimit, err)
	}
	if err != nil {
		return nil, err
	}
	return dapSession{sess}, nil
}

// dapSession adapts *dap.Session to server.DAPSession.
type dapSession struct{ s *dap.Session }

func (s dapSession) Serve(ctx context.Context, conn server.DAPConn) error {
	return s.s.Serve(ctx, conn)
}

func (s dapSession) Close() { s.s.Close() }
