package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/internal/metrics"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/workspace"
)

// Shared build caches live in DATA/cache: bin/ holds the cache program
// (buildcache.BuildProgram), gocache/ the users' cache (written by
// workspace.BuildCacheOwner), playground-gocache/ the playground's
// (playground.CacheOwner), prebuild/ the users' prebuild while it runs.
const (
	usersCacheName      = "gocache"
	playgroundCacheName = "playground-gocache"
	// goplsCacheName is the users' shared gopls cache
	// (workspace.BuildCache.GoplsDir): the server's own (0700), since
	// users' caches hold hard links to its files and no process needs its
	// path.
	goplsCacheName = "gopls-cache"
)

// sharedCacheDir prepares DATA/cache (0711 when tenants run as their own
// uids, so they reach what is below; else 0700), its bin/ and name/ (both
// 0755), and gives name/ to owner's uid: only its prebuild writes there,
// and every sandbox sees it read-only. toolchain (goToolchain) lets a
// complete prebuild leave a stamp beside name/, DATA/cache/name.stamp, so
// that a restart does not prebuild again.
func sharedCacheDir(data string, runner *sandbox.Runner, tenantUIDs bool, name, owner, toolchain string) (buildcache.Cache, error) {
	base := filepath.Join(data, "cache")
	bin, dir := filepath.Join(base, "bin"), filepath.Join(base, name)
	if err := ensureDir(base, passPerm(tenantUIDs), "cache directory"); err != nil {
		return buildcache.Cache{}, err
	}
	for _, p := range []string{bin, dir} {
		if err := ensureDir(p, 0o755, "cache directory"); err != nil {
			return buildcache.Cache{}, err
		}
	}
	uid, ok, err := runner.OwnerUID(owner)
	if err != nil {
		return buildcache.Cache{}, err
	}
	if ok {
		if err := os.Lchown(dir, uid, uid); err != nil {
			return buildcache.Cache{}, fmt.Errorf("shared build cache owner: %w", err)
		}
	}
	return buildcache.Cache{Dir: dir, Program: buildcache.ProgramPath(bin), Toolchain: toolchain}, nil
}

// goToolchain identifies the Go installation at goRoot for the shared
// caches' stamps (buildcache.Toolchain); "" (every prebuild runs) when
// there is none or it cannot be read, which is logged.
func goToolchain(goRoot string, log *slog.Logger) string {
	if goRoot == "" {
		return ""
	}
	id, err := buildcache.Toolchain(goRoot)
	if err != nil {
		log.Warn("shared build caches: the Go installation cannot be identified, so every start prebuilds them", "err", err)
	}
	return id
}

// usersBuildCache returns the users' shared build cache for the
// workspace.Manager, or nil without a Go installation. Its prebuild's
// directory, DATA/cache/prebuild, is emptied (what a stopped prebuild
// left); its shared gopls cache is DATA/cache/gopls-cache (filled when
// wireBuildCaches finds the LSP bridge).
func usersBuildCache(cfg *Config, runner *sandbox.Runner, tenantUIDs bool, goRoot, toolchain string) (*workspace.BuildCache, error) {
	if goRoot == "" {
		return nil, nil
	}
	c, err := sharedCacheDir(cfg.Data, runner, tenantUIDs, usersCacheName, workspace.BuildCacheOwner, toolchain)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(cfg.Data, "cache", "prebuild")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("clear the prebuild directory: %w", err)
	}
	if err := ensureDir(tmp, passPerm(tenantUIDs), "the prebuild directory"); err != nil {
		return nil, err
	}
	gopls := filepath.Join(cfg.Data, "cache", goplsCacheName)
	if err := ensureDir(gopls, 0o700, "the gopls cache directory"); err != nil {
		return nil, err
	}
	return &workspace.BuildCache{Cache: c, TempDir: tmp, Packages: cfg.Go.PrebuildPackages, Race: cfg.Go.PrebuildRace, GoplsDir: gopls}, nil
}

// prebuildStatus is what /readyz says of one prebuild: not ready while
// it runs; ready once it ended, well or not (builds work without it, only
// slower, and the log says why).
type prebuildStatus struct {
	mu    sync.Mutex
	state string // "" when done, else what it is doing
}

func (p *prebuildStatus) set(state string) {
	p.mu.Lock()
	p.state = state
	p.mu.Unlock()
}

func (p *prebuildStatus) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != "" {
		return errors.New(p.state)
	}
	return nil
}

// wireBuildCaches builds the cache program and then, one after the other
// (two at once would only halve each on a small machine), fills the
// users' shared build cache (go.prebuild) and the playground's
// (playground.prebuild, when the playground API is served), in the
// background. /readyz waits for each one that is on; the sizes of the
// shared caches are ideserver_build_cache_bytes. When the LSP bridge is
// served, the users' prebuild ends with a gopls session on its program
// (lsp.Manager.PrebuildCache, set by wireLSP, which is wired before)
// whose file cache users' gopls caches start from. Close stops it.
func wireBuildCaches(d *deps, opts *server.Options) (feature, error) {
	size := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ideserver_build_cache_bytes",
		Help: "Disk use of the shared read-only build caches (cache: users, playground), measured at start and after each prebuild.",
	}, []string{"cache"})
	if err := metrics.Register(d.registerer, size); err != nil {
		return feature{}, err
	}
	type job struct {
		name   string // users, playground
		cache  *buildcache.Cache
		status *prebuildStatus
		run    func(ctx context.Context) error
	}
	var jobs []job
	var ready []server.ReadyCheck
	if c := d.buildCache; c != nil {
		j := job{name: "users", cache: &c.Cache, status: &prebuildStatus{}}
		if d.cfg.Go.Prebuild && len(c.Packages) > 0 {
			j.run = func(ctx context.Context) error {
				_, _, err := d.workspaces.PrepareBuildCache(ctx)
				return err
			}
			j.status.set("preparing the shared build cache")
			ready = append(ready, server.ReadyCheck{Name: "build cache", Check: j.status.check})
		}
		jobs = append(jobs, j)
	}
	if c := d.playgroundCache; c != nil {
		j := job{name: "playground", cache: &c.Cache, status: &prebuildStatus{}}
		if d.cfg.Playground.Enabled && d.cfg.Playground.Prebuild && len(c.Packages) > 0 {
			svc := d.playground
			j.run = func(ctx context.Context) error {
				_, err := svc.PrepareCache(ctx)
				if errors.Is(err, playground.ErrClosed) {
					return nil
				}
				return err
			}
			j.status.set("preparing the playground's build cache")
			ready = append(ready, server.ReadyCheck{Name: "playground cache", Check: j.status.check})
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		if n, err := j.cache.Size(); err == nil {
			size.WithLabelValues(j.name).Set(float64(n))
		}
	}
	if len(ready) == 0 {
		// No prebuild is on: builds use the program and caches an
		// earlier start prepared, if any.
		return feature{}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	log := d.logger.With("component", "buildcache")
	go func() {
		defer close(done)
		defer func() {
			for _, j := range jobs {
				j.status.set("")
			}
		}()
		start := time.Now()
		prog, err := buildcache.BuildProgram(ctx, filepath.Join(d.goRoot, "bin", "go"), filepath.Dir(jobs[0].cache.Program), filepath.Join(d.cfg.Data, "tools", "cache"))
		if err != nil {
			if ctx.Err() == nil {
				log.Error("build cache program: builds go without the shared caches", "err", err)
			}
			return
		}
		log.Info("build cache program ready", "path", prog, "duration", time.Since(start).Round(time.Millisecond))
		for _, j := range jobs {
			if j.run != nil {
				log.Info("preparing a shared build cache", "cache", j.name)
				if err := j.run(ctx); err != nil {
					if ctx.Err() != nil {
						return
					}
					log.Error("prepare a shared build cache: builds compile what it lacks themselves", "cache", j.name, "err", err)
				}
				j.status.set("")
			}
			if n, err := j.cache.Size(); err == nil {
				size.WithLabelValues(j.name).Set(float64(n))
			}
		}
	}()
	return feature{ready: ready, close: func(context.Context) error { cancel(); <-done; return nil }}, nil
}
