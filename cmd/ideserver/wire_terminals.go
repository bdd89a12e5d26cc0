package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/terminal"
)

// wireTerminals builds the terminals feature into opts: a terminal.Manager
// adapted to server.TerminalService, stopped with its workspace (suspend,
// delete, shutdown) and at close.
func wireTerminals(d *deps, opts *server.Options) (feature, error) {
	c := d.cfg.Terminal
	m, err := terminal.New(terminal.Options{
		Runner:          d.runner,
		Env:             d.workspaces.ProcessEnv,
		Dir:             d.workspaces.Dir,
		IdleTimeout:     time.Duration(c.IdleTimeout),
		MaxPerWorkspace: c.MaxPerWorkspace,
		MaxPerTenant:    c.MaxPerTenant,
		Scrollback:      int(c.Scrollback),
		MaxInput:        int(c.MaxInput),
		InputRate:       int(c.InputRate),
		Logger:          d.logger.With("component", "terminal"),
		Registerer:      d.registerer,
	})
	if err != nil {
		return feature{}, err
	}
	d.workspaces.OnStop(m.StopWorkspace)
	d.terminals = m
	opts.Terminals = terminalService{m}
	return feature{close: m.Close}, nil
}

// terminalService adapts terminal.Manager to server.TerminalService.
type terminalService struct{ m *terminal.Manager }

var _ server.TerminalService = terminalService{}

// terminalErr wraps terminal's sentinels with server's.
func terminalErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, terminal.ErrNotFound):
		return fmt.Errorf("%w: %w", server.ErrTerminalNotFound, err)
	case errors.Is(err, terminal.ErrLimit):
		return fmt.Errorf("%w: %w", server.ErrTerminalLimit, err)
	case errors.Is(err, terminal.ErrInvalidSize):
		return fmt.Errorf("%w: %w", server.ErrTerminalSize, err)
	case errors.Is(err, terminal.ErrInvalidCommand), errors.Is(err, sandbox.ErrNotFound):
		return fmt.Errorf("%w: %w", server.ErrTerminalInvalid, err)
	case errors.Is(err, terminal.ErrInputTooLarge):
		return fmt.Errorf("%w: %w", server.ErrTerminalInputTooLarge, err)
	}
	return err
}

func toTerminalInfo(i terminal.Info) server.TerminalInfo {
	t := server.TerminalInfo{ID: i.ID, Cols: i.Cols, Rows: i.Rows, CreatedAt: i.CreatedAt, Clients: i.Clients, Exited: i.Exited}
	if i.Exited {
		code := i.ExitCode
		t.ExitCode = &code
	}
	return t
}

func (s terminalService) CreateTerminal(ctx context.Context, owner, workspace string, req server.TerminalRequest) (server.TerminalInfo, error) {
	i, err := s.m.Create(ctx, owner, workspace, terminal.CreateOptions{Cols: req.Cols, Rows: req.Rows, Command: req.Command})
	if err != nil {
		return server.TerminalInfo{}, terminalErr(err)
	}
	return toTerminalInfo(i), nil
}

func (s terminalService) ListTerminals(owner, workspace string) ([]server.TerminalInfo, error) {
	is := s.m.List(owner, workspace)
	out := make([]server.TerminalInfo, len(is))
	for k, i := range is {
		out[k] = toTerminalInfo(i)
	}
	return out, nil
}

func (s terminalService) DeleteTerminal(ctx context.Context, owner, workspace, id string) error {
	return terminalErr(s.m.Delete(ctx, owner, workspace, id))
}

func (s terminalService) AttachTerminal(owner, workspace, id string) (server.TerminalAttachment, error) {
	sess, err := s.m.Get(owner, workspace, id)
	if err != nil {
		return nil, terminalErr(err)
	}
	return terminalAttachment{sess}, nil
}

type terminalAttachment struct{ s *terminal.Session }

func (a terminalAttachment) Serve(ctx context.Context, conn server.TerminalConn) error {
	return terminalErr(a.s.Attach(ctx, conn))
}
