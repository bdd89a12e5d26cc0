package lsp_test

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/sandbox"
)

// testUID is the host uid the bwrap tests' tenant runs as.
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

// copyTool copies the executable src into dir, readable and runnable by
// everyone (the pinned tools live below root's 0700 home), and returns the
// copy.
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

// processUID returns the real uid of pid.
func processUID(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

// isolate prepares e (made by newEnvIn in a publicDir) for tenant t1
// running as testUID under bubblewrap, and returns the runner and the
// gopls copy its processes can run. The view is the server's layout:
// the workspace at /workspace, HOME at /home/user, GOMODCACHE at
// /gomodcache, GOROOT at /goroot and the tools at /opt/ideserver/bin.
func isolate(t testing.TB, e *env, gopls string) (*sandbox.Runner, string) {
	t.Helper()
	tools := filepath.Join(e.data, "tools")
	if err := os.Mkdir(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	gopls = copyTool(t, gopls, tools)
	for _, d := range []string{e.data, filepath.Join(e.data, "workspaces"), filepath.Join(e.data, "tenants")} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, filepath.Join(e.data, "tenants", "t1"), testUID)
	chownTree(t, e.Dir(e.wsID), testUID)
	view := func(tenant, ws string) ([]sandbox.Bind, error) {
		var b []sandbox.Bind
		if ws != "" {
			b = append(b, sandbox.Bind{Host: e.Dir(ws), Target: "/workspace"})
		}
		return append(b,
			sandbox.Bind{Host: e.dirs.Home, Target: "/home/user"},
			sandbox.Bind{Host: e.dirs.GoPath, Target: "/gopath"},
			sandbox.Bind{Host: e.dirs.GoModCache, Target: "/gomodcache"},
			sandbox.Bind{Host: e.dirs.GoCache, Target: "/gocache"},
			sandbox.Bind{Host: e.goroot, Target: "/goroot", ReadOnly: true},
			sandbox.Bind{Host: tools, Target: "/opt/ideserver/bin", ReadOnly: true},
		), nil
	}
	runner, err := sandbox.New(sandbox.Options{
		Instance:  instance,
		KillGrace: 500 * time.Millisecond,
		Isolation: sandbox.IsolationBwrap,
		TenantUID: func(string) (int, error) { return testUID, nil },
		View:      view,
	})
	if err != nil {
		t.Fatal(err)
	}
	return runner, gopls
}

// TestRealGoplsBwrap runs a session against the real gopls inside
// bubblewrap as the tenant's uid (TestRealGoplsRecoversAndWatches covers
// gopls started directly): first diagnostics, hover, a definition into
// /goroot, and a file written behind the client's back (server-side
// watching must name it in gopls's view). The client never sees a host
// path. BenchmarkFirstDiagnostics compares the two modes.
func TestRealGoplsBwrap(t *testing.T) {
	gopls := requireGopls(t)
	requireBwrap(t)
	e := newEnvIn(t, publicDir(t), helloFiles)
	runner, g := isolate(t, e, gopls)
	m := newManagerWith(t, runner, e, g, nil)
	start := time.Now()
	c := startSession(t, m, e.wsID)
	c.initialize(waitLong)
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": "file:///workspace/main.go", "languageId": "go", "version": 1, "text": helloMain,
	}})
	c.await("first diagnostics", waitLong, func(m map[string]any) bool {
		p, _ := m["params"].(map[string]any)
		return m["method"] == "textDocument/publishDiagnostics" && p["uri"] == "file:///workspace/main.go"
	})
	t.Logf("time to first diagnostics %v", time.Since(start).Round(time.Millisecond))

	hover := c.call("textDocument/hover", hoverParams("file:///workspace/main.go", 5, 6), waitLong)
	if !strings.Contains(jsonString(hover), "Println") {
		t.Fatalf("hover = %v", hover)
	}
	def := c.call("textDocument/definition", hoverParams("file:///workspace/main.go", 5, 6), waitLong)
	if s := jsonString(def["result"]); !strings.Contains(s, `"file:///goroot/src/fmt/print.go"`) {
		t.Fatalf("definition = %s", s)
	}

	other := filepath.Join(e.Dir(e.wsID), "other.go")
	if err := os.WriteFile(other, []byte("package main\n\nvar x int = \"no\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.await("diagnostics for other.go", waitLong, hasDiagnostics("file:///workspace/other.go"))

	if s := c.raw.String(); strings.Contains(s, e.data) || strings.Contains(s, e.goroot) {
		t.Errorf("client received a host path:\n%s", s)
	}
	pids := goplsPids(t)
	if len(pids) != 1 {
		t.Fatalf("gopls processes: %v", pids)
	}
	if uid := processUID(t, pids[0]); uid != testUID {
		t.Errorf("gopls runs as uid %d, want %d", uid, testUID)
	}
}
