package main

import (
	"context"
	"time"

	"github.com/ideserver/ideserver/internal/gotool"
	"github.com/ideserver/ideserver/lsp"
	"github.com/ideserver/ideserver/server"
)

// wireLSP builds the lsp feature into opts: a Manager running one gopls per
// LSP connection, the pinned (or configured) gopls prepared in the
// background, a readiness check saying whether gopls is available, and a
// stop hook so suspend, delete and shutdown end the workspace's sessions.
func wireLSP(d *deps, opts *server.Options) (feature, error) {
	gopls := gotool.Gopls()
	d.tools.Prepare(gopls)
	metrics, err := lsp.NewMetrics(d.registerer)
	if err != nil {
		return feature{}, err
	}
	c := d.cfg.LSP
	m, err := lsp.NewManager(lsp.Options{
		Watchers: d.watchers,
		GoplsPath: func(ctx context.Context) (string, error) {
			return d.tools.Path(ctx, gopls)
		},
		IdleTimeout:   time.Duration(c.IdleTimeout),
		MaxInFlight:   c.MaxInFlight,
		MessageRate:   float64(c.MessageRate),
		MessageBurst:  c.MessageBurst,
		MaxRestarts:   c.MaxRestarts,
		RestartWindow: time.Duration(c.RestartWindow),
		Metrics:       metrics,
		Logger:        d.logger.With("component", "lsp"),
	})
	if err != nil {
		return feature{}, err
	}
	d.workspaces.OnStop(m.StopWorkspace)
	if d.buildCache != nil {
		// The users' prebuild (wireBuildCaches) ends with a gopls session.
		d.buildCache.Gopls = m
	}
	opts.LSP = m
	return feature{
		ready: []server.ReadyCheck{{Name: "gopls", Check: func() error { return d.tools.Status(gopls) }}},
		close: m.Close,
	}, nil
}
