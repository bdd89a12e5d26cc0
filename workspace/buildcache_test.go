package workspace_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

const helloFmt = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"

// cacheFixture is a Manager whose users share a build cache the test
// prebuilt from nothing with fmt (when interrupt is set, after stopping a
// first prebuild in the middle) (so no test depends on the machine's
// warm cache), and one user's Handle.
type cacheFixture struct {
	env   *wstest.Env
	cache *workspace.BuildCache
	h     *workspace.Handle
}

func newCacheFixture(t *testing.T, bwrap, interrupt bool) *cacheFixture {
	t.Helper()
	goroot := hostGoEnv(t, "GOROOT")
	wo := wstest.Options{GoRoot: goroot}
	uid := -1
	if bwrap {
		if why := isotest.Unavailable(); why != "" {
			t.Skip(why)
		}
		runner, err := sandbox.New(sandbox.Options{
			Instance:  "wscache-" + strconv.Itoa(os.Getpid()),
			KillGrace: 500 * time.Millisecond,
			Isolation: sandbox.IsolationBwrap,
			OwnerUID:  func(string) (int, error) { return isotest.UID, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = runner.Close() })
		wo.Runner = runner
		uid = isotest.UID
	}
	c := wstest.BuildCache(t, goroot, uid, "fmt")
	wo.BuildCache = c
	e := wstest.New(t, wo)
	f := &cacheFixture{env: e, cache: c, h: e.Handle(t, workspace.Owner{Tenant: "t1", User: "newcomer"}, map[string]string{
		"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloFmt,
	})}
	if interrupt {
		f.interruptPrebuild(t)
	}
	n, d, err := e.Manager.PrepareBuildCache(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prebuilt %d packages in %v", n, d.Round(time.Millisecond))
	return f
}

// entries returns the cache's action and output files (isotest.Snapshot).
func (f *cacheFixture) entries(t *testing.T) map[string]string {
	t.Helper()
	m := isotest.Snapshot(t, f.cache.Dir, false)
	for p := range m {
		if !strings.HasSuffix(p, "-a") && !strings.HasSuffix(p, "-d") {
			delete(m, p)
		}
	}
	return m
}

// interruptPrebuild stops a prebuild in the middle, as a server stopped
// while it prebuilds does, and checks what it leaves: its run directory
// removed, and nothing a user's build would take wrongly (another user
// builds and runs hello world meanwhile). It registers a check that the next
// prebuild does not start over: the entries the stopped one wrote are
// still there, unchanged (but for the few it was writing), with more
// beside it.
func (f *cacheFixture) interruptPrebuild(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, _, err := f.env.Manager.PrepareBuildCache(ctx)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Minute)
	for len(f.entries(t)) < 10 {
		if time.Now().After(deadline) {
			t.Fatal("the prebuild wrote nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Log("the prebuild finished before it could be stopped: nothing to resume")
		return
	}
	first := f.entries(t)
	if ents, err := os.ReadDir(f.cache.TempDir); err != nil || len(ents) != 0 {
		t.Errorf("the stopped prebuild left %d entries in its directory (%v)", len(ents), err)
	}
	other := &cacheFixture{env: f.env, cache: f.cache, h: f.env.Handle(t, workspace.Owner{Tenant: "t1", User: "meanwhile"}, map[string]string{
		"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloFmt,
	})}
	if out, ok := other.run(t, nil, "go", "run", "."); !ok || out != "hello\n" {
		t.Errorf("a user's build after a stopped prebuild: %q, %v", out, ok)
	}
	t.Cleanup(func() {
		after := f.entries(t)
		kept := 0
		for p, v := range first {
			// Size and mtime: publishing changes only the mode.
			if w, ok := after[p]; ok && isotest.SizeTime(w) == isotest.SizeTime(v) {
				kept++
			}
		}
		// The files being written when it stopped (the go command writes
		// at most a few at a time) may be written again; the rest stay.
		t.Logf("resumed prebuild: %d of %d earlier entries kept unchanged, %d entries in all", kept, len(first), len(after))
		if kept < len(first)-inFlight || len(after) <= len(first) {
			t.Errorf("resumed prebuild: %d of %d earlier entries kept unchanged (at most %d may be rewritten), %d entries in all", kept, len(first), inFlight, len(after))
		}
	})
}

// hostGoEnv returns `go env key`, skipping without a go command.
func hostGoEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Skip("no go command")
	}
	return string(bytes.TrimSpace(out))
}

// run runs args in the workspace as the user, with the Handle's
// environment plus extra, and returns the output and whether it exited 0.
func (f *cacheFixture) run(t *testing.T, extra []string, args ...string) (string, bool) {
	t.Helper()
	env, err := f.h.Env(extra...)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := f.h.Start(t.Context(), sandbox.Cmd{Kind: "build", Path: args[0], Args: args[1:], Env: env, Stdout: &out, Stderr: &out, Network: sandbox.NetworkNone})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), st.Code == 0 && st.Signal == ""
}

// puts counts the action entries in the user's own GOCACHE: what the
// user's builds could not find in the shared cache.
func (f *cacheFixture) puts(t *testing.T) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(f.h.Home.GoCache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "-a") {
			n++
		}
		return nil
	})
	return n
}

// A new user's first build, vet and debug build of hello world find the
// standard library in the shared cache: each puts only its own package
// (and link) into the user's GOCACHE, where a build from nothing puts
// dozens of entries for fmt alone.
func testSharedBuildCacheKeys(t *testing.T, f *cacheFixture) {
	before := 0
	for _, step := range []struct {
		name string
		args []string
	}{
		{"build", []string{"go", "build", "-o", "/dev/null", "."}},
		{"vet", []string{"go", "vet", "."}},
		{"debug build", []string{"go", "build", "-gcflags=all=-N -l", "-o", "/dev/null", "."}},
		{"test build", []string{"go", "test", "-c", "-o", "/dev/null", "."}},
	} {
		out, ok := f.run(t, nil, step.args...)
		if !ok {
			t.Fatalf("%s: %s", step.name, out)
		}
		n := f.puts(t)
		t.Logf("%s: %d entries put", step.name, n-before)
		if n-before > 10 {
			t.Errorf("%s of hello world put %d entries into the user's own cache: want at most 10 (the shared cache unused, or its keys differ)", step.name, n-before)
		}
		before = n
	}
	// Without the cache program, the same build misses everything: the
	// figure above is the shared cache's doing.
	if out, ok := f.run(t, []string{"GOCACHEPROG=", "GOCACHE=" + f.h.ProcessPath(filepath.Join(f.h.Home.Home, "cold"))}, "go", "build", "-o", "/dev/null", "."); !ok {
		t.Fatalf("cold build: %s", out)
	}
	cold := 0
	_ = filepath.WalkDir(filepath.Join(f.h.Home.Home, "cold"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "-a") {
			cold++
		}
		return nil
	})
	if cold < 20 {
		t.Errorf("a build from an empty cache put %d entries; the test's premise (dozens) does not hold", cold)
	}
}

// TestSharedBuildCache: the keys, without isolation, after a prebuild
// that was stopped in the middle and resumed (interruptPrebuild).
func TestSharedBuildCache(t *testing.T) { testSharedBuildCacheKeys(t, newCacheFixture(t, false, true)) }

// TestSharedBuildCacheBwrap (SBX-13): the keys under bubblewrap, where
// the user sees the shared cache read-only; then a user's processes try
// to change it in every way the go command or a shell offers: writing
// into it, replacing, removing, moving or touching an entry, changing its
// mode, pointing GOCACHE at it, or pointing the cache program's -rw at it.
// Every attempt fails, and the shared cache is exactly as the prebuild
// left it.
func TestSharedBuildCacheBwrap(t *testing.T) {
	f := newCacheFixture(t, true, false)
	snap := isotest.Snapshot(t, f.cache.Dir, false)
	testSharedBuildCacheKeys(t, f)
	if d := isotest.Changed(snap, isotest.Snapshot(t, f.cache.Dir, false)); d != "" {
		t.Error("the user's builds changed the shared cache: " + d)
	}
	attackSharedCache(t, f)
}

// attackSharedCache is the attack half of TestSharedBuildCacheBwrap.
func attackSharedCache(t *testing.T, f *cacheFixture) {
	snap := isotest.Snapshot(t, f.cache.Dir, false)
	entry := ""
	for p := range snap {
		if strings.HasSuffix(p, "-a") {
			entry = p
			break
		}
	}
	if entry == "" {
		t.Fatal("the prebuild put no entries")
	}
	target := workspace.SandboxBuildCache
	attacks := []string{
		"echo x > " + target + "/planted",
		"echo x > " + target + "/" + entry,
		"rm -f " + target + "/" + entry,
		"mv " + target + "/" + filepath.Dir(entry) + " " + target + "/moved",
		"chmod 777 " + target,
		"touch " + target + "/" + entry,
	}
	for _, a := range attacks {
		if out, ok := f.run(t, nil, "/bin/sh", "-c", a); ok {
			t.Errorf("%q succeeded: %s", a, out)
		}
	}
	// The go command aimed at the shared cache: it fails or builds
	// elsewhere, and changes nothing there.
	_, _ = f.run(t, []string{"GOCACHEPROG=", "GOCACHE=" + target}, "go", "build", "-o", "/dev/null", ".")
	_, _ = f.run(t, []string{"GOCACHEPROG=" + buildcache.ProgramTarget + " -ro /tmp -rw " + target}, "go", "build", "-o", "/dev/null", ".")
	if d := isotest.Changed(snap, isotest.Snapshot(t, f.cache.Dir, false)); d != "" {
		t.Error("the shared cache changed: " + d)
	}
}

// inFlight bounds the cache files a stopped prebuild may have been
// writing: an output and an action entry for each of the go command's
// parallel actions (-p, at most GOMAXPROCS: 2 cores here, 8 allowed).
const inFlight = 16
