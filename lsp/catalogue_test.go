package lsp_test

import (
	"context"
	"os"
	"testing"

	"github.com/ideserver/ideserver/lsp"
)

// TestWorkspaceFoldersFixed (LSP-01): the workspace gopls sees is fixed by
// the server. initialize's rootUri "file:///" and folder "file:///etc"
// reach gopls as the one folder file:///workspace (also asserted by
// TestProxyRewritesAndRefuses), and workspace/didChangeWorkspaceFolders
// adding "/" or the server's HOME never reaches gopls.
func TestWorkspaceFoldersFixed(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	resp := c.initialize(waitShort)
	got, _ := resp["result"].(map[string]any)["params"].(map[string]any)
	if got["rootUri"] != "file:///workspace" {
		t.Errorf("rootUri at gopls = %v, want file:///workspace", got["rootUri"])
	}
	if f, _ := got["workspaceFolders"].([]any); len(f) != 1 || f[0].(map[string]any)["uri"] != "file:///workspace" {
		t.Errorf("workspaceFolders at gopls = %v", got["workspaceFolders"])
	}
	home, _ := os.UserHomeDir()
	mark := len(c.seen)
	for _, uri := range []string{"file:///", "file://" + home, "file:///workspace/sub"} {
		c.notify("workspace/didChangeWorkspaceFolders", map[string]any{"event": map[string]any{
			"added": []any{map[string]any{"uri": uri, "name": "x"}}, "removed": []any{},
		}})
	}
	// gopls handles messages in order: were one forwarded, its report
	// would come before this answer.
	c.call("fake/state", nil, waitShort)
	for _, msg := range c.seen[mark:] {
		if msg["method"] == "fake/folders" {
			t.Errorf("didChangeWorkspaceFolders reached gopls: %v", msg["params"])
		}
	}
}

// TestCrashLoopLeavesOthersAlone (LSP-12): one user's gopls crashing again
// and again is restarted with backoff up to MaxRestarts, its client is
// told each time and finally disconnected (1011); another tenant's
// session on the same manager keeps its gopls (same pid, never
// restarted) and hears nothing of it.
func TestCrashLoopLeavesOthersAlone(t *testing.T) {
	e, m := fakeManager(t, func(o *lsp.Options) { o.MaxRestarts = 2 })
	if err := os.MkdirAll(e.Dir("ws2"), 0o700); err != nil {
		t.Fatal(err)
	}
	other := &client{t: t, p: newPipe(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { other.done <- m.ServeClient(ctx, e.target("t2/u2", "ws2"), other.p) }()
	t.Cleanup(func() {
		cancel()
		other.p.CloseWith(1000, "")
		<-other.done
	})
	other.initialize(waitShort)
	before := other.call("fake/state", nil, waitShort)["result"].(map[string]any)

	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	for range 3 {
		c.request("fake/crash", nil)
		c.await("a notice of the crash", waitShort, isMethod("window/showMessage"))
	}
	c.awaitEnd("", 1011)

	after := other.call("fake/state", nil, waitShort)["result"].(map[string]any)
	if after["pid"] != before["pid"] || after["inits"] != 1.0 {
		t.Errorf("the other session's gopls changed: before %v, after %v", before, after)
	}
	for _, msg := range other.seen {
		if msg["method"] == "window/showMessage" {
			t.Errorf("the other session was told: %v", msg)
		}
	}
}
