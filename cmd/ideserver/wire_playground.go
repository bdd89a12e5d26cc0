package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/server"
)

// wirePlayground builds the playground feature into opts: workspace share
// links always, the Go Playground compatible API when playground.enabled.
// Runs belong to the internal owner playground.Owner and keep nothing: each
// command gets a fresh HOME, TMPDIR and writable build cache in the
// sandbox's own /tmp. They share a read-only build cache,
// DATA/cache/playground-gocache, which only the prebuild writes (see
// wireBuildCaches).
func wirePlayground(d *deps, opts *server.Options) (feature, error) {
	c := d.cfg.Playground
	tmp := filepath.Join(d.cfg.Data, "playground")
	if err := os.RemoveAll(tmp); err != nil { // runs of an earlier process
		return feature{}, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return feature{}, err
	}
	if d.tenantUIDs {
		// The playground owners' uids pass through to their run
		// directories (each its own, 0700) but cannot list them.
		if err := os.Chmod(tmp, 0o711); err != nil {
			return feature{}, err
		}
	}
	shared, err := sharedCacheDir(d.cfg.Data, d.runner, d.tenantUIDs, playgroundCacheName, playground.CacheOwner, d.toolchain)
	if err != nil {
		return feature{}, err
	}
	cache := &playground.Cache{Cache: shared, Packages: c.CachePackages}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		d.logger.Warn("prlimit not found: playground programs get GOMEMLIMIT only, no hard memory limit")
		prlimit = ""
	}
	var modules playground.Modules
	if f := d.moduleCache.Fetcher(); f != nil && c.Modules {
		modules = f
	}
	svc, err := playground.New(playground.Options{
		Runner:        d.runner,
		Store:         opts.Store,
		Workspaces:    d.workspaces,
		ServeAPI:      c.Enabled,
		GOROOT:        d.goRoot,
		Binds:         d.workspaces.InternalBinds(),
		Cache:         cache,
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
		Modules:       modules,
		ModuleLimits:  modcache.Limits{Modules: c.MaxModules, Bytes: int64(c.MaxModuleBytes)},
		ModuleTimeout: time.Duration(c.ModuleTimeout),
		Registerer:    d.registerer,
		Logger:        d.logger.With("component", "playground"),
	})
	if err != nil {
		return feature{}, err
	}
	opts.Playground = svc
	// wireBuildCaches prebuilds the shared cache.
	d.playground, d.playgroundCache = svc, cache
	// Playground runs belong to no workspace: suspend and delete have
	// nothing to stop. Shutdown ends every run through close.
	return feature{close: svc.Close}, nil
}
