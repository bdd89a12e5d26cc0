package main

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// go.sumdb, go.module_fetch_timeout and go.prefetch_modules are checked
// when the configuration loads.
func TestModuleCacheConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ env, val, key string }{
		{"IDESERVER_GO_PREFETCH_MODULES", "golang.org/x/text@latest", "go.prefetch_modules"},
		{"IDESERVER_GO_PREFETCH_MODULES", "golang.org/x/text", "go.prefetch_modules"},
		{"IDESERVER_GO_MODULE_FETCH_TIMEOUT", "0s", "go.module_fetch_timeout"},
		{"IDESERVER_GO_MODULE_FETCH_TIMEOUT", "2h", "go.module_fetch_timeout"},
	} {
		_, err := LoadConfig(nil, envFunc(baseEnv(c.env, c.val)), nil)
		if !slices.ContainsFunc(keyErrors(err), func(ke *KeyError) bool { return ke.Key == c.key }) {
			t.Errorf("%s=%s: %v, want an error on %s", c.env, c.val, err, c.key)
		}
	}
	cfg, err := LoadConfig(nil, envFunc(baseEnv("IDESERVER_GO_PREFETCH_MODULES", "golang.org/x/text@v0.3.8")), nil)
	if err != nil || !cfg.Go.ModuleCache || len(cfg.Go.PrefetchModules) != 1 {
		t.Errorf("defaults with one prefetch: %v, %+v", err, cfg.Go)
	}
}

// usersModuleCache makes DATA/cache/gomodcache (0755) and an empty
// DATA/cache/modfetch; it is off with go.module_cache false, without Go
// or with GOPROXY off; wireModuleCache registers its metrics.
func TestUsersModuleCache(t *testing.T) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skip("no go command")
	}
	goroot := strings.TrimSpace(string(out))
	runner, err := sandbox.New(sandbox.Options{Instance: "wiremod-" + t.Name(), KillGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	cfg := defaultConfig()
	cfg.Data = t.TempDir()
	stale := filepath.Join(cfg.Data, "cache", "modfetch", "fetch-1")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	g := workspace.GoEnv{Root: goroot, Proxy: cfg.Go.Proxy}
	c, err := usersModuleCache(&cfg, runner, false, g, slog.New(slog.DiscardHandler))
	if err != nil || c == nil {
		t.Fatalf("usersModuleCache: %v, %v", c, err)
	}
	defer c.Close()
	if fi, err := os.Stat(filepath.Join(cfg.Data, "cache", "gomodcache")); err != nil || fi.Mode().Perm() != 0o755 || c.Fetcher().Dir() != filepath.Join(cfg.Data, "cache", "gomodcache") {
		t.Errorf("shared directory: %v, %v", fi, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a run directory of an earlier start stayed: %v", err)
	}
	reg := prometheus.NewRegistry()
	f, err := wireModuleCache(&deps{cfg: &cfg, logger: slog.New(slog.DiscardHandler), registerer: reg, moduleCache: c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close(t.Context())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"ideserver_module_cache_bytes", "ideserver_module_fetches_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("metrics %v lack %s", names, want)
		}
	}

	for name, mod := range map[string]func(*Config, *workspace.GoEnv){
		"off":         func(c *Config, _ *workspace.GoEnv) { c.Go.ModuleCache = false },
		"no go":       func(_ *Config, g *workspace.GoEnv) { g.Root = "" },
		"GOPROXY off": func(_ *Config, g *workspace.GoEnv) { g.Proxy = "off" },
	} {
		cfg2, g2 := cfg, g
		mod(&cfg2, &g2)
		if c, err := usersModuleCache(&cfg2, runner, false, g2, slog.New(slog.DiscardHandler)); c != nil || err != nil {
			t.Errorf("%s: %v, %v", name, c, err)
			_ = c.Close()
		}
	}
}
