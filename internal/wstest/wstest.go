// Package wstest builds real workspaces for tests: a workspace.Manager on a
// real bbolt store in a test's temporary directory, and a Handle on one of
// its workspaces (Manager.Open, the one ownership check), with or without
// bubblewrap. It is imported by _test.go files only (a rule of
// internal/deps_test.go). Everything it makes is removed by the test's
// Cleanup.
package wstest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// Options configures an Env. Zero fields take the defaults named.
type Options struct {
	// Runner starts the handles' processes (Handle.Start). nil: a runner
	// without isolation, closed by the test's Cleanup. Under bubblewrap
	// the data directory is one every uid may traverse
	// (isotest.PublicDir) and each user runs as isotest.UID.
	Runner *sandbox.Runner
	// Instance names the runner made when Runner is nil (sandbox
	// Options.Instance); "": "wstest-<pid>-<n>".
	Instance string
	// Owner is the user Handle opens a workspace for; zero: tenant "t1",
	// user "u1".
	Owner workspace.Owner
	// Files are the initial files of Handle's workspace (path → content).
	Files map[string]string
	// GoRoot is the Manager's GOROOT (workspace.GoEnv.Root); "": none.
	GoRoot string
	// ToolBinds are the Manager's ToolBinds (workspace.ManagerOptions).
	ToolBinds []sandbox.Bind
	// BuildCache is the Manager's shared build cache; nil: none.
	BuildCache *workspace.BuildCache
	// Identity is the Manager's Identity under bubblewrap (the uid of
	// each owner key; give Runner the same as its OwnerUID); nil:
	// isotest.UID for every owner.
	Identity func(owner string) (int, error)
}

// Env is a real workspace.Manager on a real store, for one test.
type Env struct {
	Manager *workspace.Manager
	Store   *store.DB
	Runner  *sandbox.Runner
	Data    string // the data directory: store, workspaces, tenants
}

// instances numbers the runners New makes, so their Instances differ.
var instances atomic.Int64

// New returns an Env for tb: a store, a Manager (with o's runner, GOROOT
// and tool binds) and, when o.Runner is nil, a runner without isolation.
func New(tb testing.TB, o Options) *Env {
	tb.Helper()
	e := &Env{Runner: o.Runner}
	var identity func(string) (int, error)
	if o.Runner != nil && o.Runner.Isolation() == sandbox.IsolationBwrap {
		dir, err := isotest.PublicDir(tb.Cleanup)
		if err != nil {
			tb.Fatal(err)
		}
		e.Data = dir
		identity = func(string) (int, error) { return isotest.UID, nil }
		if o.Identity != nil {
			identity = o.Identity
		}
	} else {
		e.Data = tb.TempDir()
	}
	if e.Runner == nil {
		inst := o.Instance
		if inst == "" {
			inst = "wstest-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(instances.Add(1), 10)
		}
		r, err := sandbox.New(sandbox.Options{Instance: inst, KillGrace: 300 * time.Millisecond})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = r.Close() })
		e.Runner = r
	}
	db, err := store.Open(store.Options{Path: filepath.Join(e.Data, "ideserver.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	e.Store = db
	m, err := workspace.NewManager(workspace.ManagerOptions{
		Store: db, Dir: filepath.Join(e.Data, "workspaces"), TenantsDir: filepath.Join(e.Data, "tenants"),
		Identity: identity, Go: workspace.GoEnv{Root: o.GoRoot},
		Runner: e.Runner, ToolBinds: o.ToolBinds, BuildCache: o.BuildCache,
		Redact: []string{e.Data}, // as cmd/ideserver does
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close(context.Background()) })
	e.Manager = m
	return e
}

// Handle creates a workspace of owner (the user is created when missing)
// with files, and returns the Handle Manager.Open gives for it.
func (e *Env) Handle(tb testing.TB, owner workspace.Owner, files map[string]string) *workspace.Handle {
	tb.Helper()
	if _, err := e.Store.EnsureUser(owner.Tenant, owner.User); err != nil {
		tb.Fatal(err)
	}
	w, err := e.Manager.Create(context.Background(), owner, workspace.CreateOptions{Files: files})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := e.Manager.Open(owner, w.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// Handle is New(tb, o).Handle for o.Owner (zero: t1/u1) and o.Files.
func Handle(tb testing.TB, o Options) *workspace.Handle {
	tb.Helper()
	owner := o.Owner
	if owner == (workspace.Owner{}) {
		owner = workspace.Owner{Tenant: "t1", User: "u1"}
	}
	return New(tb, o).Handle(tb, owner, o.Files)
}

// BuildCache returns an empty users' shared build cache for Options: its
// cache program built with the go command of goroot (and a build cache of
// its own, so nothing depends on the machine's), its directories below a
// directory every uid may traverse and, when uid is not -1, the shared
// directory given to uid (the prebuild's owner). Manager.PrepareBuildCache
// fills it with packages.
func BuildCache(tb testing.TB, goroot string, uid int, packages ...string) *workspace.BuildCache {
	tb.Helper()
	base, err := isotest.PublicDir(tb.Cleanup)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := newBuildCache(base, goroot, uid, packages)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// newBuildCache is BuildCache in base.
func newBuildCache(base, goroot string, uid int, packages []string) (*workspace.BuildCache, error) {
	prog, err := buildcache.BuildProgram(context.Background(), filepath.Join(goroot, "bin", "go"), filepath.Join(base, "bin"), filepath.Join(base, "hostcache"))
	if err != nil {
		return nil, err
	}
	c := &workspace.BuildCache{
		Cache:    buildcache.Cache{Dir: filepath.Join(base, "shared"), Program: prog},
		TempDir:  filepath.Join(base, "tmp"),
		Packages: packages,
	}
	for _, d := range []string{c.Dir, c.TempDir} {
		if err := os.Mkdir(d, 0o711); err != nil {
			return nil, err
		}
	}
	if uid != -1 {
		if err := os.Chown(c.Dir, uid, uid); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// SharedCache is a users' shared build cache prepared once for a test
// package (in TestMain, or on a first use), for Options.BuildCache: the
// package's tests then build as a server's users do, finding the standard
// library's packages prebuilt, and depend on no cache of the machine.
type SharedCache struct {
	Cache *workspace.BuildCache
	base  string
}

// PrepareSharedCache builds the cache program and fills a new shared build
// cache with packages, as Manager.PrepareBuildCache does for a server
// whose processes runner starts, with GOROOT goroot. uid is the uid every
// owner runs as under bubblewrap (isotest.UID), -1 without. Close removes
// it.
func PrepareSharedCache(goroot string, runner *sandbox.Runner, uid int, packages ...string) (_ *SharedCache, err error) {
	base, err := os.MkdirTemp("/tmp", "ideserver-sharedcache-")
	if err != nil {
		return nil, err
	}
	s := &SharedCache{base: base}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if err := os.Chmod(base, 0o711); err != nil {
		return nil, err
	}
	if s.Cache, err = newBuildCache(base, goroot, uid, packages); err != nil {
		return nil, err
	}
	db, err := store.Open(store.Options{Path: filepath.Join(base, "ideserver.db")})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var identity func(string) (int, error)
	if uid != -1 {
		identity = func(string) (int, error) { return uid, nil }
	}
	m, err := workspace.NewManager(workspace.ManagerOptions{
		Store: db, Dir: filepath.Join(base, "workspaces"), TenantsDir: filepath.Join(base, "tenants"),
		Identity: identity, Go: workspace.GoEnv{Root: goroot}, Runner: runner, BuildCache: s.Cache,
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = m.Close(context.Background()) }()
	if _, _, err := m.PrepareBuildCache(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Close removes the cache and everything with it.
func (s *SharedCache) Close() error { return os.RemoveAll(s.base) }
