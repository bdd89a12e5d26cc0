package workspace

import (
	"errors"
	"fmt"
	"io/fs"
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

// TenantDirs are a tenant's own host directories, all under Home so that
// one bind shows an isolated process everything it may change: GoPath is
// Home/go, GoModCache Home/go/pkg/mod, GoCache Home/.cache/go-build. Caches
// are per tenant, never shared: a shared Go build cache lets one tenant
// poison another's builds.
type TenantDirs struct {
	Home       string // HOME
	GoPath     string // GOPATH
	GoModCache string // GOMODCACHE
	GoCache    string // GOCACHE
}

// tenantSubdirs are the directories TenantDirs prepares below the tenant's
// base directory, parents first. legacyDirs maps two of them to where the
// layout before HOME held everything kept them; they are moved once.
var (
	tenantSubdirs = []string{"home", "home/go", "home/go/pkg", "home/go/pkg/mod", "home/.cache", "home/.cache/go-build"}
	legacyDirs    = map[string]string{"home/go": "go", "home/.cache/go-build": "cache/go-build"}
)

// TenantDirs returns tenant's directories below
// ManagerOptions.TenantsDir/<tenant>, creating them (0700) when missing.
// A GOPATH or build cache of the earlier layout (<tenant>/go,
// <tenant>/cache/go-build) is moved under Home.
//
// With ManagerOptions.Identity, the tenant's base directory and every
// directory it returns (and their parents below the base) belong to the
// tenant's uid and gid; a base directory owned by another uid (data from
// before isolation) is given to the tenant's uid with everything in it,
// once, never following symlinks. A directory the tenant replaced with a
// symlink or a file is an error.
//
// The paths are host paths for process starters only; they never reach a
// client. It is called for every process start, is cheap once the
// directories exist, and is safe for concurrent use.
func (m *Manager) TenantDirs(tenant string) (TenantDirs, error) {
	if m.opts.TenantsDir == "" {
		return TenantDirs{}, errors.New("workspace: ManagerOptions.TenantsDir is not set")
	}
	if tenant == "" || tenant == "." || !filepath.IsLocal(tenant) || filepath.Base(tenant) != tenant {
		return TenantDirs{}, fmt.Errorf("%w: tenant id %q", ErrInvalidPath, tenant)
	}
	uid, err := m.tenantUID(tenant)
	if err != nil {
		return TenantDirs{}, err
	}
	base := filepath.Join(m.opts.TenantsDir, tenant)
	home := filepath.Join(base, "home")
	d := TenantDirs{
		Home:       home,
		GoPath:     filepath.Join(home, "go"),
		GoModCache: filepath.Join(home, "go", "pkg", "mod"),
		GoCache:    filepath.Join(home, ".cache", "go-build"),
	}
	unlock := m.ownLock("tenant/" + tenant)
	defer unlock()
	if err := m.prepareTenant(tenant, base, uid); err != nil {
		return TenantDirs{}, fmt.Errorf("prepare directories of tenant %q: %w", tenant, err)
	}
	return d, nil
}

// prepareTenant creates base and tenantSubdirs and, unless uid is noOwner,
// gives them to uid. Errors name paths relative to base only. Callers hold
// the tenant's ownLock.
func (m *Manager) prepareTenant(tenant, base string, uid int) error {
	if err := os.MkdirAll(m.opts.TenantsDir, m.dataDirMode()); err != nil {
		return errors.New("create tenants directory")
	}
	if err := os.Mkdir(base, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return errors.New("create base directory")
	}
	fi, err := os.Lstat(base)
	if err != nil || !fi.IsDir() {
		return errors.New("base is not a directory")
	}
	if uid != noOwner && ownerOf(fi) != uid {
		n, skipped, err := adoptTree(base, uid)
		if err != nil {
			return fmt.Errorf("give files to the tenant uid: %w", stripPath(err))
		}
		m.logger.Info("tenant files given to tenant uid", "tenant_id", tenant, "uid", uid, "entries", n)
		if skipped > 0 {
			m.logger.Warn("hard-linked files left to their owner", "tenant_id", tenant, "files", skipped)
		}
	}
	if uid != noOwner && fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(base, 0o700); err != nil {
			return errors.New("chmod base directory")
		}
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		return errors.New("open base directory")
	}
	defer root.Close()
	for _, rel := range tenantSubdirs {
		if old, ok := legacyDirs[rel]; ok {
			moveLegacy(root, old, rel)
		}
		if err := root.Mkdir(rel, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", rel, stripPath(err))
		}
		fi, err := root.Lstat(rel)
		if err != nil {
			return fmt.Errorf("stat %s: %w", rel, stripPath(err))
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", rel)
		}
		if uid != noOwner && ownerOf(fi) != uid {
			if err := root.Lchown(rel, uid, uid); err != nil {
				return fmt.Errorf("chown %s: %w", rel, stripPath(err))
			}
		}
	}
	return nil
}

// moveLegacy renames old to rel inside root when rel does not exist and old
// is a directory. Failures leave the old directory where it is: the tenant
// only loses a cache.
func moveLegacy(root *os.Root, old, rel string) {
	if _, err := root.Lstat(rel); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	if fi, err := root.Lstat(old); err != nil || !fi.IsDir() {
		return
	}
	if err := root.Rename(old, rel); err == nil {
		if parent := filepath.Dir(old); parent != "." {
			_ = root.Remove(parent) // "cache", when now empty
		}
	}
}

// stripPath returns the bare system error of a *fs.PathError (whose Path
// may be a host path), or err.
func stripPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
