package main

import (
	"time"

	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/terminal"
)

// wireTerminals builds the terminals feature into opts: a terminal.Manager,
// stopped with its workspace (suspend, delete, shutdown) and at close.
func wireTerminals(d *deps, opts *server.Options) (feature, error) {
	c := d.cfg.Terminal
	m, err := terminal.New(terminal.Options{
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
	opts.Terminals = m
	return feature{close: m.Close}, nil
}
