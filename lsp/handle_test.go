package lsp_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/lsp"
	"github.com/ideserver/ideserver/workspace"
)

// TestServeHandle serves a session of a real workspace (a Handle from
// workspace.Manager.Open): gopls runs in the handle's directory with its
// user's environment, knows the workspace as file:///workspace, and its
// answers reach the client in client paths only (no host path of the
// workspace, the user's HOME or the data directory). The session is the
// handle's workspace's: StopWorkspace ends it with 1001.
func TestServeHandle(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := wstest.New(t, wstest.Options{Instance: instance, GoRoot: goRoot(t)})
	h := w.Handle(t, workspace.Owner{Tenant: "t1", User: "u1"}, map[string]string{"main.go": "package main\n"})
	// Without isolation gopls sees the host directories; the user's
	// other directories are redacted (TestToolRoots, for a Handle).
	r := lsp.HandleRoots(h)
	if r.Workspace != h.Dir || r.GoRoot != goRoot(t) || r.GoModCache != h.Home.GoModCache {
		t.Errorf("roots = %+v, want the host directories", r)
	}
	for _, d := range []string{h.Home.Home, h.Home.GoPath, h.Home.GoCache} {
		if !slices.Contains(r.Redact, d) {
			t.Errorf("Redact = %q lacks %q", r.Redact, d)
		}
	}
	m, err := lsp.NewManager(lsp.Options{
		GoplsPath:      func(context.Context) (string, error) { return exe, nil },
		RestartBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })

	c := &client{t: t, p: newPipe(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { c.done <- m.ServeHandle(ctx, h, c.p, fakeEnv+"=1") }()

	resp := c.initialize(waitShort)
	got, _ := resp["result"].(map[string]any)["params"].(map[string]any)
	if got["rootUri"] != "file:///workspace" {
		t.Errorf("rootUri at gopls = %v", got["rootUri"])
	}
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": "file:///workspace/main.go", "languageId": "go", "version": 1, "text": "package main\n",
	}})
	diag := c.await("diagnostics", waitShort, isMethod("textDocument/publishDiagnostics"))
	if msg := diag["params"].(map[string]any)["diagnostics"].([]any)[0].(map[string]any)["message"]; msg != "problem in /workspace/main.go" {
		t.Errorf("diagnostic message = %v (gopls not in the workspace directory?)", msg)
	}
	hover := c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": "file:///workspace/main.go"}, "position": map[string]any{"line": 0, "character": 0}}, waitShort)
	val := hover["result"].(map[string]any)["contents"].(map[string]any)["value"].(string)
	if want := "[x](file:///workspace/main.go) at /workspace and file:///workspace/main.go"; val != want {
		t.Errorf("hover = %q, want %q", val, want)
	}
	for _, host := range []string{h.Dir, h.Home.Home, w.Data} {
		if strings.Contains(c.raw.String(), host) {
			t.Errorf("a host path (%s) reached the client", host)
		}
	}

	stop, cancelStop := context.WithTimeout(context.Background(), waitShort)
	defer cancelStop()
	if err := m.StopWorkspace(stop, h.WorkspaceID); err != nil {
		t.Fatal(err)
	}
	if c.p.closeCode() != 1001 {
		t.Errorf("close code %d, want 1001", c.p.closeCode())
	}
	select {
	case <-c.done:
	case <-time.After(waitShort):
		t.Fatal("Serve did not return")
	}
	if n := m.Sessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}
