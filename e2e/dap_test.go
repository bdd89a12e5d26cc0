package e2e_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// requirePinnedTool returns the pinned tool's binary (go tool -n in
// ../tools): fails when CI is set and it is unavailable, else skips.
func requirePinnedTool(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command("go", "tool", "-n", name)
	cmd.Dir = filepath.Join("..", "tools")
	out, err := cmd.Output()
	p := strings.TrimSpace(string(out))
	if err == nil {
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s unavailable: %v", name, err)
	}
	t.Skipf("%s unavailable: %v", name, err)
	return ""
}

// dapClient speaks DAP over the real WebSocket; a goroutine reads.
type dapClient struct {
	t        *testing.T
	conn     *websocket.Conn
	seq      int
	in       chan []byte // text frames; closed when reading ends
	received []byte      // every byte received
	pending  []map[string]any
}

func dialDAP(t *testing.T, s *instance, token, ws string) *dapClient {
	t.Helper()
	conn, _, err := s.dialWS("/api/v1/workspaces/"+ws+"/dap", bearer(token))
	if err != nil {
		t.Fatal(err)
	}
	c := &dapClient{t: t, conn: conn, in: make(chan []byte, 4096)}
	go func() {
		defer close(c.in)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			c.in <- data
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *dapClient) send(command string, args any) int {
	c.t.Helper()
	c.seq++
	if err := c.conn.WriteJSON(map[string]any{"seq": c.seq, "type": "request", "command": command, "arguments": args}); err != nil {
		c.t.Fatal(err)
	}
	return c.seq
}

func (c *dapClient) await(what string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for i, m := range c.pending {
		if ok(m) {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return m
		}
	}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case b, open := <-c.in:
			if !open {
				c.t.Fatalf("DAP socket closed before %s; received %s", what, c.received)
			}
			c.received = append(append(c.received, b...), '\n')
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				c.t.Fatalf("invalid JSON %q", b)
			}
			if ok(m) {
				return m
			}
			c.pending = append(c.pending, m)
		case <-deadline:
			c.t.Fatalf("no %s within 60s; received %s", what, c.received)
		}
	}
}

func (c *dapClient) response(seq int) map[string]any {
	c.t.Helper()
	return c.await("response "+strconv.Itoa(seq), func(m map[string]any) bool {
		return m["type"] == "response" && m["request_seq"] == float64(seq)
	})
}

func (c *dapClient) event(name string) map[string]any {
	c.t.Helper()
	return c.await("event "+name, func(m map[string]any) bool { return m["type"] == "event" && m["event"] == name })
}

// closed waits until the server closes the socket.
func (c *dapClient) closed() {
	c.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case b, open := <-c.in:
			if !open {
				return
			}
			c.received = append(append(c.received, b...), '\n')
		case <-deadline:
			c.t.Fatal("DAP socket still open")
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDAPDebugHello debugs the hello template through the real binary's
// WebSocket with real dlv: breakpoint, stack, output, end; no host path in
// any byte received; refused forms; another tenant gets 404.
func TestDAPDebugHello(t *testing.T) {
	dlv := requirePinnedTool(t, "dlv")
	gopls := requirePinnedTool(t, "gopls") // so the server builds nothing
	s := startServerWith(t, serverConfig{Env: []string{
		"IDESERVER_DAP_DLV_PATH=" + dlv, "IDESERVER_LSP_GOPLS_PATH=" + gopls, "IDESERVER_GO_PROXY=off",
	}})
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "dbg", "template": "hello"})

	other := s.createToken(t, "other", "bob")
	wantHandshakeStatus(t, s, "other tenant", "/api/v1/workspaces/"+ws.ID+"/dap", bearer(other.Token), http.StatusNotFound)

	c := dialDAP(t, s, s.Token, ws.ID)
	if r := c.response(c.send("initialize", map[string]any{"adapterID": "go", "pathFormat": "path", "linesStartAt1": true})); r["success"] != true {
		t.Fatalf("initialize: %v", r)
	}
	for _, bad := range []map[string]any{
		{"mode": "exec", "program": "/bin/sh"},
		{"mode": "debug", "program": "/etc"},
		{"mode": "debug", "program": "/workspace", "buildFlags": "-toolexec=/bin/sh"},
		{"mode": "debug", "program": "/workspace", "env": map[string]any{"LD_PRELOAD": "/tmp/x.so"}},
	} {
		if r := c.response(c.send("launch", bad)); r["success"] != false {
			t.Errorf("launch %v was accepted: %v", bad, r)
		}
	}
	if r := c.response(c.send("attach", map[string]any{"mode": "local", "processId": os.Getpid()})); r["success"] != false {
		t.Errorf("attach accepted: %v", r)
	}

	launch := c.send("launch", map[string]any{"mode": "debug", "program": "/workspace"})
	c.event("initialized")
	bp := c.response(c.send("setBreakpoints", map[string]any{
		"source": map[string]any{"path": "/workspace/main.go"}, "breakpoints": []any{map[string]any{"line": 6}},
	}))
	if !strings.Contains(jsonOf(bp), `"verified":true`) {
		t.Fatalf("setBreakpoints: %v", bp)
	}
	if r := c.response(c.send("setBreakpoints", map[string]any{
		"source": map[string]any{"path": "/etc/passwd"}, "breakpoints": []any{map[string]any{"line": 1}},
	})); r["success"] != false {
		t.Errorf("breakpoint outside the workspace accepted: %v", r)
	}
	c.response(c.send("configurationDone", nil))
	if r := c.response(launch); r["success"] != true {
		t.Fatalf("launch: %v", r)
	}
	stopped := c.event("stopped")
	thread := stopped["body"].(map[string]any)["threadId"]
	st := c.response(c.send("stackTrace", map[string]any{"threadId": thread, "levels": 20}))
	if frames := jsonOf(st["body"]); !strings.Contains(frames, `"path":"/workspace/main.go"`) || !strings.Contains(frames, `"line":6`) {
		t.Fatalf("stackTrace: %s", frames)
	}
	c.response(c.send("continue", map[string]any{"threadId": thread}))
	c.event("terminated")
	if !strings.Contains(string(c.received), `Hello, ideserver!\n`) {
		t.Errorf("no program output in %s", c.received)
	}
	c.response(c.send("disconnect", map[string]any{}))
	c.closed()

	for _, secret := range []string{s.Data, filepath.Join(s.Data, "workspaces")} {
		if strings.Contains(string(c.received), secret) {
			t.Errorf("client received host path %q", secret)
		}
	}

	// Same tenant, warm build cache: the program's stdin through a
	// terminal.
	t.Run("integratedTerminal", func(t *testing.T) { debugInTerminal(t, s, ws.ID) })
}

const stdinMain = `package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	fmt.Println("name?")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Printf("hello, %s", line)
}
`

// debugInTerminal launches with console "integratedTerminal": the client
// learns the terminal from the ideserverTerminal event, finds it in the
// terminals list, attaches over the terminal WebSocket, types the
// program's input, and sees its output there; a breakpoint after the read
// stops; ending the debug session ends the terminal.
func debugInTerminal(t *testing.T, s *instance, ws string) {
	s.putFile(t, s.Token, ws, "main.go", stdinMain)
	c := dialDAP(t, s, s.Token, ws)
	if r := c.response(c.send("initialize", map[string]any{"adapterID": "go", "pathFormat": "path", "linesStartAt1": true, "supportsRunInTerminalRequest": true})); r["success"] != true {
		t.Fatalf("initialize: %v", r)
	}
	launch := c.send("launch", map[string]any{"mode": "debug", "program": "/workspace", "console": "integratedTerminal"})
	ev := c.event("ideserverTerminal")
	id, _ := ev["body"].(map[string]any)["terminalId"].(string)
	base := "/api/v1/workspaces/" + ws + "/terminals"
	var list struct {
		Terminals []terminalJSON `json:"terminals"`
	}
	s.call(t, request{Method: "GET", Path: base, Token: s.Token}, http.StatusOK, &list)
	if id == "" || len(list.Terminals) != 1 || list.Terminals[0].ID != id {
		t.Fatalf("terminal event %v; terminals %+v", ev, list.Terminals)
	}
	conn, _, err := s.dialWS(base+"/"+id+"/attach", bearer(s.Token))
	if err != nil {
		t.Fatal(err)
	}
	term := readTerminal(t, conn)

	c.event("initialized")
	bp := c.response(c.send("setBreakpoints", map[string]any{
		"source": map[string]any{"path": "/workspace/main.go"}, "breakpoints": []any{map[string]any{"line": 12}},
	}))
	if !strings.Contains(jsonOf(bp), `"verified":true`) {
		t.Fatalf("setBreakpoints: %v", bp)
	}
	c.response(c.send("configurationDone", nil))
	if r := c.response(launch); r["success"] != true {
		t.Fatalf("launch: %v", r)
	}
	term.expect(t, "name?", 60*time.Second)
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte("gopher\r")); err != nil {
		t.Fatal(err)
	}
	stopped := c.event("stopped")
	c.response(c.send("continue", map[string]any{"threadId": stopped["body"].(map[string]any)["threadId"]}))
	term.expect(t, "hello, gopher", 30*time.Second)
	c.event("terminated")
	c.response(c.send("disconnect", map[string]any{}))
	c.closed()

	deadline := time.Now().Add(15 * time.Second)
	for {
		s.call(t, request{Method: "GET", Path: base, Token: s.Token}, http.StatusOK, &list)
		if len(list.Terminals) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminals after the debug session: %+v", list.Terminals)
		}
		time.Sleep(50 * time.Millisecond) // polling, not an assertion
	}
	if strings.Contains(string(c.received), s.Data) {
		t.Errorf("client received host path %q", s.Data)
	}
}
