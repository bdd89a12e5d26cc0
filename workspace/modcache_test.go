package workspace_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/modtest"
	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// modFixture is a Manager whose users read a shared module cache that a
// Fetcher (without isolation, so it reaches the test's proxy on the
// host's loopback) fills, and the proxy.
type modFixture struct {
	proxy   *modtest.Proxy
	fetcher *modcache.Fetcher
	shared  string
	base    string // the data directory
	goroot  string
	m       *workspace.Manager
	db      *store.DB
}

var modInstances atomic.Int64

func newModFixture(t testing.TB, bwrap bool) *modFixture {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skip("no go command")
	}
	goroot := strings.TrimSpace(string(out))
	var runner *sandbox.Runner
	var identity func(string) (int, error)
	var base string
	inst := "wsmod-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(modInstances.Add(1), 10)
	if bwrap {
		if why := isotest.Unavailable(); why != "" {
			t.Skip(why)
		}
		if base, err = isotest.PublicDir(t.Cleanup); err != nil {
			t.Fatal(err)
		}
		identity = func(string) (int, error) { return isotest.UID, nil }
		runner, err = sandbox.New(sandbox.Options{
			Instance: inst + "-bwrap", KillGrace: 500 * time.Millisecond,
			Isolation: sandbox.IsolationBwrap, OwnerUID: identity,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = runner.Close() })
	} else {
		base = t.TempDir()
	}
	fx := &modFixture{proxy: modtest.New(t), shared: filepath.Join(base, "gomodcache"), base: base, goroot: goroot}
	tmp := filepath.Join(base, "modfetch")
	for _, d := range []string{fx.shared, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	direct, err := sandbox.New(sandbox.Options{Instance: inst, KillGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	if runner == nil {
		runner = direct
	}
	fx.fetcher, err = modcache.New(modcache.Options{
		Dir: fx.shared, TempDir: tmp, Runner: direct, Owner: workspace.ModuleCacheOwner, GoRoot: goroot,
		Proxy: fx.proxy.URL, SumDB: "off", Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fx.fetcher.Close() })
	fx.db, err = store.Open(store.Options{Path: filepath.Join(base, "ideserver.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fx.db.Close() })
	fx.m, err = workspace.NewManager(workspace.ManagerOptions{
		Store: fx.db, Dir: filepath.Join(base, "workspaces"), TenantsDir: filepath.Join(base, "tenants"),
		Identity: identity, Runner: runner, Redact: []string{base},
		// The configured proxy is unreachable: what users build comes
		// from the shared cache.
		Go: workspace.GoEnv{Root: goroot, Proxy: "http://127.0.0.1:1", ModuleCache: fx.fetcher},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fx.m.Close(context.Background()) })
	return fx
}

// handle creates a workspace of t1/user with files and opens it.
func (fx *modFixture) handle(t testing.TB, user string, files map[string]string) *workspace.Handle {
	t.Helper()
	o := workspace.Owner{Tenant: "t1", User: user}
	if _, err := fx.db.EnsureUser(o.Tenant, o.User); err != nil {
		t.Fatal(err)
	}
	w, err := fx.m.Create(context.Background(), o, workspace.CreateOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	h, err := fx.m.Open(o, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs args in h's workspace with its environment plus extra.
func runIn(t *testing.T, h *workspace.Handle, extra []string, args ...string) (string, bool) {
	t.Helper()
	env, err := h.Env(append([]string{"GOFLAGS=-modcacherw"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := h.Start(t.Context(), sandbox.Cmd{Kind: "build", Path: args[0], Args: args[1:], Env: env, Stdout: &out, Stderr: &out, Network: sandbox.NetworkNone})
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

// greetProgram is a workspace importing example.com/greet@v1.0.0.
func greetProgram(sum string) map[string]string {
	return map[string]string{
		"go.mod":  "module hello\n\ngo 1.21\n\nrequire example.com/greet v1.0.0\n",
		"go.sum":  sum,
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n",
	}
}

// waitHas waits until the fetcher has published v (a queued fetch).
func waitHas(t *testing.T, f *modcache.Fetcher, v module.Version) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !f.Has(v) {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not fetched", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Opening a workspace queues what its go.sum lists; the user's go command
// (GOPROXY from Handle.Env: the shared cache, then the configured proxy,
// which is unreachable) builds from the shared cache into the user's own
// module cache; the shared directory gets nothing from the user.
func TestModuleCacheWorkspace(t *testing.T) {
	fx := newModFixture(t, false)
	sum := fx.proxy.Greet(t, "example.com/greet", "v1.0.0").GoSum()
	h := fx.handle(t, "u1", greetProgram(sum))
	v := module.Version{Path: "example.com/greet", Version: "v1.0.0"}
	if n := fx.fetcher.Queue(v); n != 0 {
		t.Errorf("Open did not queue the go.sum's version: Queue queued it again (%d)", n)
	}
	waitHas(t, fx.fetcher, v)
	env, err := h.Env()
	if err != nil {
		t.Fatal(err)
	}
	want := "GOPROXY=file://" + filepath.ToSlash(fx.shared) + "/cache/download,http://127.0.0.1:1"
	if !containsEntry(env, want) {
		t.Errorf("Env lacks %s: %q", want, env)
	}
	if env, _ := h.Env("GOPROXY=direct"); !containsEntry(env, "GOPROXY=direct") {
		t.Error("an extra GOPROXY does not win")
	}
	snap := isotest.Snapshot(t, fx.shared, false)
	if out, ok := runIn(t, h, nil, "go", "run", "."); !ok || !strings.HasSuffix(out, "hello from example.com/greet@v1.0.0\n") {
		t.Fatalf("go run: %v\n%s", ok, out)
	}
	if d := isotest.Changed(snap, isotest.Snapshot(t, fx.shared, false)); d != "" {
		t.Error("the user's build changed the shared cache: " + d)
	}
	// A go.sum that changes queues its new versions at the next Open.
	sum2 := fx.proxy.Greet(t, "example.com/more", "v0.2.0").GoSum()
	if err := os.WriteFile(filepath.Join(h.Dir, "go.sum"), []byte(sum+sum2), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.m.Open(h.Owner, h.WorkspaceID); err != nil {
		t.Fatal(err)
	}
	waitHas(t, fx.fetcher, module.Version{Path: "example.com/more", Version: "v0.2.0"})
	// A go.sum that is a FIFO, or a link out of the workspace, is not
	// read (Open does not hang).
	if err := os.Remove(filepath.Join(h.Dir, "go.sum")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(h.Dir, "go.sum"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.m.Open(h.Owner, h.WorkspaceID); err != nil {
		t.Fatal(err)
	}
}

func containsEntry(env []string, kv string) bool {
	for _, e := range env {
		if e == kv {
			return true
		}
	}
	return false
}

// TestModuleCacheBwrap (SBX-14): under bubblewrap a user's go command
// builds from the shared module cache, which it sees read-only at
// SandboxModuleCache (no host path in its environment); then the user's
// processes try to change it in every way a shell or the go command
// offers: writing, replacing, removing, moving, touching or linking an
// entry, changing a mode, downloading or cleaning with GOMODCACHE aimed at
// it. Every attempt fails and the shared cache is exactly as the server
// published it.
func TestModuleCacheBwrap(t *testing.T) {
	fx := newModFixture(t, true)
	sum := fx.proxy.Greet(t, "example.com/greet", "v1.0.0").GoSum()
	v := module.Version{Path: "example.com/greet", Version: "v1.0.0"}
	if err := fx.fetcher.Fetch(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	h := fx.handle(t, "u1", greetProgram(sum))
	env, err := h.Env()
	if err != nil {
		t.Fatal(err)
	}
	if want := "GOPROXY=file://" + workspace.SandboxModuleCache + "/cache/download,http://127.0.0.1:1"; !containsEntry(env, want) {
		t.Errorf("Env lacks %s: %q", want, env)
	}
	for _, e := range env {
		if strings.Contains(e, fx.shared) {
			t.Errorf("a host path in the environment: %s", e)
		}
	}
	snap := isotest.Snapshot(t, fx.shared, false)
	if out, ok := runIn(t, h, nil, "go", "run", "."); !ok || !strings.HasSuffix(out, "hello from example.com/greet@v1.0.0\n") {
		t.Fatalf("go run under bubblewrap: %v\n%s", ok, out)
	}
	target := workspace.SandboxModuleCache
	at := target + "/cache/download/example.com/greet/@v/"
	attacks := []string{
		"echo x > " + target + "/planted",
		"echo x > " + at + "planted.info",
		"echo x > " + at + "v1.0.0.zip",
		"echo x >> " + at + "v1.0.0.mod",
		"rm -f " + at + "v1.0.0.info",
		"rm -rf " + target + "/cache",
		"mv " + at + "v1.0.0.zip " + at + "v1.0.1.zip",
		"mv " + target + "/cache/download/example.com " + target + "/moved",
		"ln -s /etc/passwd " + at + "v9.0.0.zip",
		"chmod 777 " + at + "v1.0.0.zip",
		"chmod 777 " + target,
		"touch " + at + "v1.0.0.zip",
		"echo x > " + fx.shared + "/planted", // the host path, which it does not see
	}
	// The control: the user reads it.
	if out, ok := runIn(t, h, nil, "/bin/sh", "-c", "cat "+at+"v1.0.0.mod"); !ok || !strings.Contains(out, "module example.com/greet") {
		t.Fatalf("the user cannot read the shared module cache: %s", out)
	}
	for _, a := range attacks {
		if out, ok := runIn(t, h, nil, "/bin/sh", "-c", a); ok {
			t.Errorf("%q succeeded: %s", a, out)
		}
	}
	// The go command aimed at it: it fails, and changes nothing there.
	_, _ = runIn(t, h, []string{"GOMODCACHE=" + target}, "go", "mod", "download", "example.com/greet@v1.0.0")
	_, _ = runIn(t, h, []string{"GOMODCACHE=" + target}, "go", "clean", "-modcache")
	if d := isotest.Changed(snap, isotest.Snapshot(t, fx.shared, false)); d != "" {
		t.Error("the shared module cache changed: " + d)
	}
}

// BenchmarkOpenModuleCache: Manager.Open of a workspace whose go.sum is
// unchanged, with a shared module cache (one open and stat of go.sum) and
// without.
func BenchmarkOpenModuleCache(b *testing.B) {
	fx := newModFixture(b, false)
	sum := fx.proxy.Greet(b, "example.com/greet", "v1.0.0").GoSum()
	h := fx.handle(b, "u1", greetProgram(sum))
	plain, err := workspace.NewManager(workspace.ManagerOptions{
		Store: fx.db, Dir: filepath.Join(fx.base, "workspaces"), TenantsDir: filepath.Join(fx.base, "tenants"),
		Redact: []string{fx.base}, Go: workspace.GoEnv{Root: fx.goroot, Proxy: "http://127.0.0.1:1"},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = plain.Close(context.Background()) })
	for _, c := range []struct {
		name string
		m    *workspace.Manager
	}{{"none", plain}, {"shared", fx.m}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.m.Open(h.Owner, h.WorkspaceID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
