package modcache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/modtest"
	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/sandbox"
)

// fixture is a Fetcher on an upstream, with a runner without isolation.
type fixture struct {
	up       *modtest.Proxy
	f        *modcache.Fetcher
	dir, tmp string
	goroot   string
	instance string
}

var instances atomic.Int64

func newFixture(t testing.TB, mod func(*modcache.Options)) *fixture {
	t.Helper()
	goroot := goEnv(t, "GOROOT")
	fx := &fixture{up: modtest.New(t), dir: t.TempDir(), tmp: t.TempDir(), goroot: goroot,
		instance: "modcache-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(instances.Add(1), 10)}
	runner, err := sandbox.New(sandbox.Options{Instance: fx.instance, KillGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Close() })
	opts := modcache.Options{
		Dir: fx.dir, TempDir: fx.tmp, Runner: runner, Owner: "@module-cache", GoRoot: goroot,
		Proxy: fx.up.URL, SumDB: fx.up.SumDB, Private: "private.example",
		Timeout: time.Minute,
	}
	if mod != nil {
		mod(&opts)
	}
	fx.f, err = modcache.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fx.f.Close() })
	return fx
}

func goEnv(t testing.TB, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Skip("no go command")
	}
	return string(bytes.TrimSpace(out))
}

// tree lists the regular files below dir (slash paths).
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// leftovers returns the pids of processes still carrying the runner's
// marker.
func leftovers(instance string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(env, []byte(sandbox.MarkerVar+"="+instance+"/")) {
			out = append(out, e.Name())
		}
	}
	return out
}

// A fetched version lands in the shared directory, whole and readable by
// everyone, without a version list; a user's go command whose GOPROXY
// starts with it builds a program importing the module while the upstream
// proxy is unreachable; a second Fetch finds it there and asks nothing.
func TestFetchServesUsers(t *testing.T) {
	fx := newFixture(t, nil)
	m := fx.up.Greet(t, "example.com/greet", "v1.0.0")
	v := module.Version{Path: "example.com/greet", Version: "v1.0.0"}
	if err := fx.f.Fetch(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	if !fx.f.Has(v) {
		t.Fatal("Has is false after Fetch")
	}
	want := []string{"cache/download/example.com/greet/@v/v1.0.0.info", "cache/download/example.com/greet/@v/v1.0.0.mod", "cache/download/example.com/greet/@v/v1.0.0.zip"}
	if got := tree(t, fx.dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("shared directory holds %q, want %q", got, want)
	}
	_ = filepath.WalkDir(fx.dir, func(p string, d fs.DirEntry, err error) error {
		fi, _ := d.Info()
		if want := fs.FileMode(0o644); d.IsDir() {
			want = fs.ModeDir | 0o755
			if fi.Mode() != want {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
			}
		} else if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
		return nil
	})
	if ents, _ := os.ReadDir(fx.tmp); len(ents) != 0 {
		t.Errorf("the fetch left %d run directories", len(ents))
	}
	if n, err := fx.f.Size(); err != nil || n < int64(len(m.Zip)) {
		t.Errorf("Size = %d, %v", n, err)
	}

	before := fx.up.Requests()
	if err := fx.f.Fetch(t.Context(), v); err != nil || fx.up.Requests() != before {
		t.Errorf("second Fetch: %v, %d upstream requests", err, fx.up.Requests()-before)
	}
	if n := fx.f.Queue(v); n != 0 {
		t.Errorf("Queue of a version present queued %d", n)
	}

	// A user's build, upstream unreachable.
	proxy, binds, ok := fx.f.Setup(false, "http://127.0.0.1:1")
	if !ok || binds != nil || !strings.HasPrefix(proxy, "file://"+fx.dir+"/cache/download,") {
		t.Fatalf("Setup = %q, %v, %v", proxy, binds, ok)
	}
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"go.mod":  "module hello\n\ngo 1.21\n\nrequire example.com/greet v1.0.0\n",
		"go.sum":  fmt.Sprintf("example.com/greet v1.0.0 %s\nexample.com/greet v1.0.0/go.mod %s\n", m.H1, m.ModH1),
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n",
	})
	home := t.TempDir()
	cmd := exec.Command(filepath.Join(fx.goroot, "bin", "go"), "run", ".")
	cmd.Dir = src
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "GOROOT=" + fx.goroot, "GOPATH=" + filepath.Join(home, "go"),
		"GOMODCACHE=" + filepath.Join(home, "mod"), "GOCACHE=" + goEnv(t, "GOCACHE"), "GOFLAGS=-modcacherw",
		"GOPROXY=" + proxy, "GOSUMDB=" + fx.up.SumDB, "GOTOOLCHAIN=local", "GOTELEMETRY=off"}
	before = fx.up.Requests()
	out, err := cmd.Output()
	if err != nil || string(out) != "hello from example.com/greet@v1.0.0\n" {
		t.Fatalf("user's go run: %v\n%s%s", err, out, stderrOf(err))
	}
	if n := fx.up.Requests() - before; n != 0 {
		t.Errorf("the user's build asked the upstream proxy %d times", n)
	}
	// A version the shared cache lacks falls through to the configured
	// proxy: with the upstream listed after it, the go command finds it.
	m2 := fx.up.Greet(t, "example.com/greet", "v1.1.0")
	proxy2, _, _ := fx.f.Setup(false, fx.up.URL)
	writeFiles(t, src, map[string]string{
		"go.mod": "module hello\n\ngo 1.21\n\nrequire example.com/greet v1.1.0\n",
		"go.sum": fmt.Sprintf("example.com/greet v1.1.0 %s\nexample.com/greet v1.1.0/go.mod %s\n", m2.H1, m2.ModH1),
	})
	env := append(cmd.Env[:len(cmd.Env):len(cmd.Env)], "GOPROXY="+proxy2)
	cmd = exec.Command(cmd.Path, "run", ".")
	cmd.Dir, cmd.Env = src, env
	if out, err := cmd.Output(); err != nil || string(out) != "hello from example.com/greet@v1.1.0\n" {
		t.Fatalf("user's go run of a version not shared: %v\n%s%s", err, out, stderrOf(err))
	}
	if fx.f.Has(module.Version{Path: "example.com/greet", Version: "v1.1.0"}) {
		t.Error("a user's download reached the shared directory")
	}
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A zip the proxy altered does not match the checksum database: Fetch
// fails with ErrChecksum naming the version, nothing is published, and
// the run directory is gone. The other version of the same batch is
// published.
func TestFetchChecksumMismatch(t *testing.T) {
	fx := newFixture(t, nil)
	fx.up.Greet(t, "example.com/greet", "v1.0.0")
	good := fx.up.Greet(t, "example.com/other", "v1.0.0")
	bad := module.Version{Path: "example.com/greet", Version: "v1.0.0"}
	// The altered zip: the real files but greet.go changed.
	var zb bytes.Buffer
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"go.mod": "module example.com/greet\n\ngo 1.21\n", "greet.go": "package greet\n\nfunc Hello() string { return \"tampered\" }\n"})
	if err := modzip.CreateFromDir(&zb, bad, dir); err != nil {
		t.Fatal(err)
	}
	fx.up.Tamper(bad, zb.Bytes())

	other := module.Version{Path: "example.com/other", Version: "v1.0.0"}
	err := fx.f.Fetch(t.Context(), bad, other)
	if !errors.Is(err, modcache.ErrChecksum) || !strings.Contains(err.Error(), "example.com/greet@v1.0.0") {
		t.Fatalf("Fetch of a tampered zip: %v, want ErrChecksum naming the version", err)
	}
	t.Logf("error: %v", err)
	if fx.f.Has(bad) {
		t.Error("the tampered version was published")
	}
	for _, p := range tree(t, fx.dir) {
		if strings.Contains(p, "example.com/greet") {
			t.Errorf("the tampered version left %s", p)
		}
	}
	if !fx.f.Has(other) {
		t.Errorf("the good version of the batch was not published (%s)", good.H1)
	}
	if ents, _ := os.ReadDir(fx.tmp); len(ents) != 0 {
		t.Errorf("the fetch left %d run directories", len(ents))
	}
	// A failed version is not queued again soon.
	if n := fx.f.Queue(bad); n != 0 {
		t.Errorf("Queue of a version that just failed queued %d", n)
	}
}

// A proxy that never answers: Fetch fails with ErrTimeout naming the
// version and the timeout, nothing is published, no run directory stays,
// and the go command is gone (no process carries the runner's marker,
// and the proxy's request was dropped).
func TestFetchProxyHangs(t *testing.T) {
	fx := newFixture(t, func(o *modcache.Options) { o.Timeout = 3 * time.Second })
	fx.up.Greet(t, "example.com/slow", "v1.0.0")
	fx.up.Hang("example.com/slow")
	v := module.Version{Path: "example.com/slow", Version: "v1.0.0"}
	err := fx.f.Fetch(t.Context(), v)
	if !errors.Is(err, modcache.ErrTimeout) || !strings.Contains(err.Error(), "example.com/slow@v1.0.0") || !strings.Contains(err.Error(), "3s") {
		t.Fatalf("Fetch from a hanging proxy: %v, want ErrTimeout naming the version and 3s", err)
	}
	t.Logf("error: %v", err)
	if files := tree(t, fx.dir); len(files) != 0 {
		t.Errorf("a timed out fetch left %q", files)
	}
	if ents, _ := os.ReadDir(fx.tmp); len(ents) != 0 {
		t.Errorf("the fetch left %d run directories", len(ents))
	}
	if pids := leftovers(fx.instance); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fx.up.Hanging() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the server sees the closed connection a little later
	}
	if n := fx.up.Hanging(); n != 0 {
		t.Errorf("%d requests of the killed go command still open", n)
	}
}

// Modules that GOPRIVATE matches are refused, and so are queries and
// malformed versions; nothing is asked of the proxy.
func TestFetchRefuses(t *testing.T) {
	fx := newFixture(t, nil)
	fx.up.Greet(t, "private.example/secret", "v1.0.0")
	for _, c := range []struct {
		v    module.Version
		want error
	}{
		{module.Version{Path: "private.example/secret", Version: "v1.0.0"}, modcache.ErrPrivate},
		{module.Version{Path: "example.com/greet", Version: "latest"}, modcache.ErrInvalid},
		{module.Version{Path: "example.com/greet", Version: "v1"}, modcache.ErrInvalid},
		{module.Version{Path: "-x/y", Version: "v1.0.0"}, modcache.ErrInvalid},
		{module.Version{Path: "example.com/../etc", Version: "v1.0.0"}, modcache.ErrInvalid},
	} {
		if err := fx.f.Fetch(t.Context(), c.v); !errors.Is(err, c.want) {
			t.Errorf("Fetch(%s) = %v, want %v", c.v, err, c.want)
		}
		if n := fx.f.Queue(c.v); n != 0 {
			t.Errorf("Queue(%s) queued %d", c.v, n)
		}
	}
	if n := fx.up.Requests(); n != 0 {
		t.Errorf("%d requests reached the proxy", n)
	}
	if _, _, ok := fx.f.Setup(false, "off"); ok {
		t.Error("Setup with GOPROXY=off shares the cache")
	}
}

// Queue fetches in the background; fetches of one version at once share
// one download; Close ends waiting fetches with ErrClosed.
func TestQueueAndClose(t *testing.T) {
	fx := newFixture(t, nil)
	var vs []module.Version
	for i := range 3 {
		p := "example.com/q" + strconv.Itoa(i)
		fx.up.Greet(t, p, "v1.0.0")
		vs = append(vs, module.Version{Path: p, Version: "v1.0.0"})
	}
	if n := fx.f.Queue(vs...); n != 3 {
		t.Fatalf("Queue = %d, want 3", n)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := fx.f.Fetch(t.Context(), vs...); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, v := range vs {
		if !fx.f.Has(v) {
			t.Errorf("%s not published", v)
		}
	}
	// Three .info, .mod and .zip each: one download of each version.
	if n := fx.up.Requests(); n != 9 {
		t.Errorf("%d proxy requests for 3 versions, want 9", n)
	}

	fx.up.Greet(t, "example.com/slow", "v1.0.0")
	fx.up.Hang("example.com/slow")
	errc := make(chan error, 1)
	go func() {
		errc <- fx.f.Fetch(context.Background(), module.Version{Path: "example.com/slow", Version: "v1.0.0"})
	}()
	for fx.up.Hanging() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := fx.f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, modcache.ErrClosed) {
		t.Errorf("Fetch ended by Close: %v, want ErrClosed", err)
	}
	if err := fx.f.Fetch(t.Context(), vs[0]); !errors.Is(err, modcache.ErrClosed) {
		t.Errorf("Fetch after Close: %v", err)
	}
	if pids := leftovers(fx.instance); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
	if files := tree(t, fx.tmp); len(files) != 0 {
		t.Errorf("run directories left: %q", files)
	}
}

func TestGoSumVersions(t *testing.T) {
	data := []byte("example.com/a v1.0.0 h1:x=\nexample.com/a v1.0.0/go.mod h1:y=\n" +
		"example.com/b v0.1.0/go.mod h1:z=\nbad line\nexample.com/a v1.0.0 h1:x=\n" +
		"example.com/c v2.0.0+incompatible h1:w=\nexample.com/d latest h1:q=\n")
	got := modcache.GoSumVersions(data, 10)
	want := []module.Version{{Path: "example.com/a", Version: "v1.0.0"}, {Path: "example.com/c", Version: "v2.0.0+incompatible"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GoSumVersions = %v, want %v", got, want)
	}
	if got := modcache.GoSumVersions(data, 1); len(got) != 1 {
		t.Errorf("limit 1: %v", got)
	}
}

// stderrOf returns the standard error an *exec.ExitError kept.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// Under bubblewrap the go command runs as the fetcher's own uid, in a
// sandbox that sees its run directory, GOROOT and (here, as a file://
// proxy bound read-only, since the sandbox's network cannot reach the
// test's loopback) the upstream; what it verified is published by the
// server, owned by the server, and the run directory is gone.
func TestFetchBwrap(t *testing.T) {
	if why := isotest.Unavailable(); why != "" {
		t.Skip(why)
	}
	goroot := goEnv(t, "GOROOT")
	base, err := isotest.PublicDir(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	up := modtest.New(t)
	m := up.Greet(t, "example.com/greet", "v1.0.0")
	v := module.Version{Path: "example.com/greet", Version: "v1.0.0"}
	// The upstream as files: the proxy protocol's layout.
	files := filepath.Join(base, "upstream")
	at := filepath.Join(files, "example.com", "greet", "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, at, map[string]string{"v1.0.0.info": string(m.Info), "v1.0.0.mod": string(m.Mod), "v1.0.0.zip": string(m.Zip)})
	if err := filepath.WalkDir(files, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dir, tmp := filepath.Join(base, "shared"), filepath.Join(base, "runs")
	for _, d := range []string{dir, tmp} {
		if err := os.Mkdir(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	inst := "modcache-bwrap-" + strconv.Itoa(os.Getpid())
	runner, err := sandbox.New(sandbox.Options{
		Instance: inst, KillGrace: 500 * time.Millisecond, Isolation: sandbox.IsolationBwrap,
		OwnerUID: func(string) (int, error) { return isotest.UID, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Close() })
	f, err := modcache.New(modcache.Options{
		Dir: dir, TempDir: tmp, Runner: runner, Owner: "@module-cache", GoRoot: goroot,
		Binds: []sandbox.Bind{{Host: goroot, Target: "/goroot", ReadOnly: true}, {Host: files, Target: "/upstream", ReadOnly: true}},
		Proxy: "file:///upstream", SumDB: "off", Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if err := f.Fetch(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	for _, p := range tree(t, dir) {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uint32(os.Getuid()) || fi.Mode() != 0o644 {
			t.Errorf("%s: uid %d, mode %v; want the server's, 0644", p, st.Uid, fi.Mode())
		}
	}
	if !f.Has(v) {
		t.Error("not published")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the fetch left %d run directories", len(ents))
	}
	if pids := leftovers(inst); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
}

// BenchmarkUserDownload: a user's go command downloads a module version
// (go mod download into an empty GOMODCACHE, go.sum given) from a proxy
// 50ms away (upstream) or from the shared cache first (shared).
func BenchmarkUserDownload(b *testing.B) {
	for _, mode := range []string{"upstream", "shared"} {
		b.Run(mode, func(b *testing.B) {
			fx := newFixture(b, nil)
			m := fx.up.Greet(b, "example.com/greet", "v1.0.0")
			v := module.Version{Path: "example.com/greet", Version: "v1.0.0"}
			if err := fx.f.Fetch(b.Context(), v); err != nil {
				b.Fatal(err)
			}
			fx.up.SetLatency(50 * time.Millisecond)
			proxy := fx.up.URL
			if mode == "shared" {
				proxy, _, _ = fx.f.Setup(false, proxy)
			}
			src := b.TempDir()
			if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.21\n\nrequire example.com/greet v1.0.0\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "go.sum"), fmt.Appendf(nil, "example.com/greet v1.0.0 %s\nexample.com/greet v1.0.0/go.mod %s\n", m.H1, m.ModH1), 0o644); err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				home := filepath.Join(b.TempDir(), strconv.Itoa(i))
				cmd := exec.Command(filepath.Join(fx.goroot, "bin", "go"), "mod", "download", "example.com/greet")
				cmd.Dir = src
				cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "GOROOT=" + fx.goroot, "GOMODCACHE=" + filepath.Join(home, "mod"),
					"GOCACHE=" + filepath.Join(home, "cache"), "GOFLAGS=-modcacherw", "GOPROXY=" + proxy, "GOSUMDB=" + fx.up.SumDB,
					"GOTOOLCHAIN=local", "GOTELEMETRY=off"}
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

// Once the shared cache holds Options.MaxBytes, nothing more is fetched:
// Fetch fails with ErrFull, Queue adds nothing, the proxy is not asked.
func TestFetchMaxBytes(t *testing.T) {
	fx := newFixture(t, func(o *modcache.Options) { o.MaxBytes = 1 })
	fx.up.Greet(t, "example.com/a", "v1.0.0")
	fx.up.Greet(t, "example.com/b", "v1.0.0")
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	if err := fx.f.Fetch(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Bytes(); n <= 1 {
		t.Errorf("Bytes = %d after a version was published", n)
	}
	before := fx.up.Requests()
	b := module.Version{Path: "example.com/b", Version: "v1.0.0"}
	if err := fx.f.Fetch(t.Context(), b); !errors.Is(err, modcache.ErrFull) {
		t.Errorf("Fetch into a full cache: %v, want ErrFull", err)
	}
	if n := fx.f.Queue(b); n != 0 {
		t.Errorf("Queue into a full cache queued %d", n)
	}
	if n := fx.up.Requests() - before; n != 0 || fx.f.Has(b) {
		t.Errorf("a full cache asked the proxy %d times (published: %v)", n, fx.f.Has(b))
	}
}
