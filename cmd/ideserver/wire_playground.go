package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/server"
)

// wirePlayground builds the playground feature into opts: workspace share
// links always, the Go Playground compatible API when playground.enabled.
// Runs use the "playground" pseudo-tenant's environment and caches.
func wirePlayground(d *deps, opts *server.Options) (feature, error) {
	c := d.cfg.Playground
	env, err := d.workspaces.ProcessEnv(playground.Tenant,
		"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOPROXY=off")
	if err != nil {
		return feature{}, err
	}
	tmp := filepath.Join(d.cfg.Data, "playground")
	if err := os.RemoveAll(tmp); err != nil { // runs of an earlier process
		return feature{}, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return feature{}, err
	}
	if d.tenantUIDs {
		// The playground tenant's uid passes through to its run
		// directories (each its own, 0700) but cannot list them.
		if err := os.Chmod(tmp, 0o711); err != nil {
			return feature{}, err
		}
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		d.logger.Warn("prlimit not found: playground programs get GOMEMLIMIT only, no hard memory limit")
		prlimit = ""
	}
	svc, err := playground.New(playground.Options{
		Runner:        d.runner,
		Store:         opts.Store,
		Workspaces:    d.workspaces,
		ServeAPI:      c.Enabled,
		Env:           env,
		TempDir:       tmp,
		Prlimit:       prlimit,
		RunTimeout:    time.Duration(c.RunTimeout),
		BuildTimeout:  time.Duration(c.BuildTimeout),
		MaxOutput:     int64(c.MaxOutput),
		MemoryLimit:   int64(c.MemoryLimit),
		MaxConcurrent: c.MaxConcurrent,
		MaxPerClient:  c.MaxPerClient,
		MaxQueue:      c.MaxQueue,
		MaxShareSize:  int64(c.MaxShareSize),
		ShareRate:     c.ShareRate,
		Registerer:    d.registerer,
		Logger:        d.logger.With("component", "playground"),
	})
	if err != nil {
		return feature{}, err
	}
	opts.Playground = svc
	// Playground runs belong to no workspace: suspend and delete have
	// nothing to stop. Shutdown ends every run through close.
	return feature{close: svc.Close}, nil
}
