package dap_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/sandbox"
)

// isolate prepares the fixture below root for tenant1 running as
// isotest.UID inside bubblewrap, completes ropts to match, and returns the
// dlv copy the tenant can run. The copy of the build cache starts warm
// (isotest.LinkCache): a cold cache would rebuild the runtime for every
// debug build. The view is the server's layout: the workspace at
// /workspace, HOME at /home/user (GOPATH and GOMODCACHE inside), GOROOT at
// /goroot and the tools at /opt/ideserver/bin; the linked build cache at
// /gocache.
func isolate(t testing.TB, root string, f *fakeWorkspaces, workspaceID, dlv string, ropts *sandbox.Options) string {
	t.Helper()
	tools := filepath.Join(root, "tools")
	if err := os.Mkdir(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	dlv, err := isotest.CopyExecutable(dlv, tools)
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(root, "gocache")
	if err := isotest.LinkCache(f.gocache, cache, isotest.UID); err != nil {
		t.Fatal(err)
	}
	f.gocache = cache
	d, err := f.HomeDirs("tenant1")
	if err != nil {
		t.Fatal(err)
	}
	if err := isotest.Traversable(f.base, f.tenants); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(f.tenants, "tenant1"), f.Dir(workspaceID)} {
		if err := isotest.ChownTree(dir, isotest.UID); err != nil {
			t.Fatal(err)
		}
	}
	ropts.Isolation = sandbox.IsolationBwrap
	ropts.OwnerUID = func(string) (int, error) { return isotest.UID, nil }
	ropts.View = func(owner, workspaceID string) ([]sandbox.Bind, error) {
		var b []sandbox.Bind
		if workspaceID != "" {
			b = append(b, sandbox.Bind{Host: f.Dir(workspaceID), Target: "/workspace"})
		}
		return append(b,
			sandbox.Bind{Host: d.Home, Target: "/home/user"},
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
	f := newFixtureMode(t, dlv, map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain}, true, nil)
	debugMain(t, f)
}

// TestIntegratedTerminalBwrap is TestIntegratedTerminal with the
// terminal, and dlv in it, inside bubblewrap as the tenant's uid.
func TestIntegratedTerminalBwrap(t *testing.T) {
	if why := isotest.Unavailable(); why != "" {
		t.Skip(why) // before requireDlv, which fails in CI
	}
	integratedTerminal(t, true)
}
