package dap_test

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

// testUID is the host uid tenant1 runs as in the bwrap tests.
const testUID = 200123

// requireBwrap skips the test unless bubblewrap can run a tenant as its
// own uid here: /usr/bin/bwrap exists and the test runs as root.
func requireBwrap(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		t.Skip("no /usr/bin/bwrap")
	}
	if os.Geteuid() != 0 {
		t.Skip("per-tenant uids need root")
	}
}

// publicDir returns a new directory below /tmp that every uid may
// traverse (the parent of t.TempDir is 0700), removed after the test.
func publicDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "ideserver-bwrap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	if err := os.Chmod(d, 0o711); err != nil {
		t.Fatal(err)
	}
	return d
}

// copyTool copies the executable src into dir, runnable by everyone (the
// pinned tools live below root's 0700 home), and returns the copy.
func copyTool(t testing.TB, src, dir string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// chownTree gives root and everything below it to uid.
func chownTree(t testing.TB, root string, uid int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// linkCache makes dst a build cache for uid that starts with src's
// entries: directories of its own (uid may add entries), files hard
// links to src's, which uid can read but not change (go only adds
// entries and ignores failing to touch old ones). A cold cache would
// rebuild the runtime for every debug build.
func linkCache(t testing.TB, src, dst string, uid int) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chown(target, uid, uid)
		case d.Type().IsRegular() && strings.Contains(rel, string(filepath.Separator)):
			return os.Link(p, target)
		}
		return nil // trim.txt, README: the copy's own
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isolate prepares the fixture below root for tenant1 running as testUID
// inside bubblewrap, completes ropts to match, and returns the dlv copy
// the tenant can run. The view is the server's layout: the workspace at
// /workspace, HOME at /home/user, GOMODCACHE at /gomodcache, GOROOT at
// /goroot and the tools at /opt/ideserver/bin.
func isolate(t testing.TB, root string, f *fakeWorkspaces, wsID, dlv string, ropts *sandbox.Options) string {
	t.Helper()
	tools := filepath.Join(root, "tools")
	if err := os.Mkdir(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	dlv = copyTool(t, dlv, tools)
	cache := filepath.Join(root, "gocache")
	linkCache(t, f.gocache, cache, testUID)
	f.gocache = cache
	d, err := f.TenantDirs("tenant1")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{f.base, f.tenants} {
		if err := os.Chmod(dir, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, filepath.Join(f.tenants, "tenant1"), testUID)
	chownTree(t, f.Dir(wsID), testUID)
	ropts.Isolation = sandbox.IsolationBwrap
	ropts.TenantUID = func(string) (int, error) { return testUID, nil }
	ropts.View = func(tenant, ws string) ([]sandbox.Bind, error) {
		var b []sandbox.Bind
		if ws != "" {
			b = append(b, sandbox.Bind{Host: f.Dir(ws), Target: "/workspace"})
		}
		return append(b,
			sandbox.Bind{Host: d.Home, Target: "/home/user"},
			sandbox.Bind{Host: d.GoPath, Target: "/gopath"},
			sandbox.Bind{Host: d.GoModCache, Target: "/gomodcache"},
			sandbox.Bind{Host: cache, Target: "/gocache"},
			sandbox.Bind{Host: f.goroot, Target: "/goroot", ReadOnly: true},
			sandbox.Bind{Host: tools, Target: "/opt/ideserver/bin", ReadOnly: true},
		), nil
	}
	return dlv
}

// TestDebugMainBwrap is TestDebugMain with dlv inside bubblewrap as the
// tenant's uid: it dials the proxy's socket through the session
// directory's bind, passes the peer check as a descendant of bubblewrap,
// builds in /workspace and traces the program under seccomp.
func TestDebugMainBwrap(t *testing.T) {
	dlv := requireDlv(t)
	requireBwrap(t)
	f := newFixtureMode(t, dlv, map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain}, true, nil)
	debugMain(t, f)
}

// TestIntegratedTerminalBwrap is TestIntegratedTerminal with the
// terminal, and dlv in it, inside bubblewrap as the tenant's uid.
func TestIntegratedTerminalBwrap(t *testing.T) {
	requireBwrap(t)
	integratedTerminal(t, true)
}
