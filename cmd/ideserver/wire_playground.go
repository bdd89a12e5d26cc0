package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/server"
)

// wirePlayground builds the playground feature into opts: workspace share
// links always, the Go Playground compatible API when playground.enabled.
// Runs belong to the internal owner playground.Owner and keep nothing: each
// command gets a fresh HOME, TMPDIR and writable build cache in the
// sandbox's own /tmp. They share a read-only build cache,
// DATA/cache/playground-gocache, which only the prebuild writes (see
// startPlaygroundCache).
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
	cache, err := playgroundCacheDirs(d)
	if err != nil {
		return feature{}, err
	}
	cache.Packages = c.CachePackages
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
		Registerer:    d.registerer,
		Logger:        d.logger.With("component", "playground"),
	})
	if err != nil {
		return feature{}, err
	}
	opts.Playground = svc
	stopCache := func() {}
	if c.Enabled && c.Prebuild {
		stopCache = startPlaygroundCache(d, svc, cache)
	}
	// Playground runs belong to no workspace: suspend and delete have
	// nothing to stop. Shutdown ends every run, and the prebuild, through
	// close.
	return feature{close: func(ctx context.Context) error {
		stopCache()
		return svc.Close(ctx)
	}}, nil
}

// playgroundCacheDirs prepares DATA/cache: bin/ (0755) for the cache
// program, and playground-gocache/ (0755), the shared build cache, which
// belongs to playground.CacheOwner's uid: the playground's own uid may
// read it but not write it (and runs see it read-only).
func playgroundCacheDirs(d *deps) (*playground.Cache, error) {
	base := filepath.Join(d.cfg.Data, "cache")
	bin, dir := filepath.Join(base, "bin"), filepath.Join(base, "playground-gocache")
	perm := os.FileMode(0o700)
	if d.tenantUIDs {
		perm = 0o711
	}
	if err := os.MkdirAll(base, perm); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	if err := os.Chmod(base, perm); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	for _, p := range []string{bin, dir} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("create cache directory: %w", err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return nil, fmt.Errorf("create cache directory: %w", err)
		}
	}
	uid, ok, err := d.runner.OwnerUID(playground.CacheOwner)
	if err != nil {
		return nil, err
	}
	if ok {
		if err := os.Lchown(dir, uid, uid); err != nil {
			return nil, fmt.Errorf("shared build cache owner: %w", err)
		}
	}
	return &playground.Cache{Dir: dir, Program: playground.CacheProgPath(bin)}, nil
}

// startPlaygroundCache builds the cache program and then the shared build
// cache in the background, logging how it went; runs work meanwhile, only
// slower. The returned function stops it and waits.
func startPlaygroundCache(d *deps, svc *playground.Service, cache *playground.Cache) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	log := d.logger.With("component", "playground")
	goRoot := d.goRoot
	go func() {
		defer close(done)
		if goRoot == "" {
			log.Warn("no Go installation: playground runs get no shared build cache")
			return
		}
		start := time.Now()
		prog, err := playground.BuildCacheProg(ctx, filepath.Join(goRoot, "bin", "go"), filepath.Dir(cache.Program), filepath.Join(d.cfg.Data, "tools", "cache"))
		if err != nil {
			if ctx.Err() == nil {
				log.Error("playground build cache program: runs build without the shared cache", "err", err)
			}
			return
		}
		log.Info("playground build cache program ready", "path", prog, "duration", time.Since(start).Round(time.Millisecond))
		if len(cache.Packages) == 0 {
			return
		}
		log.Info("preparing the playground build cache", "packages", cache.Packages)
		if _, err := svc.PrepareCache(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, playground.ErrClosed) {
			log.Error("prepare the playground build cache: runs build what it lacks themselves", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}
