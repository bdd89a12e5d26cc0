package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/module"

	"github.com/ideserver/ideserver/internal/metrics"
	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/workspace"
)

// The users' shared module cache lives in DATA/cache: gomodcache/ (0755,
// the server's: only the server publishes there) and modfetch/, the
// fetcher's run directories (each given to workspace.ModuleCacheOwner
// while its go command runs; emptied at start).
const (
	moduleCacheName = "gomodcache"
	moduleFetchName = "modfetch"
)

// moduleCache is the users' shared module cache and its fetch counter.
type moduleCache struct {
	fetcher *modcache.Fetcher
	fetches *prometheus.CounterVec
}

// Fetcher returns the fetcher, nil for a nil cache.
func (c *moduleCache) Fetcher() *modcache.Fetcher {
	if c == nil {
		return nil
	}
	return c.fetcher
}

// Close stops the fetcher (nil: nothing to do).
func (c *moduleCache) Close() error {
	if c == nil {
		return nil
	}
	return c.fetcher.Close()
}

// usersModuleCache returns the users' shared module cache (go.module_cache),
// or nil when it is off, without a Go installation, or with GOPROXY off.
// Its fetcher runs the go command of g.Root as workspace.ModuleCacheOwner
// through runner (under isolation with GOROOT bound read-only where users
// see it). The caller closes it before the runner.
func usersModuleCache(cfg *Config, runner *sandbox.Runner, tenantUIDs bool, g workspace.GoEnv, logger *slog.Logger) (*moduleCache, error) {
	if !cfg.Go.ModuleCache || g.Root == "" || strings.TrimSpace(g.Proxy) == "off" {
		return nil, nil
	}
	base := filepath.Join(cfg.Data, "cache")
	dir, tmp := filepath.Join(base, moduleCacheName), filepath.Join(base, moduleFetchName)
	if err := ensureDir(base, passPerm(tenantUIDs), "cache directory"); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("clear the module fetch directory: %w", err)
	}
	if err := ensureDir(dir, 0o755, "the shared module cache"); err != nil {
		return nil, err
	}
	if err := ensureDir(tmp, passPerm(tenantUIDs), "the shared module cache"); err != nil {
		return nil, err
	}
	var binds []sandbox.Bind
	if runner.Isolation() == sandbox.IsolationBwrap {
		binds = []sandbox.Bind{{Host: g.Root, Target: workspace.SandboxGoRoot, ReadOnly: true}}
	}
	c := &moduleCache{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ideserver_module_fetches_total",
			Help: "Module versions the shared module cache's fetcher ended, by result (published, failed).",
		}, []string{"result"}),
	}
	c.fetches.WithLabelValues("published")
	c.fetches.WithLabelValues("failed")
	f, err := modcache.New(modcache.Options{
		Dir: dir, TempDir: tmp, Runner: runner, Owner: workspace.ModuleCacheOwner,
		GoRoot: g.Root, Binds: binds,
		Proxy: g.Proxy, SumDB: g.SumDB, NoSumDB: g.NoSumDB, Private: g.Private,
		Timeout:  time.Duration(cfg.Go.ModuleFetchTimeout),
		MaxBytes: int64(cfg.Go.ModuleCacheMaxSize),
		Observe: func(_ module.Version, _ int64, err error) {
			if err != nil {
				c.fetches.WithLabelValues("failed").Inc()
				return
			}
			c.fetches.WithLabelValues("published").Inc()
		},
		Logger: logger.With("component", "modcache"),
	})
	if err != nil {
		return nil, err
	}
	c.fetcher = f
	return c, nil
}

// wireModuleCache registers the shared module cache's metrics
// (ideserver_module_cache_bytes, ideserver_module_fetches_total) and
// fetches go.prefetch_modules, in the background. The cache is closed by
// serve, after the features and before the runner.
func wireModuleCache(d *deps, _ *server.Options) (feature, error) {
	c := d.moduleCache
	if c == nil {
		return feature{}, nil
	}
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ideserver_module_cache_bytes",
		Help: "Disk use of the users' shared read-only module cache: measured at start, grown by each version published (0 until measured).",
	}, func() float64 { return float64(max(c.fetcher.Bytes(), 0)) })
	if err := metrics.Register(d.registerer, size, c.fetches); err != nil {
		return feature{}, err
	}
	var vs []module.Version
	for _, s := range d.cfg.Go.PrefetchModules {
		v, err := parseModuleVersion(s)
		if err != nil {
			return feature{}, fmt.Errorf("go.prefetch_modules: %w", err)
		}
		vs = append(vs, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	log := d.logger.With("component", "modcache")
	go func() {
		defer close(done)
		if len(vs) == 0 {
			return
		}
		start := time.Now()
		if err := c.fetcher.Fetch(ctx, vs...); err != nil {
			if ctx.Err() == nil {
				log.Error("prefetch modules into the shared module cache", "err", err)
			}
			return
		}
		log.Info("modules prefetched into the shared module cache", "count", len(vs), "duration", time.Since(start).Round(time.Millisecond))
	}()
	return feature{close: func(context.Context) error { cancel(); <-done; return nil }}, nil
}
