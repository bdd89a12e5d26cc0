package e2e_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const lspWait = 60 * time.Second // bound for real gopls work

var (
	goplsOnce sync.Once
	goplsBin  string
	goplsErr  error
)

// requireGopls returns the pinned gopls: fails when CI is set and it is
// unavailable, skips otherwise.
func requireGopls(t *testing.T) string {
	t.Helper()
	goplsOnce.Do(func() {
		dir, err := filepath.Abs("../tools")
		if err != nil {
			goplsErr = err
			return
		}
		cmd := exec.Command("go", "tool", "-n", "gopls")
		cmd.Dir = dir
		out, err := cmd.Output()
		goplsBin, goplsErr = strings.TrimSpace(string(out)), err
	})
	if goplsErr != nil || goplsBin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("gopls unavailable: %v", goplsErr)
		}
		t.Skipf("gopls unavailable: %v", goplsErr)
	}
	return goplsBin
}

// lspClient speaks LSP over the server's WebSocket, keeping every byte it
// received.
type lspClient struct {
	t      *testing.T
	conn   *websocket.Conn
	nextID int
	msgs   chan map[string]any
	seen   []map[string]any
	mu     sync.Mutex
	raw    strings.Builder
	readEr chan error
}

func dialLSP(t *testing.T, s *instance, token, ws string) *lspClient {
	t.Helper()
	conn, _, err := s.dialWS("/api/v1/workspaces/"+ws+"/lsp", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	c := &lspClient{t: t, conn: conn, msgs: make(chan map[string]any, 1024), readEr: make(chan error, 1)}
	go func() {
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				close(c.msgs)
				c.readEr <- err
				return
			}
			c.mu.Lock()
			c.raw.Write(b)
			c.raw.WriteByte('\n')
			c.mu.Unlock()
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				c.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *lspClient) received() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw.String()
}

func (c *lspClient) send(v map[string]any) {
	c.t.Helper()
	v["jsonrpc"] = "2.0"
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

func (c *lspClient) notify(method string, params any) {
	c.send(map[string]any{"method": method, "params": params})
}

func (c *lspClient) request(method string, params any) int {
	c.nextID++
	c.send(map[string]any{"id": c.nextID, "method": method, "params": params})
	return c.nextID
}

// await returns the first message received since mark (a len of seen)
// that matches.
func (c *lspClient) await(mark int, what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for _, m := range c.seen[mark:] {
		if match(m) {
			return m
		}
	}
	timeout := time.After(lspWait)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("waiting for %s: connection closed", what)
			}
			c.seen = append(c.seen, m)
			if match(m) {
				return m
			}
		case <-timeout:
			c.t.Fatalf("waiting for %s: timeout", what)
		}
	}
}

func (c *lspClient) call(method string, params any) map[string]any {
	c.t.Helper()
	id := c.request(method, params)
	r := c.await(len(c.seen), method+" response", func(m map[string]any) bool {
		n, ok := m["id"].(float64)
		return ok && int(n) == id && m["method"] == nil
	})
	if r["error"] != nil {
		c.t.Fatalf("%s: %v", method, r["error"])
	}
	return r
}

func diagnosticsFor(uri, contains string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["method"] != "textDocument/publishDiagnostics" {
			return false
		}
		p := m["params"].(map[string]any)
		b, _ := json.Marshal(p["diagnostics"])
		return p["uri"] == uri && strings.Contains(string(b), contains)
	}
}

func pos(uri string, line, char int) map[string]any {
	return map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": line, "character": char}}
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const (
	mainURI     = "file:///workspace/main.go"
	lspBadType  = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n\nvar bad int = \"oops\"\n"
	lspComplete = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.\n}\n"
	lspClean    = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tmsg := \"hello\"\n\tfmt.Println(msg)   \n}\n"
)

// TestLSPSession is a whole editing session against the real binary and
// the real gopls over the WebSocket: diagnostics, completion, hover,
// definition into GOROOT (served by the goroot endpoint), rename,
// formatting, a file changed through the file API, and a scan of every
// byte received for host paths.
func TestLSPSession(t *testing.T) {
	gopls := requireGopls(t)
	s := startServerWith(t, serverConfig{Env: []string{"IDESERVER_LSP_GOPLS_PATH=" + gopls, "IDESERVER_GO_PROXY=off"}})
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "lsp", "template": "hello"})
	c := dialLSP(t, s, s.Token, ws.ID)

	opened := time.Now()
	c.call("initialize", map[string]any{
		"processId": nil, "rootUri": "file:///workspace",
		"capabilities": map[string]any{"textDocument": map[string]any{
			"hover":      map[string]any{"contentFormat": []any{"markdown", "plaintext"}},
			"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": false}},
		}},
	})
	c.notify("initialized", map[string]any{})
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": mainURI, "languageId": "go", "version": 1, "text": lspBadType,
	}})
	c.await(0, "type error diagnostics", diagnosticsFor(mainURI, "cannot use"))
	t.Logf("first diagnostics %v after the WebSocket opened", time.Since(opened))

	// Completion after "fmt." includes Println.
	c.notify("textDocument/didChange", map[string]any{
		"textDocument":   map[string]any{"uri": mainURI, "version": 2},
		"contentChanges": []any{map[string]any{"text": lspComplete}},
	})
	comp := c.call("textDocument/completion", pos(mainURI, 5, 5))
	if !strings.Contains(asJSON(comp["result"]), `"label":"Println"`) {
		t.Errorf("completion after fmt. = %.500s", asJSON(comp["result"]))
	}

	c.notify("textDocument/didChange", map[string]any{
		"textDocument":   map[string]any{"uri": mainURI, "version": 3},
		"contentChanges": []any{map[string]any{"text": lspClean}},
	})
	hover := c.call("textDocument/hover", pos(mainURI, 6, 6))
	if !strings.Contains(asJSON(hover["result"]), "Println") {
		t.Errorf("hover = %s", asJSON(hover["result"]))
	}

	def := c.call("textDocument/definition", pos(mainURI, 6, 6))
	locs, _ := def["result"].([]any)
	if len(locs) == 0 {
		t.Fatalf("definition = %s", asJSON(def))
	}
	uri, _ := locs[0].(map[string]any)["uri"].(string)
	rel, ok := strings.CutPrefix(uri, "file:///goroot/")
	if !ok || !strings.HasPrefix(rel, "src/fmt/") {
		t.Fatalf("definition of fmt.Println at %q, want file:///goroot/src/fmt/...", uri)
	}
	resp := s.do(t, request{Method: "GET", Path: "/api/v1/workspaces/" + ws.ID + "/goroot/" + rel, Token: s.Token})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(resp.Body), "func Println(") {
		t.Errorf("goroot endpoint for %s: %d %.200s", rel, resp.StatusCode, resp.Body)
	}

	ren := c.call("textDocument/rename", map[string]any{
		"textDocument": map[string]any{"uri": mainURI}, "position": map[string]any{"line": 5, "character": 2}, "newName": "greeting",
	})
	if r := asJSON(ren["result"]); !strings.Contains(r, mainURI) || !strings.Contains(r, "greeting") {
		t.Errorf("rename = %s", r)
	}

	format := c.call("textDocument/formatting", map[string]any{
		"textDocument": map[string]any{"uri": mainURI}, "options": map[string]any{"tabSize": 4, "insertSpaces": false},
	})
	if edits, _ := format["result"].([]any); len(edits) == 0 {
		t.Errorf("formatting = %s, want edits removing trailing spaces", asJSON(format))
	}

	// A file written through the file API reaches gopls without any
	// client notification.
	mark := len(c.seen)
	s.putFile(t, s.Token, ws.ID, "other.go", "package main\n\nvar other int = \"nope\"\n")
	c.await(mark, "diagnostics for other.go", diagnosticsFor("file:///workspace/other.go", "cannot use"))

	// Another tenant sees neither the workspace nor its goroot.
	other := s.createToken(t, "other", "eve")
	if r := s.do(t, request{Method: "GET", Path: "/api/v1/workspaces/" + ws.ID + "/goroot/" + rel, Token: other.Token}); r.StatusCode != http.StatusNotFound {
		t.Errorf("other tenant's goroot read: %d", r.StatusCode)
	}
	if _, resp, err := s.dialWS("/api/v1/workspaces/"+ws.ID+"/lsp", http.Header{"Authorization": {"Bearer " + other.Token}}); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("other tenant's LSP: %v", err)
	}

	// No host path in anything the client received.
	goroot, _ := exec.Command("go", "env", "GOROOT").Output()
	got := c.received()
	for _, host := range []string{s.Data, strings.TrimSpace(string(goroot)), filepath.Join(s.Data, "tenants")} {
		if host != "" && strings.Contains(got, host) {
			t.Errorf("client received host path %q", host)
		}
	}

	// Closing the WebSocket shuts gopls down.
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	select {
	case err := <-c.readEr:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Logf("close: %v", err)
		}
	case <-time.After(lspWait):
		t.Error("server did not close")
	}
}

// TestLSPBadInput: malformed JSON closes with 1007; URIs outside the roots
// get InvalidParams; a path escaping the goroot endpoint is refused.
func TestLSPBadInput(t *testing.T) {
	gopls := requireGopls(t)
	s := startServerWith(t, serverConfig{Env: []string{"IDESERVER_LSP_GOPLS_PATH=" + gopls, "IDESERVER_GO_PROXY=off"}})
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "lsp", "template": "hello"})

	for _, p := range []string{"src/fmt/nope.go", "src/fmt/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "src/fmt/a%00b"} {
		r := s.do(t, request{Method: "GET", Path: "/api/v1/workspaces/" + ws.ID + "/goroot/" + p, Token: s.Token})
		if r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusBadRequest {
			t.Errorf("goroot %s: %d", p, r.StatusCode)
		}
	}

	c := dialLSP(t, s, s.Token, ws.ID)
	id := c.request("textDocument/hover", pos("file:///etc/passwd", 0, 0))
	r := c.await(0, "InvalidParams", func(m map[string]any) bool { n, _ := m["id"].(float64); return int(n) == id })
	if e, _ := r["error"].(map[string]any); e == nil || e["code"] != -32602.0 {
		t.Errorf("hover outside the roots = %v", r)
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.readEr:
		if !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
			t.Errorf("after malformed JSON: %v, want close 1007", err)
		}
	case <-time.After(lspWait):
		t.Fatal("server did not close")
	}
}
