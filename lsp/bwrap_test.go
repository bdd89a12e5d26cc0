package lsp_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/sandbox"
)

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

// newBwrapEnv is newEnvIn an isotest.PublicDir with helloFiles, for
// isolate; it skips the test unless this host can run a tenant under
// bubblewrap.
func newBwrapEnv(t testing.TB) *env {
	t.Helper()
	if why := isotest.Unavailable(); why != "" {
		t.Skip(why)
	}
	dir, err := isotest.PublicDir(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvIn(t, dir, helloFiles)
}

// isolate prepares e (made by newBwrapEnv) for
// tenant t1 running as isotest.UID under bubblewrap, and returns the runner and the
// gopls copy its processes can run. e.binds gives the server's layout:
// the workspace at /workspace, HOME (GOPATH, GOMODCACHE and GOCACHE in it)
// at /home/user, GOROOT at /goroot and the tools at /opt/ideserver/bin.
func isolate(t testing.TB, e *env, gopls string) (*sandbox.Runner, string) {
	t.Helper()
	tools := filepath.Join(e.data, "tools")
	if err := os.Mkdir(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	gopls, err := isotest.CopyExecutable(gopls, tools)
	if err != nil {
		t.Fatal(err)
	}
	if err := isotest.Traversable(e.data, filepath.Join(e.data, "workspaces"), filepath.Join(e.data, "tenants")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(e.data, "tenants", "t1"), e.Dir(e.workspaceID)} {
		if err := isotest.ChownTree(d, isotest.UID); err != nil {
			t.Fatal(err)
		}
	}
	e.binds = func(workspaceID string) []sandbox.Bind {
		return []sandbox.Bind{
			{Host: e.Dir(workspaceID), Target: "/workspace"},
			{Host: e.dirs.Home, Target: "/home/user"},
			{Host: e.goroot, Target: "/goroot", ReadOnly: true},
			{Host: tools, Target: "/opt/ideserver/bin", ReadOnly: true},
		}
	}
	runner, err := sandbox.New(sandbox.Options{
		Instance:  instance,
		KillGrace: 500 * time.Millisecond,
		Isolation: sandbox.IsolationBwrap,
		OwnerUID:  func(string) (int, error) { return isotest.UID, nil },
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
	e := newBwrapEnv(t)
	runner, g := isolate(t, e, gopls)
	m := newManagerWith(t, runner, e, g, nil)
	start := time.Now()
	c := startSession(t, m, e.target("t1", e.workspaceID))
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

	other := filepath.Join(e.Dir(e.workspaceID), "other.go")
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
	if uid := processUID(t, pids[0]); uid != isotest.UID {
		t.Errorf("gopls runs as uid %d, want %d", uid, isotest.UID)
	}
}
