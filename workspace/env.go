package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// GoEnv is the Go tooling configuration every tenant process gets.
type GoEnv struct {
	// Root is GOROOT, the host's Go installation (its bin/ goes first on
	// PATH). Required for processes that run go.
	Root    string
	Proxy   string // GOPROXY
	Private string // GOPRIVATE
	NoSumDB string // GONOSUMDB
	Flags   string // GOFLAGS
}

// TenantDirs are a tenant's own host directories. Caches are per tenant,
// never shared: a shared Go build cache lets one tenant poison another's
// builds.
type TenantDirs struct {
	Home       string // HOME
	GoPath     string // GOPATH
	GoModCache string // GOMODCACHE
	GoCache    string // GOCACHE
}

// TenantDirs returns tenant's directories, creating them (0700) when
// missing. The paths are host paths for process starters only; they never
// reach a client.
func (m *Manager) TenantDirs(tenant string) (TenantDirs, error) {
	if m.opts.TenantsDir == "" {
		return TenantDirs{}, errors.New("workspace: ManagerOptions.TenantsDir is not set")
	}
	if tenant == "" || tenant == "." || !filepath.IsLocal(tenant) || filepath.Base(tenant) != tenant {
		return TenantDirs{}, fmt.Errorf("%w: tenant id %q", ErrInvalidPath, tenant)
	}
	base := filepath.Join(m.opts.TenantsDir, tenant)
	d := TenantDirs{
		Home:       filepath.Join(base, "home"),
		GoPath:     filepath.Join(base, "go"),
		GoModCache: filepath.Join(base, "go", "pkg", "mod"),
		GoCache:    filepath.Join(base, "cache", "go-build"),
	}
	for _, dir := range []string{d.Home, d.GoModCache, d.GoCache} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return TenantDirs{}, fmt.Errorf("create tenant directory: %w", err)
		}
	}
	return d, nil
}

// ProcessEnv returns the complete environment for a process of tenant: its
// own HOME and Go caches, the configured Go settings, a fixed PATH with the
// Go toolchain first, a UTF-8 locale and telemetry off. extra entries
// ("KEY=value") are appended and win over earlier ones of the same key.
// Nothing of the server's own environment is included.
func (m *Manager) ProcessEnv(tenant string, extra ...string) ([]string, error) {
	d, err := m.TenantDirs(tenant)
	if err != nil {
		return nil, err
	}
	g := m.opts.Go
	path := "/usr/local/bin:/usr/bin:/bin"
	if g.Root != "" {
		path = filepath.Join(g.Root, "bin") + ":" + path
	}
	env := []string{
		"HOME=" + d.Home,
		"PATH=" + path,
		"LANG=C.UTF-8",
		"USER=" + tenant,
		"GOPATH=" + d.GoPath,
		"GOMODCACHE=" + d.GoModCache,
		"GOCACHE=" + d.GoCache,
		"GOTOOLCHAIN=local",
		"GOTELEMETRY=off",
		"GO_TELEMETRY_CHILD=2",
	}
	if g.Root != "" {
		env = append(env, "GOROOT="+g.Root)
	}
	for _, kv := range [][2]string{{"GOPROXY", g.Proxy}, {"GOPRIVATE", g.Private}, {"GONOSUMDB", g.NoSumDB}, {"GOFLAGS", g.Flags}} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return dedupEnv(append(env, extra...)), nil
}

// dedupEnv keeps the last entry of each key, in first-seen order.
func dedupEnv(env []string) []string {
	last := make(map[string]int, len(env))
	for i, kv := range env {
		last[envKey(kv)] = i
	}
	out := make([]string, 0, len(last))
	for i, kv := range env {
		if last[envKey(kv)] == i {
			out = append(out, kv)
		}
	}
	return out
}

func envKey(kv string) string {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i]
		}
	}
	return kv
}
