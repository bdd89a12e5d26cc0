package lsp_test

import (
	"strings"
	"testing"
)

// TestRenameStandardLibraryRefused: renaming fmt.Println where the
// workspace calls it would edit GOROOT (file:///goroot). The real gopls
// answers with such an edit; the proxy turns the answer into an error that
// says why, so no edit into a read-only root ever reaches the client. A
// rename of the workspace's own symbol still works. (No catalogue id of
// docs/security.md covers read-only roots; LSP-04 covers gopls's requests.)
func TestRenameStandardLibraryRefused(t *testing.T) {
	gopls := requireGopls(t)
	e := newEnv(t, map[string]string{
		"go.mod":  helloFiles["go.mod"],
		"main.go": helloMain,
		"util.go": "package main\n\nfunc greet() string { return \"hi\" }\n",
	})
	m := newManager(t, e, gopls, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitLong)
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": "file:///workspace/main.go", "languageId": "go", "version": 1, "text": helloMain,
	}})
	// The workspace's own symbol renames as before.
	r := c.call("textDocument/rename", map[string]any{
		"textDocument": map[string]any{"uri": "file:///workspace/util.go"},
		"position":     map[string]any{"line": 2, "character": 6}, // g|reet
		"newName":      "hello",
	}, waitLong)
	if got := jsonString(r["result"]); !strings.Contains(got, `"uri":"file:///workspace/util.go"`) || !strings.Contains(got, `"newText":"hello"`) {
		t.Errorf("rename of greet = %v, want an edit of file:///workspace/util.go", r)
	}

	mark := len(c.raw.String())
	r = c.call("textDocument/rename", map[string]any{
		"textDocument": map[string]any{"uri": "file:///workspace/main.go"},
		"position":     map[string]any{"line": 5, "character": 6}, // fmt.P|rintln
		"newName":      "Say",
	}, waitLong)
	if got := c.raw.String()[mark:]; strings.Contains(got, "file:///goroot") {
		t.Errorf("an edit into file:///goroot reached the client:\n%s", got)
	}
	e0, _ := r["error"].(map[string]any)
	if msg, _ := e0["message"].(string); !strings.Contains(msg, "read-only") || !strings.Contains(msg, "/goroot") {
		t.Errorf("rename of fmt.Println = %v, want an error saying /goroot is read-only", r)
	}
}

// TestReadOnlyEditsRefused: every way an edit into file:///goroot or
// file:///gomodcache could reach the client is closed, and the user is
// told why: gopls's workspace/applyEdit touching GOROOT is answered
// applied=false and the client gets a window/showMessage (LSP-04 keeps
// edits outside every root silent); a code action whose edit renames a
// file into GOROOT is offered disabled, with the reason and without its
// edit, while the others pass unchanged; a resolved code action creating
// a file in the module cache becomes an error; formatting a document in
// GOROOT is refused before it reaches gopls.
func TestReadOnlyEditsRefused(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitShort)

	mark := len(c.seen)
	c.call("fake/applyEditGoroot", nil, waitShort)
	fr := c.awaitFrom(mark, "gopls's report of the answer", waitShort, fakeResponse(9005))
	res := fr["params"].(map[string]any)["result"].(map[string]any)
	if res["applied"] != false || !strings.Contains(res["failureReason"].(string), "read-only") {
		t.Errorf("applyEdit into GOROOT answered %v", res)
	}
	note := c.awaitFrom(mark, "the notice", waitShort, isMethod("window/showMessage"))
	if msg := note["params"].(map[string]any)["message"].(string); !strings.Contains(msg, "/goroot") || !strings.Contains(msg, "read-only") {
		t.Errorf("notice = %q", msg)
	}

	r := c.call("textDocument/codeAction", map[string]any{
		"textDocument": map[string]any{"uri": "file:///workspace/main.go"},
		"range":        map[string]any{"start": map[string]any{"line": 0, "character": 0}, "end": map[string]any{"line": 0, "character": 0}},
		"context":      map[string]any{"diagnostics": []any{}},
	}, waitShort)
	actions, _ := r["result"].([]any)
	if len(actions) != 3 {
		t.Fatalf("code actions = %v", r)
	}
	fix, move, run := actions[0].(map[string]any), actions[1].(map[string]any), actions[2].(map[string]any)
	if got := jsonString(fix); got != `{"edit":{"changes":{"file:///workspace/main.go":[]}},"title":"fix"}` {
		t.Errorf("workspace code action = %s", got)
	}
	if _, ok := move["edit"]; ok {
		t.Errorf("code action into GOROOT kept its edit: %v", move)
	}
	if reason, _ := move["disabled"].(map[string]any)["reason"].(string); !strings.Contains(reason, "read-only") {
		t.Errorf("code action into GOROOT = %v, want disabled with a reason", move)
	}
	if got := jsonString(run); got != `{"command":"gopls.tidy","title":"run"}` {
		t.Errorf("command code action = %s", got)
	}

	r = c.call("codeAction/resolve", map[string]any{"title": "create", "data": 1}, waitShort)
	if errCode(r) != -32803 || !strings.Contains(jsonString(r), "read-only") {
		t.Errorf("resolved code action into GOMODCACHE = %v, want an error saying read-only", r)
	}

	r = c.call("textDocument/formatting", map[string]any{
		"textDocument": map[string]any{"uri": "file:///goroot/src/fmt/print.go"}, "options": map[string]any{"tabSize": 4, "insertSpaces": false},
	}, waitShort)
	if errCode(r) != -32803 || !strings.Contains(jsonString(r), "read-only") {
		t.Errorf("formatting a GOROOT document = %v, want an error saying read-only", r)
	}

	for _, m := range c.seen {
		if m["method"] == "workspace/applyEdit" {
			t.Errorf("client saw %v", m)
		}
	}
	if s := c.raw.String(); strings.Contains(s, "file:///goroot/src/x.go") || strings.Contains(s, "file:///gomodcache/x@v1") {
		t.Errorf("an edit into a read-only root reached the client:\n%s", s)
	}
}
