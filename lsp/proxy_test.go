package lsp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/lsp"
)

func fakeManager(t *testing.T, tweak func(*lsp.Options)) (*env, *lsp.Manager) {
	t.Helper()
	e := newEnv(t, map[string]string{"main.go": "package main\n"})
	e.fake = true
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return e, newManager(t, e, exe, tweak)
}

// TestProxyRewritesAndRefuses: LSP-01 (initialize's rootUri and folders
// outside the workspace reach gopls as file:///workspace), LSP-03 (host
// paths in diagnostics and hover reach the client as client paths, and no
// host path of the data directory at all), and the inline cases.
func TestProxyRewritesAndRefuses(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	resp := c.initialize(waitShort)

	// What gopls received, echoed back (and rewritten on the way).
	got, _ := resp["result"].(map[string]any)["params"].(map[string]any)
	if got["rootUri"] != "file:///workspace" {
		t.Errorf("rootUri at gopls = %v", got["rootUri"])
	}
	if _, ok := got["rootPath"]; ok {
		t.Error("rootPath reached gopls")
	}
	if got["processId"] != nil {
		t.Errorf("processId reached gopls: %v", got["processId"])
	}
	folders, _ := got["workspaceFolders"].([]any)
	if len(folders) != 1 || folders[0].(map[string]any)["uri"] != "file:///workspace" {
		t.Errorf("workspaceFolders at gopls = %v", folders)
	}
	opts, _ := got["initializationOptions"].(map[string]any)
	if _, ok := opts["env"]; ok {
		t.Error("initializationOptions.env reached gopls")
	}
	if flags, _ := opts["buildFlags"].([]any); len(flags) != 1 || flags[0] != "-tags=x" {
		t.Errorf("buildFlags at gopls = %v", opts["buildFlags"])
	}
	caps := got["capabilities"].(map[string]any)["workspace"].(map[string]any)["didChangeWatchedFiles"].(map[string]any)
	if caps["dynamicRegistration"] != true {
		t.Errorf("gopls not told the client watches files: %v", caps)
	}

	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": "file:///workspace/main.go", "languageId": "go", "version": 1, "text": "package main\n",
	}})
	diag := c.await("diagnostics", waitShort, isMethod("textDocument/publishDiagnostics"))
	p := diag["params"].(map[string]any)
	if p["uri"] != "file:///workspace/main.go" {
		t.Errorf("diagnostics uri = %v", p["uri"])
	}
	if msg := p["diagnostics"].([]any)[0].(map[string]any)["message"]; msg != "problem in /workspace/main.go" {
		t.Errorf("diagnostic message = %v", msg)
	}

	hover := c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": "file:///workspace/main.go"}, "position": map[string]any{"line": 0, "character": 0}}, waitShort)
	val := hover["result"].(map[string]any)["contents"].(map[string]any)["value"].(string)
	if want := "[x](file:///workspace/main.go) at /workspace and file:///workspace/main.go"; val != want {
		t.Errorf("hover = %q, want %q", val, want)
	}

	// LSP-02: URIs outside the roots are refused with InvalidParams.
	for _, uri := range []string{
		"file:///etc/passwd",
		"file://host/workspace/main.go",
		"untitled:Untitled-1",
		"file:///workspace/../etc/passwd",
		"file:///workspace/%2e%2e/etc/passwd",
		"file:///workspace/main.go%00",
		"file:///workspace/a//b.go",
		"file:///workspacex/main.go",
		"file:///" + strings.TrimPrefix(filepath.ToSlash(e.Dir(e.workspaceID)), "/") + "/main.go",
		"http://example.com/x.go",
		"file:///workspace/main.go?x=1",
	} {
		r := c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": 0, "character": 0}}, waitShort)
		if errCode(r) != -32602 {
			t.Errorf("hover of %q: %v, want InvalidParams", uri, r)
		}
	}
	// Another tenant's URI hidden in an unknown field is refused too.
	r := c.call("custom/method", map[string]any{"deep": []any{map[string]any{"target": "file:///etc/shadow"}}}, waitShort)
	if errCode(r) != -32602 {
		t.Errorf("unknown method with a host URI: %v, want InvalidParams", r)
	}

	// LSP-05: commands outside the allowlist are refused.
	for _, cmd := range []string{"gopls.start_debugging", "gopls.lsp", "gopls.start_profile", "evil"} {
		r := c.call("workspace/executeCommand", map[string]any{"command": cmd}, waitShort)
		if errCode(r) != -32602 {
			t.Errorf("executeCommand %s: %v, want InvalidParams", cmd, r)
		}
	}

	// LSP-04: an edit outside the workspace never reaches the client.
	c.call("fake/applyEdit", nil, waitShort)
	fr := c.await("gopls's report of the client's answer", waitShort, fakeResponse(9002))
	if res := fr["params"].(map[string]any)["result"].(map[string]any); res["applied"] != false {
		t.Errorf("applyEdit answered %v", res)
	}

	for _, m := range c.seen {
		switch m["method"] {
		case "client/registerCapability", "workspace/applyEdit":
			t.Errorf("client saw %v", m["method"])
		}
	}
	if strings.Contains(c.raw.String(), e.data) {
		t.Errorf("client received a host path:\n%s", c.raw.String())
	}
}

func TestProxyCrashRecovery(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": "file:///workspace/main.go", "languageId": "go", "version": 1, "text": "package main\n",
	}})
	c.notify("textDocument/didChange", map[string]any{
		"textDocument":   map[string]any{"uri": "file:///workspace/main.go", "version": 2},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": map[string]any{"line": 1, "character": 0}, "end": map[string]any{"line": 1, "character": 0}}, "text": "func main() {}\n"}},
	})
	before := c.call("fake/state", nil, waitShort)["result"].(map[string]any)
	mark := len(c.seen)
	slow := c.request("fake/slow", nil)
	crash := c.request("fake/crash", nil)
	for _, id := range []int{slow, crash} {
		r := c.awaitFrom(mark, "the error for the pending request", waitShort, func(m map[string]any) bool {
			n, ok := m["id"].(float64)
			return ok && int(n) == id && m["method"] == nil
		})
		if errCode(r) != -32803 {
			t.Errorf("pending request %d: %v, want RequestFailed", id, r)
		}
	}
	c.await("a notice", waitShort, isMethod("window/showMessage"))
	after := c.call("fake/state", nil, waitShort)["result"].(map[string]any)
	if after["pid"] == before["pid"] {
		t.Fatal("gopls was not restarted")
	}
	if after["inits"] != 1.0 || after["initialized"] != true {
		t.Errorf("replay: %v", after)
	}
	docs := after["docs"].(map[string]any)
	if got := docs["file:///workspace/main.go"]; got != "package main\nfunc main() {}\n" {
		t.Errorf("replayed document = %q (docs %v)", got, docs)
	}
	if strings.Contains(c.raw.String(), e.data) {
		t.Errorf("client received a host path:\n%s", c.raw.String())
	}
}

// TestProxyCrashLoopIsCapped (LSP-12): a gopls crash loop is restarted
// at most MaxRestarts times, the user is told each time, then the session
// ends with 1011 (TestCrashLoopLeavesOthersAlone: other sessions keep
// theirs).
func TestProxyCrashLoopIsCapped(t *testing.T) {
	e, m := fakeManager(t, func(o *lsp.Options) { o.MaxRestarts = 2 })
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	for i := 0; i < 3; i++ {
		c.request("fake/crash", nil)
		c.await("a notice", waitShort, isMethod("window/showMessage"))
	}
	c.awaitEnd("", 1011)
	if c.p.closeCode() != 1011 {
		t.Errorf("close code %d, want 1011", c.p.closeCode())
	}
}

func TestProxyMalformed(t *testing.T) {
	for _, bad := range []string{"{", "[]", `{"jsonrpc":"2.0"}`, `{"id":{},"method":"x"}`, strings.Repeat("[", 20000)} {
		e, m := fakeManager(t, nil)
		c := startSession(t, m, e.target("t1", e.workspaceID))
		c.sendRaw([]byte(bad))
		c.awaitEnd(fmt.Sprintf("%.20q: ", bad), 1007)
	}
}

// gopls matches JSON keys case-insensitively and keeps the last one in the
// re-encoded (sorted) message: "paramſ" would replace the checked
// "params". Such messages are malformed.
func TestProxyRefusesCaseFoldedKeys(t *testing.T) {
	for _, bad := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"workspace/executeCommand","params":{"command":"gopls.views"},"paramſ":{"command":"gopls.lsp"}}`,
		`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///workspace/a.go","URI":"file:///etc/passwd","text":""}}}`,
	} {
		e, m := fakeManager(t, nil)
		c := startSession(t, m, e.target("t1", e.workspaceID))
		c.sendRaw([]byte(bad))
		c.awaitEnd(fmt.Sprintf("%.60q: ", bad), 1007)
	}
}

// The text of open documents, kept for replay, is bounded per connection
// (rule 6): opening or growing documents past MaxOpenBytes ends the
// session with 1008; closing one frees its share.
func TestProxyOpenDocumentsBounded(t *testing.T) {
	const limit = 64 << 10 // host URIs (a few hundred bytes) count too
	open := func(c *client, name string, n int) {
		c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
			"uri": "file:///workspace/" + name, "languageId": "go", "version": 1, "text": strings.Repeat("x", n),
		}})
	}
	tests := []struct {
		name string
		run  func(c *client)
		end  bool
	}{
		{"within", func(c *client) { open(c, "a.go", 30<<10); open(c, "b.go", 30<<10) }, false},
		{"reopen replaces", func(c *client) { open(c, "a.go", 60<<10); open(c, "a.go", 60<<10) }, false},
		{"close frees", func(c *client) {
			open(c, "a.go", 60<<10)
			c.notify("textDocument/didClose", map[string]any{"textDocument": map[string]any{"uri": "file:///workspace/a.go"}})
			open(c, "b.go", 60<<10)
		}, false},
		{"open over", func(c *client) { open(c, "a.go", 40<<10); open(c, "b.go", 40<<10) }, true},
		{"many empty", func(c *client) {
			for i := range 300 { // each URI is over 220 bytes
				open(c, fmt.Sprintf("f%d-%s.go", i, strings.Repeat("n", 220)), 0)
			}
		}, true},
		{"change over", func(c *client) {
			open(c, "a.go", 30<<10)
			c.notify("textDocument/didChange", map[string]any{
				"textDocument":   map[string]any{"uri": "file:///workspace/a.go", "version": 2},
				"contentChanges": []any{map[string]any{"text": strings.Repeat("y", limit)}},
			})
		}, true},
	}
	for _, tt := range tests {
		e, m := fakeManager(t, func(o *lsp.Options) { o.MaxOpenBytes = limit; o.MessageRate = 1e6; o.MessageBurst = 4000 })
		c := startSession(t, m, e.target("t1", e.workspaceID))
		c.initialize(waitShort)
		tt.run(c)
		if !tt.end {
			c.call("fake/state", nil, waitShort) // still served
			continue
		}
		c.awaitEnd(tt.name+": ", 1008)
	}
}

func TestProxyFeedsFileEvents(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	// The registration is answered by the proxy; wait until gopls has it
	// by a round trip after initialized.
	c.call("fake/state", nil, waitShort)
	if err := os.WriteFile(filepath.Join(e.Dir(e.workspaceID), "new.go"), []byte("package main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := c.await("watched files", waitShort, isMethod("fake/watched"))
	changes := w["params"].(map[string]any)["changes"].([]any)
	found := false
	for _, ch := range changes {
		if ch.(map[string]any)["uri"] == "file:///workspace/new.go" {
			found = true
		}
	}
	if !found {
		t.Errorf("changes = %v", changes)
	}
}

func TestProxyInFlightLimit(t *testing.T) {
	e, m := fakeManager(t, func(o *lsp.Options) { o.MaxInFlight = 2 })
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	c.request("fake/slow", nil)
	c.request("fake/slow", nil)
	if r := c.call("fake/state", nil, waitShort); errCode(r) != -32803 {
		t.Errorf("third request: %v, want RequestFailed", r)
	}
}

func TestProxyIdleStopAndReplay(t *testing.T) {
	e, m := fakeManager(t, func(o *lsp.Options) { o.IdleTimeout = 100 * time.Millisecond })
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": "file:///workspace/main.go", "languageId": "go", "version": 1, "text": "package main // v1\n",
	}})
	before := c.call("fake/state", nil, waitShort)["result"].(map[string]any)
	time.Sleep(500 * time.Millisecond) // let the idle time pass
	after := c.call("fake/state", nil, waitShort)["result"].(map[string]any)
	if after["pid"] == before["pid"] {
		t.Fatal("idle gopls was not stopped")
	}
	if got := after["docs"].(map[string]any)["file:///workspace/main.go"]; got != "package main // v1\n" {
		t.Errorf("replayed document = %q", got)
	}
}

func TestStopWorkspaceEndsSessions(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	if err := m.StopWorkspace(ctx, e.workspaceID); err != nil {
		t.Fatal(err)
	}
	if c.p.closeCode() != 1001 {
		t.Errorf("close code %d, want 1001", c.p.closeCode())
	}
	if n := m.Sessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

func TestProxySanitizesServerRequests(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)

	// LSP-06: the client's configuration reply loses env and unsafe flags.
	mark := len(c.seen)
	c.call("fake/config", nil, waitShort)
	req := c.awaitFrom(mark, "workspace/configuration", waitShort, isMethod("workspace/configuration"))
	c.send(map[string]any{"jsonrpc": "2.0", "id": req["id"], "result": []any{map[string]any{
		"buildFlags": []any{"-toolexec=/bin/sh -c evil", "-tags=ok"},
		"env":        map[string]any{"GOFLAGS": "-toolexec=x", "CC": "/bin/evil"},
	}}})
	fr := c.await("gopls's report", waitShort, fakeResponse(9003))
	if got := jsonString(fr["params"].(map[string]any)["result"]); got != `[{"buildFlags":["-tags=ok"]}]` {
		t.Errorf("configuration at gopls = %s", got)
	}

	// LSP-04: an external showDocument never reaches the client.
	mark = len(c.seen)
	c.call("fake/showDocument", nil, waitShort)
	fr = c.awaitFrom(mark, "gopls's report", waitShort, fakeResponse(9004))
	if got := jsonString(fr["params"].(map[string]any)["result"]); got != `{"success":false}` {
		t.Errorf("showDocument answered %s", got)
	}
	for _, m := range c.seen {
		if m["method"] == "window/showDocument" {
			t.Error("client saw window/showDocument")
		}
	}
}

// fakeResponse matches the fake gopls's report of the answer to its
// request id.
func fakeResponse(id int) func(map[string]any) bool {
	return func(m map[string]any) bool {
		p, _ := m["params"].(map[string]any)
		n, _ := p["id"].(float64)
		return m["method"] == "fake/response" && int(n) == id
	}
}

// LSP-08: Content-Length garbage from gopls is refused before allocation;
// gopls is restarted and the pending request gets an error.
func TestProxyServerFramingGarbage(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	before := c.call("fake/state", nil, waitShort)["result"].(map[string]any)
	if r := c.call("fake/garbage", nil, waitShort); errCode(r) != -32803 {
		t.Errorf("pending request: %v, want RequestFailed", r)
	}
	after := c.call("fake/state", nil, waitShort)["result"].(map[string]any)
	if after["pid"] == before["pid"] {
		t.Error("gopls was not restarted")
	}
}

// LSP-10: a flood is slowed to the configured rate, in order.
func TestProxyRateLimit(t *testing.T) {
	e, m := fakeManager(t, func(o *lsp.Options) { o.MessageRate = 100; o.MessageBurst = 10 })
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)
	start := time.Now()
	for i := 0; i < 50; i++ {
		c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": "file:///workspace/main.go", "version": i}, "contentChanges": []any{}})
	}
	c.call("fake/state", nil, waitShort)
	// 52 messages with a burst of 10 at 100/s take at least 0.4 s.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("flood of 50 messages took %v; the rate limit did not apply", d)
	}
}
