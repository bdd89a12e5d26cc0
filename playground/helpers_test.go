package playground_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

type env struct {
	svc   *playground.Service
	db    *store.DB
	ws    *workspace.Manager
	clock *time.Time
}

// newEnv builds a Service over a real sandbox runner, store and manager.
func newEnv(t testing.TB, mod func(*playground.Options)) *env {
	t.Helper()
	return newEnvMode(t, mod, false)
}

// newEnvMode is newEnv whose runner, when bwrap is set, runs playground
// processes inside bubblewrap as isotest.UID (see isolate). Both use the
// package's shared build cache (testCache).
func newEnvMode(t testing.TB, mod func(*playground.Options), bwrap bool) *env {
	t.Helper()
	requireGo(t)
	dir, runDir := t.TempDir(), t.TempDir()
	ropts := sandbox.Options{Instance: "playground-test", KillGrace: 200 * time.Millisecond}
	if bwrap {
		dir, runDir = isolate(t, &ropts)
	}
	runner, err := sandbox.New(ropts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Close() })
	db, err := store.Open(store.Options{Path: filepath.Join(dir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	mgr, err := workspace.NewManager(workspace.ManagerOptions{Store: db, Dir: filepath.Join(dir, "ws"), TenantsDir: filepath.Join(dir, "tenants"), Go: workspace.GoEnv{Root: hostGo.root}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Close(context.Background()) })
	cache := testCache
	now := time.Now()
	e := &env{db: db, ws: mgr, clock: &now}
	opts := playground.Options{
		Runner: runner, Store: db, Workspaces: mgr, ServeAPI: true,
		GOROOT: hostGo.root, Cache: &cache, TempDir: runDir, RunTimeout: 5 * time.Second,
		Now: func() time.Time { return *e.clock },
	}
	if p, err := exec.LookPath("prlimit"); err == nil {
		opts.Prlimit = p
	}
	if bwrap {
		// The server's binds of the playground's internal owners
		// (GOROOT read-only at /goroot, no tools).
		opts.Binds = mgr.InternalBinds()
	}
	if mod != nil {
		mod(&opts)
	}
	svc, err := playground.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	e.svc = svc
	return e
}

// golden compares v's JSON with testdata/name.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}
