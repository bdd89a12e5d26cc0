package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/sandbox"
)

// SandboxBuildCache is where a user's isolated processes see the shared
// build cache (read-only); the prebuild sees it there read-write.
const SandboxBuildCache = "/opt/ideserver/gocache"

// BuildCache is the users' shared build cache (see package buildcache):
// the standard library built, vetted and test-vetted with the flags users'
// builds use (default, dlv's debug flags, and -race when Race is set), so
// that a new user's first build, debug session or gopls load compiles only
// their own code. Processes started through a Handle read it through the
// cache program (GOCACHEPROG) and write what they build into the user's
// own GOCACHE; only PrepareBuildCache, as BuildCacheOwner, writes it.
type BuildCache struct {
	buildcache.Cache
	// TempDir holds the prebuild's directories while it runs (each
	// removed after it). Required for PrepareBuildCache.
	TempDir string
	// GoVersion is the go directive of the prebuild's program; "" means
	// "1.21" (it decides only how the program itself compiles).
	GoVersion string
	// Packages are the go command patterns the prebuild builds; nil means
	// the standard library.
	Packages []string
	// Race also prebuilds with -race (which debug sessions may ask for).
	Race bool
	// GoplsDir is the users' shared gopls cache, a host directory of the
	// server's (no sandbox sees it): PrepareBuildCache publishes there
	// the file cache of a gopls session on its program (Gopls), and each
	// user's gopls cache starts as hard links to it (see goplscache.go).
	// "" means none.
	GoplsDir string
	// Gopls runs the gopls session whose file cache is published to
	// GoplsDir (lsp.Manager). nil means no shared gopls cache. Set it
	// before PrepareBuildCache runs.
	Gopls GoplsPrebuilder
}

// buildCacheSetup returns the GOCACHEPROG value of a user whose
// directories are d and the binds it needs under isolation, or ok false
// when there is no shared cache to use (yet).
func (m *Manager) buildCacheSetup(d HomeDirs) (gocacheprog string, binds []sandbox.Bind, ok bool) {
	c := m.opts.BuildCache
	if c == nil {
		return "", nil, false
	}
	rw := d.GoCache
	isolated := m.isolated()
	if isolated {
		rel, err := filepath.Rel(d.Home, d.GoCache)
		if err != nil || !filepath.IsLocal(rel) {
			return "", nil, false
		}
		rw = SandboxHome + "/" + filepath.ToSlash(rel)
	}
	return c.Setup(isolated, SandboxBuildCache, rw)
}

// isolated reports whether the Manager's processes run under bubblewrap.
func (m *Manager) isolated() bool {
	return m.opts.Runner != nil && m.opts.Runner.Isolation() == sandbox.IsolationBwrap
}

// PrepareBuildCache fills the users' shared build cache
// (ManagerOptions.BuildCache): a program importing every package of
// Packages is built, vetted, test-built, listed as gopls lists it, built
// with dlv's debug flags (and with -race when Race is set), as
// BuildCacheOwner, in a sandbox that looks like a user's (the program at
// /workspace, a scratch HOME, GOROOT and the tools, the user's
// environment), so the cache keys match users' builds. Then, with
// BuildCache.Gopls and GoplsDir set, gopls opens the program there the
// same way and its file cache becomes the users' shared gopls cache
// (goplscache.go; its failure is logged, not returned). Users' builds may
// go on meanwhile: they find what is done. A prebuild whose stamps say it
// completed before with the same toolchain, commands and gopls runs no
// go command but a listing, and no gopls (buildcache.Stamp). It returns
// the number of packages and how long it took.
func (m *Manager) PrepareBuildCache(ctx context.Context) (int, time.Duration, error) {
	c := m.opts.BuildCache
	if c == nil {
		return 0, 0, errors.New("workspace: no shared build cache configured")
	}
	if m.opts.Runner == nil || c.TempDir == "" {
		return 0, 0, errors.New("workspace: PrepareBuildCache needs ManagerOptions.Runner and BuildCache.TempDir")
	}
	root, err := os.MkdirTemp(c.TempDir, "prebuild-")
	if err != nil {
		return 0, 0, fmt.Errorf("prebuild: %w", err)
	}
	defer os.RemoveAll(root)
	home := HomeDirs{Home: filepath.Join(root, "home")}
	home.GoPath = filepath.Join(home.Home, "go")
	home.GoModCache = filepath.Join(home.GoPath, "pkg", "mod")
	home.GoCache = c.Dir
	src := filepath.Join(root, "src")
	for _, d := range []string{src, home.Home, filepath.Join(root, "tmp")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return 0, 0, fmt.Errorf("prebuild: %w", err)
		}
	}
	uid, err := m.ownerUID(BuildCacheOwner)
	if err != nil {
		return 0, 0, err
	}
	var give func(string) error
	if uid != noOwner {
		// The directories now, each file as the prebuild writes it
		// (through a root on the run directory: no name in it leads out).
		if _, _, err := adoptTree(root, uid); err != nil {
			return 0, 0, fmt.Errorf("prebuild: give the directory to its owner: %w", err)
		}
		r, err := os.OpenRoot(root)
		if err != nil {
			return 0, 0, fmt.Errorf("prebuild: %w", err)
		}
		defer r.Close()
		give = func(file string) error {
			rel, err := filepath.Rel(root, file)
			if err == nil {
				err = r.Lchown(rel, uid, uid)
			}
			if err != nil {
				return fmt.Errorf("prebuild: give a file to its owner: %w", stripPath(err))
			}
			return nil
		}
	}
	// The prebuild's view: what a user's process sees, with the shared
	// cache writable where users see it read-only.
	binds := []sandbox.Bind{
		{Host: src, Target: SandboxWorkspace},
		{Host: home.Home, Target: SandboxHome},
		{Host: c.Dir, Target: SandboxBuildCache},
	}
	binds = append(binds, m.InternalBinds()...)
	env := m.processEnv(Owner{User: "prebuild"}, home, []string{"TMPDIR=" + filepath.Join(root, "tmp")})
	if m.isolated() {
		env = dedupEnv(append(env, "TMPDIR=/tmp"))
	}
	commands := [][]string{
		{"build", "-o", os.DevNull, "."},
		{"vet", "."},
		{"test", "-c", "-o", os.DevNull, "."},
		// gopls (go/packages) lists with -compiled, which runs cgo.
		{"list", "-e", "-compiled=true", "-test=true", "-export=false", "-deps=true", "-json=ImportPath", "."},
		// dlv's debug builds of a program and of a test.
		{"build", "-gcflags=all=-N -l", "-o", os.DevNull, "."},
		{"test", "-c", "-gcflags=all=-N -l", "-o", os.DevNull, "."},
	}
	if c.Race {
		commands = append(commands, []string{"build", "-race", "-gcflags=all=-N -l", "-o", os.DevNull, "."}, []string{"build", "-race", "-o", os.DevNull, "."})
	}
	goVersion := c.GoVersion
	if goVersion == "" {
		goVersion = "1.21"
	}
	r, err := c.Prebuild(ctx, buildcache.Prebuild{
		Dir: src, GoVersion: goVersion, Packages: c.Packages, Commands: commands, Give: give, Env: env,
		Go: func(ctx context.Context, args ...string) (string, bool, error) {
			out := &sandbox.Output{Max: 1 << 20}
			proc, err := m.opts.Runner.Start(ctx, sandbox.Cmd{
				Kind: "build", Owner: BuildCacheOwner, Path: "go", Args: args,
				Env: env, Dir: src, Stdout: out, Stderr: out,
				Network: sandbox.NetworkNone, Binds: binds,
			})
			if err != nil {
				return "", false, fmt.Errorf("start go %s: %w", args[0], err)
			}
			defer proc.Close()
			st, err := proc.Wait()
			if err != nil {
				return "", false, fmt.Errorf("go %s: %w", args[0], err)
			}
			return out.String(), st.Code != 0 || st.Signal != "", nil
		},
	})
	if err != nil {
		return 0, 0, err
	}
	if r.Reused {
		m.logger.Info("users' build cache up to date", "packages", r.Packages)
	} else {
		m.logger.Info("users' build cache prepared", "packages", r.Packages, "duration", r.Duration.Round(time.Millisecond))
	}
	start := time.Now()
	if err := m.prebuildGopls(ctx, c, src, home, env, binds, r.Key); err != nil {
		if ctx.Err() != nil {
			return 0, 0, err
		}
		// The build cache is ready; users' gopls fills its cache itself.
		m.logger.Warn("users' gopls cache not prepared", "err", err)
	}
	return r.Packages, r.Duration + time.Since(start), nil
}
