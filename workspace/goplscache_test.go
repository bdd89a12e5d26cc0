package workspace_test

import (
	"context"
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

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/lsp"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

var (
	goplsOnce sync.Once
	goplsPath string
)

// requireGopls returns the pinned gopls (tools/go.mod): fails when CI is
// set and it is unavailable, skips otherwise.
func requireGopls(t *testing.T) string {
	t.Helper()
	goplsOnce.Do(func() {
		cmd := exec.Command("go", "tool", "-n", "gopls")
		cmd.Dir = filepath.Join("..", "tools")
		if out, err := cmd.Output(); err == nil {
			goplsPath = strings.TrimSpace(string(out))
		}
	})
	if goplsPath == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("gopls unavailable")
		}
		t.Skip("gopls unavailable")
	}
	return goplsPath
}

// goplsFixture is a Manager whose users share a build cache and a gopls
// cache the test prebuilt from nothing with fmt, gopls run by a real
// lsp.Manager as the server wires it; under bubblewrap the prebuild
// (BuildCacheOwner) and the users run as two different uids.
type goplsFixture struct {
	env   *wstest.Env
	cache *workspace.BuildCache
	lsp   *lsp.Manager
	gopls *countingGopls // the cache's GoplsPrebuilder
}

// countingGopls is a GoplsPrebuilder that counts its sessions and, when
// binary is set, names that file as its gopls (a gopls upgrade, to the
// stamps).
type countingGopls struct {
	workspace.GoplsPrebuilder
	sessions atomic.Int32
	binary   string
}

func (c *countingGopls) PrebuildCache(ctx context.Context, p workspace.GoplsPrebuild) error {
	c.sessions.Add(1)
	return c.GoplsPrebuilder.PrebuildCache(ctx, p)
}

func (c *countingGopls) GoplsBinary(ctx context.Context) (string, error) {
	if c.binary != "" {
		return c.binary, nil
	}
	return c.GoplsPrebuilder.GoplsBinary(ctx)
}

func newGoplsFixture(t *testing.T, bwrap bool) *goplsFixture {
	t.Helper()
	goroot := hostGoEnv(t, "GOROOT")
	gopls := requireGopls(t)
	wo := wstest.Options{GoRoot: goroot}
	cacheUID := -1
	if bwrap {
		if why := isotest.Unavailable(); why != "" {
			t.Skip(why)
		}
		uidOf := func(owner string) (int, error) {
			if owner == workspace.BuildCacheOwner {
				return isotest.UID + 1, nil
			}
			return isotest.UID, nil
		}
		runner, err := sandbox.New(sandbox.Options{
			Instance:  "wsgopls-" + strconv.Itoa(os.Getpid()),
			KillGrace: 500 * time.Millisecond,
			Isolation: sandbox.IsolationBwrap,
			OwnerUID:  uidOf,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = runner.Close() })
		base, err := isotest.PublicDir(t.Cleanup)
		if err != nil {
			t.Fatal(err)
		}
		tools := filepath.Join(base, "tools")
		if err := os.Mkdir(tools, 0o755); err != nil {
			t.Fatal(err)
		}
		if gopls, err = isotest.CopyExecutable(gopls, tools); err != nil {
			t.Fatal(err)
		}
		wo.Runner, wo.Identity = runner, uidOf
		wo.ToolBinds = []sandbox.Bind{{Host: tools, Target: "/opt/ideserver/bin", ReadOnly: true}}
		cacheUID = isotest.UID + 1
	}
	c := wstest.BuildCache(t, goroot, cacheUID, "fmt")
	c.GoplsDir = filepath.Join(filepath.Dir(c.Dir), "gopls-cache")
	if err := os.Mkdir(c.GoplsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := lsp.NewManager(lsp.Options{GoplsPath: func(context.Context) (string, error) { return gopls, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	counter := &countingGopls{GoplsPrebuilder: m}
	c.Gopls = counter
	c.Toolchain = "the host's go" // stamps on
	wo.BuildCache = c
	f := &goplsFixture{env: wstest.New(t, wo), cache: c, lsp: m, gopls: counter}
	n, d, err := f.env.Manager.PrepareBuildCache(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prebuilt %d packages and the gopls cache in %v", n, d.Round(time.Millisecond))
	return f
}

// session runs one gopls session of h's user on its workspace (main.go
// opened, its diagnostics awaited, the user's gopls cache settled), with
// h's environment plus extra.
func (f *goplsFixture) session(t *testing.T, h *workspace.Handle, extra ...string) {
	t.Helper()
	env, err := h.Env(extra...)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = f.lsp.PrebuildCache(t.Context(), workspace.GoplsPrebuild{
		Start: func(ctx context.Context, cmd sandbox.Cmd) (*sandbox.Process, error) {
			cmd.Env, cmd.Network = env, sandbox.NetworkNone
			return h.Start(ctx, cmd)
		},
		Dir:   filepath.ToSlash(h.ProcessPath(h.Dir)),
		Files: map[string]string{"main.go": helloFmt},
		Settled: func(ctx context.Context) error {
			// The user's caches (seeded or cold) stop growing.
			last, since := -1, time.Now()
			for time.Since(since) < time.Second {
				if n := len(ownFiles(t, h.Home.Home)); n != last {
					last, since = n, time.Now()
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("session of %s: %v", h.Owner.Key(), time.Since(start).Round(time.Millisecond))
}

// ownFiles returns the regular files below dir with one link: what a
// user's gopls wrote itself, not a link to the shared cache.
func ownFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.Contains(p, "gopls") {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Sys().(*syscall.Stat_t).Nlink == 1 {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// testSharedGoplsCache: the prebuild published a gopls cache (files 0444,
// nothing else); a new user's cache starts as links to it; the user's
// first gopls session then writes only what its own package adds, where
// the same session from an empty cache writes the standard library's
// entries too; and the shared cache is unchanged by it.
func testSharedGoplsCache(t *testing.T, f *goplsFixture) *workspace.Handle {
	shared := isotest.Snapshot(t, f.cache.GoplsDir, true)
	files := 0
	for p, v := range shared {
		if strings.HasSuffix(p, "-bug") {
			t.Errorf("a bug report was published: %s", p)
		}
		if strings.HasPrefix(v, "-") {
			files++
			if !strings.HasPrefix(v, "-r--r--r-- ") {
				t.Errorf("shared %s: %s, want mode 0444", p, v)
			}
		} else if !strings.HasPrefix(v, "d") {
			t.Errorf("shared %s is neither a file nor a directory: %s", p, v)
		}
	}
	if files < 20 {
		t.Fatalf("the shared gopls cache holds %d files; want the standard library's entries", files)
	}
	h := f.env.Handle(t, workspace.Owner{Tenant: "t1", User: "newcomer"}, map[string]string{
		"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloFmt,
	})
	versions, err := os.ReadDir(f.cache.GoplsDir)
	if err != nil || len(versions) != 1 {
		t.Fatalf("shared versions: %v, %v", versions, err)
	}
	seeded := filepath.Join(h.Home.Home, ".cache", "gopls", versions[0].Name())
	links := 0
	_ = filepath.WalkDir(seeded, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			links++
		}
		return nil
	})
	if links != files {
		t.Errorf("the new user's gopls cache holds %d links, want %d", links, files)
	}
	if own := ownFiles(t, h.Home.Home); len(own) != 0 {
		t.Errorf("seeded cache has %d files of its own", len(own))
	}

	f.session(t, h)
	warm := len(ownFiles(t, h.Home.Home))
	t.Logf("first session on the seeded cache wrote %d files", warm)
	f.session(t, h, "GOPLSCACHE="+h.ProcessPath(filepath.Join(h.Home.Home, "cold")))
	cold := len(ownFiles(t, h.Home.Home)) - warm
	t.Logf("the same session on an empty cache wrote %d files", cold)
	if cold < 2*files/3 {
		t.Errorf("a session from an empty cache wrote %d files; the test's premise (about the %d shared ones) does not hold", cold, files)
	}
	if warm > cold/4 {
		t.Errorf("the first session on the seeded cache wrote %d files, from an empty cache %d: the shared cache is unused, or its keys differ", warm, cold)
	}
	if d := isotest.Changed(shared, isotest.Snapshot(t, f.cache.GoplsDir, true)); d != "" {
		t.Error("the user's gopls changed the shared gopls cache: " + d)
	}
	return h
}

// TestSharedGoplsCache: the prebuild's gopls cache without isolation.
func TestSharedGoplsCache(t *testing.T) { testSharedGoplsCache(t, newGoplsFixture(t, false)) }

// TestPrebuildStamps: a prebuild that completed left stamps, so the same
// prebuild again (a restart) runs no go build and no gopls session and
// changes neither shared cache; a new gopls runs the session again, but
// not the builds.
func TestPrebuildStamps(t *testing.T) {
	f := newGoplsFixture(t, false)
	stamp := buildcache.Stamp(f.cache.Dir)
	stamped := func() string {
		t.Helper()
		fi, err := os.Stat(stamp)
		if err != nil {
			t.Fatalf("no stamp beside the build cache: %v", err)
		}
		return fi.ModTime().String()
	}
	first := stamped()
	gopls := isotest.Snapshot(t, f.cache.GoplsDir, true)
	if n := f.gopls.sessions.Load(); n != 1 {
		t.Fatalf("the first prebuild ran %d gopls sessions, want 1", n)
	}
	if n, _, err := f.env.Manager.PrepareBuildCache(t.Context()); err != nil || n == 0 {
		t.Fatalf("the same prebuild again: %d packages, %v", n, err)
	}
	if n := f.gopls.sessions.Load(); n != 1 {
		t.Errorf("the same prebuild again ran gopls (%d sessions in all)", n)
	}
	if again := stamped(); again != first {
		t.Errorf("the same prebuild again built the cache anew (stamp %s, then %s)", first, again)
	}
	if d := isotest.Changed(gopls, isotest.Snapshot(t, f.cache.GoplsDir, true)); d != "" {
		t.Errorf("the same prebuild again changed the shared gopls cache: %s", d)
	}
	upgraded, err := isotest.CopyExecutable(requireGopls(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.gopls.binary = upgraded
	if _, _, err := f.env.Manager.PrepareBuildCache(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.gopls.sessions.Load(); n != 2 {
		t.Errorf("a new gopls: %d sessions in all, want 2", n)
	}
	if again := stamped(); again != first {
		t.Errorf("a new gopls built the build cache anew (stamp %s, then %s)", first, again)
	}
}

// TestSharedGoplsCacheBwrap (SBX-13): under bubblewrap, with the prebuild
// and the user as two uids: the user's cache is links to files the user
// neither owns nor may write; then the user's processes try to change
// them through the links in every way a shell offers (writing, appending,
// truncating, changing mode or times, linking them elsewhere) and all
// fail; removing or replacing a link succeeds and changes only the
// user's own directory. The shared gopls cache stays exactly as the
// prebuild published it (content, mode, owner, size and times).
func TestSharedGoplsCacheBwrap(t *testing.T) {
	f := newGoplsFixture(t, true)
	h := testSharedGoplsCache(t, f)
	shared := isotest.Snapshot(t, f.cache.GoplsDir, true)
	versions, _ := os.ReadDir(f.cache.GoplsDir)
	v := versions[0].Name()
	var entry string
	for p, st := range shared {
		if strings.HasPrefix(st, "-") && strings.HasSuffix(p, "-export") {
			entry = p
			break
		}
	}
	if entry == "" {
		t.Fatal("no export data in the shared gopls cache")
	}
	link := workspace.SandboxHome + "/.cache/gopls/" + filepath.ToSlash(entry)
	var owner int
	if fi, err := os.Stat(filepath.Join(f.cache.GoplsDir, entry)); err == nil {
		owner = int(fi.Sys().(*syscall.Stat_t).Uid)
	}
	if owner != isotest.UID+1 {
		t.Errorf("shared entry owned by uid %d, want the prebuild's %d", owner, isotest.UID+1)
	}
	run := func(script string) (string, bool) {
		env, err := h.Env()
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		p, err := h.Start(t.Context(), sandbox.Cmd{Kind: "build", Path: "/bin/sh", Args: []string{"-c", script}, Env: env, Stdout: &out, Stderr: &out, Network: sandbox.NetworkNone})
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
	if out, ok := run("test -r " + link + " && ! test -w " + link); !ok {
		t.Fatalf("the user's link is not readable-only: %s", out)
	}
	for _, a := range []string{
		"echo x >> " + link,
		"echo x > " + link,
		"truncate -s 0 " + link,
		"chmod 666 " + link,
		"touch " + link,
		"touch -d 2001-01-01 " + link,
		"ln " + link + " " + workspace.SandboxHome + "/another-link",
		"ls /opt/ideserver/gopls-cache " + filepath.Join(f.cache.GoplsDir, v),
	} {
		if out, ok := run(a); ok {
			t.Errorf("%q succeeded: %s", a, out)
		}
	}
	// The user's own names: theirs to change, the shared files stay.
	for _, a := range []string{
		"mv " + link + " " + link + ".moved && echo y > " + link,
		"rm -f " + link + ".moved",
		"rm -rf " + workspace.SandboxHome + "/.cache/gopls",
	} {
		if out, ok := run(a); !ok {
			t.Errorf("%q failed: %s", a, out)
		}
	}
	if d := isotest.Changed(shared, isotest.Snapshot(t, f.cache.GoplsDir, true)); d != "" {
		t.Error("the user's processes changed the shared gopls cache: " + d)
	}
}

// TestSeedGoplsCache: a user's HOME gets each version of the shared gopls
// cache it lacks as links to the shared files (nothing half made left
// beside), a version the user's gopls already made is kept as it is, and
// shared times older than a day are renewed when a seed is made (gopls's
// collector goes by them, and a user's gopls cannot renew them).
func TestSeedGoplsCache(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "gopls-cache")
	old := time.Now().Add(-48 * time.Hour)
	files := []string{"v1/ab/ab01-export", "v1/cd/cd02-analysis", "v1/cd/cd03-typerefs"}
	for _, f := range files {
		p := filepath.Join(shared, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	_ = filepath.WalkDir(shared, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != shared {
			err = os.Chtimes(p, old, old)
		}
		return err
	})
	c := &workspace.BuildCache{}
	e := wstest.New(t, wstest.Options{BuildCache: c})
	// A user whose gopls made its own cache before the shared one existed.
	early, err := e.Manager.HomeDirs("t1/early")
	if err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(early.Home, ".cache", "gopls", "v1", "own-export")
	if err := os.MkdirAll(filepath.Dir(own), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, []byte("own"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.GoplsDir = shared

	d, err := e.Manager.HomeDirs("t1/u1")
	if err != nil {
		t.Fatal(err)
	}
	gopls := filepath.Join(d.Home, ".cache", "gopls")
	for _, f := range files {
		sfi, err := os.Stat(filepath.Join(shared, f))
		if err != nil {
			t.Fatal(err)
		}
		ufi, err := os.Stat(filepath.Join(gopls, f))
		if err != nil {
			t.Fatalf("seeded cache lacks %s: %v", f, err)
		}
		if !os.SameFile(sfi, ufi) {
			t.Errorf("%s is not a link to the shared file", f)
		}
		if time.Since(sfi.ModTime()) > time.Hour {
			t.Errorf("shared %s kept its old time %v", f, sfi.ModTime())
		}
	}
	ents, _ := os.ReadDir(gopls)
	if len(ents) != 1 || ents[0].Name() != "v1" {
		t.Errorf("the user's gopls cache holds %v, want v1 only", ents)
	}
	// Once there, the user's cache is the user's: not seeded again.
	if err := os.Remove(filepath.Join(gopls, files[0])); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Manager.HomeDirs("t1/u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(gopls, files[0])); err == nil {
		t.Error("a link the user removed was made again")
	}

	if _, err := e.Manager.HomeDirs("t1/early"); err != nil {
		t.Fatal(err)
	}
	var kept []string
	_ = filepath.WalkDir(filepath.Join(early.Home, ".cache", "gopls"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			kept = append(kept, filepath.Base(p))
		}
		return nil
	})
	if len(kept) != 1 || kept[0] != "own-export" {
		t.Errorf("the early user's cache holds %v, want its own file only", kept)
	}
}
