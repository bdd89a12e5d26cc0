package dap_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
)

// isolate completes wo for a user running as isotest.UID inside
// bubblewrap and returns the dlv copy the user can run. The view is the
// server's layout (workspace.Handle.Start): the workspace at /workspace,
// HOME at /home/user (GOPATH, GOMODCACHE and GOCACHE inside), GOROOT at
// /goroot and the tools (wo.ToolBinds) at /opt/ideserver/bin.
func isolate(t testing.TB, dlv string, wo *wstest.Options) string {
	t.Helper()
	tools, err := isotest.PublicDir(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	if dlv, err = isotest.CopyExecutable(dlv, tools); err != nil {
		t.Fatal(err)
	}
	runner, err := sandbox.New(sandbox.Options{
		Instance:  "daptest-" + strconv.Itoa(os.Getpid()),
		KillGrace: 500 * time.Millisecond,
		Isolation: sandbox.IsolationBwrap,
		OwnerUID:  func(string) (int, error) { return isotest.UID, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := runner.Close(); err != nil {
			t.Error(err)
		}
	})
	wo.Runner = runner
	wo.ToolBinds = []sandbox.Bind{{Host: tools, Target: "/opt/ideserver/bin", ReadOnly: true}}
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
