package e2e_test

// Attacks on the network, the language server, the debugger and process
// lifetime (RUN-03, LSP-07, LSP-11, DAP-02, DAP-07, TTY-07, TTY-08); see
// attack_test.go.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// networkTerminal (RUN-03): A's terminal has a network of its own
// (slirp4netns): the server's port on the host's loopback is out of reach.
// Outbound connections are allowed by design (the module proxy), so
// 1.1.1.1:53 is only reported.
func (e *attackEnv) networkTerminal(t *testing.T) {
	r := e.table.row(t, "RUN-03 terminal: connect to 127.0.0.1:<server port>", "refused (own network namespace, no host loopback)")
	_, port, _ := net.SplitHostPort(e.s.Host)
	out, code := e.aRun(t, `( exec 3<>/dev/tcp/127.0.0.1/`+port+` || exit 9; printf 'GET /api/v1/workspaces HTTP/1.0\r\nHost: 127.0.0.1:`+port+`\r\n\r\n' >&3; head -n1 <&3 )`)
	switch status := field(`HTTP/1\.[01] (\d{3})`, out); {
	case status == "":
		r.see("not connected (exit %d)", code)
	default:
		t.Errorf("A's terminal reached the server's port: HTTP %s", status)
		r.see("connected: HTTP %s", status)
	}
	r2 := e.table.row(t, "RUN-03 terminal: connect to 1.1.1.1:53", "outbound allowed by design (reported only)")
	if _, code = e.aRun(t, `timeout 5 bash -c 'exec 3<>/dev/tcp/1.1.1.1/53'`); code == 0 {
		r2.see("connected")
	} else {
		r2.see("not connected (exit %d; the host may have no route)", code)
	}
}

// networkPlayground (RUN-03): a playground run reaches neither the server
// nor the internet.
func (e *attackEnv) networkPlayground(t *testing.T) {
	_, port, _ := net.SplitHostPort(e.s.Host)

	rp := e.table.row(t, "RUN-03 playground run: dial server port, 1.1.1.1:53, 169.254.169.254:80", "all fail (no network)")
	var res playResult
	select {
	case res = <-e.playground:
	case <-time.After(200 * time.Second):
		t.Fatal("the playground run did not answer within 200s")
	}
	if res.err != nil {
		t.Fatalf("playground run: %v", res.err)
	}
	for _, a := range []string{"127.0.0.1:" + port, "1.1.1.1:53", "169.254.169.254:80"} {
		if !strings.Contains(res.out, "FAILED "+a) {
			t.Errorf("playground dial %s did not fail; output %q", a, res.out)
		}
	}
	if strings.Contains(res.out, "CONNECTED") || strings.Contains(res.out, "ERRORS:") {
		t.Errorf("playground output %q", res.out)
	}
	if line := field(`FAILED 127\.0\.0\.1:\d+ (.*)`, res.out); line != "" {
		rp.see("server port: %s", line)
	}
	rp.see("all three failed")
}

// evilMain tries cgo flag tricks that would write files named mark*
// under /tmp (CVE-2023-29404/29405 style).
func evilMain(mark string) string {
	return `package main

/*
#cgo pkg-config: --log-file=/tmp/` + mark + `-pkgconfig
#cgo CFLAGS: -fdump-rtl-all=/tmp/` + mark + `-dump
#cgo LDFLAGS: -Wl,-Map=/tmp/` + mark + `-map -Wl,--plugin=/tmp/` + mark + `-plugin.so
*/
import "C"

//go:generate touch /tmp/` + mark + `-generate

func main() {}
`
}

// languageServer (LSP-07, LSP-11): a workspace with cgo flag tricks and an
// evil toolchain line writes nothing outside the sandbox and downloads no
// toolchain; gopls runs with a fixed argv and listens on nothing.
func (e *attackEnv) languageServer(t *testing.T) {
	r := e.table.row(t, "LSP-07 open a workspace with cgo LDFLAGS/pkg-config tricks, toolchain go1.99-evil", "no file outside the sandbox; no toolchain download")
	mark := "pwn-lsp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	evil := e.s.createWorkspace(t, e.a.Token, map[string]any{"name": "evil", "files": map[string]string{
		"go.mod":  "module evil\n\ngo 1.26\n\ntoolchain go1.99-evil\n",
		"main.go": evilMain(mark),
	}})
	c := dialLSP(t, e.s, e.a.Token, evil.ID)
	defer c.conn.Close()
	c.call("initialize", map[string]any{"processId": nil, "rootUri": "file:///workspace", "capabilities": map[string]any{}})
	c.notify("initialized", map[string]any{})
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": mainURI, "languageId": "go", "version": 1, "text": evilMain(mark),
	}})
	start := time.Now()
	d := c.await(0, "diagnostics for main.go", func(m map[string]any) bool {
		p, _ := m["params"].(map[string]any)
		return m["method"] == "textDocument/publishDiagnostics" && p["uri"] == mainURI
	})
	r.see("gopls diagnosed main.go in %v: %.120s", time.Since(start).Round(time.Millisecond), asJSON(d["params"].(map[string]any)["diagnostics"]))
	// One more round trip, so gopls has finished loading (an error
	// answer is fine).
	id := c.request("textDocument/hover", pos(mainURI, 11, 5))
	c.await(0, "hover response", func(m map[string]any) bool { n, _ := m["id"].(float64); return int(n) == id })
	for _, dir := range []string{"/tmp", os.TempDir()} {
		if m, _ := filepath.Glob(filepath.Join(dir, mark+"*")); len(m) > 0 {
			t.Errorf("files written outside the sandbox: %v", m)
		}
	}
	_ = filepath.WalkDir(e.cfg.Data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), "go1.99") || strings.Contains(d.Name(), mark)) {
			t.Errorf("found %s under the data directory", p)
		}
		return nil
	})
	r.see("no %s* on the host, no go1.99 under the data directory", mark)
	gopls := findProcs(e.uidA, "gopls")
	if len(gopls) == 0 {
		t.Fatalf("no gopls of uid %d on the host", e.uidA)
	}
	env, err := os.ReadFile("/proc/" + strconv.Itoa(gopls[0].Pid) + "/environ")
	if err != nil || !strings.Contains("\x00"+string(env), "\x00GOTOOLCHAIN=local\x00") {
		t.Errorf("gopls's environment lacks GOTOOLCHAIN=local (%v)", err)
	}
	r.see("gopls runs with GOTOOLCHAIN=local")

	r11 := e.table.row(t, "LSP-11 gopls argv and listening sockets (A and B)", "fixed argv; nothing listens")
	for _, uid := range []int{e.uidA, e.uidB} {
		for _, p := range findProcs(uid, "gopls") {
			for _, a := range p.Argv[1:] {
				for _, bad := range []string{"listen", "remote", "debug", "mcp", "rpc.trace", "logfile"} {
					if strings.Contains(a, bad) {
						t.Errorf("gopls (uid %d) argv %q has %q", uid, p.Argv, bad)
					}
				}
			}
			r11.see("uid %d gopls argv %q", uid, strings.Join(append([]string{filepath.Base(p.Argv[0])}, p.Argv[1:]...), " "))
		}
		if l := listenersOf(uid); len(l) > 0 {
			t.Errorf("uid %d listens: %v", uid, l)
		}
	}
	r11.see("no listening TCP or unix socket of A or B")
}

// deleteWorkspace (TTY-07): processes A leaves with setsid, nohup and a
// double fork do not survive the deletion of its workspaces.
func (e *attackEnv) deleteWorkspace(t *testing.T) {
	r := e.table.row(t, "TTY-07 setsid nohup / double fork, then DELETE the workspace", "no process of A's uid left")
	e.aRun(t, "setsid nohup sleep 1000 >/dev/null 2>&1 &")
	e.aRun(t, "(sleep 1001 >/dev/null 2>&1 &) &")
	e.aRun(t, "nohup sleep 1002 >/dev/null 2>&1 & disown")
	for _, arg := range []string{"1000", "1001", "1002"} {
		waitProc(t, e.uidA, "sleep", arg)
	}
	r.see("%d processes of uid A before", len(hostProcs(e.uidA)))
	start := time.Now()
	for _, ws := range e.s.listWorkspaces(t, e.a.Token) {
		e.s.call(t, request{Method: "DELETE", Path: "/api/v1/workspaces/" + ws.ID, Token: e.a.Token}, http.StatusNoContent, nil)
	}
	deleted := time.Since(start)
	left := hostProcs(e.uidA)
	gone := waitNoProcs(t, e.uidA, 10*time.Second)
	r.see("DELETE took %v; %d left right after, none after %v", deleted.Round(time.Millisecond), len(left), gone.Round(time.Millisecond))
	if len(left) > 0 {
		t.Logf("processes of uid A right after DELETE returned: %s", describe(left))
	}
	e.echoB(t)
}

// serverCrash (TTY-08): SIGKILL the server while tenants' shells run; after
// a restart on the same data directory nothing of theirs is left.
func (e *attackEnv) serverCrash(t *testing.T) {
	r := e.table.row(t, "TTY-08 SIGKILL the server while shells run sleep 1000; restart", "nothing survives")
	ws := e.s.createWorkspace(t, e.a.Token, map[string]any{"name": "a2", "template": "hello"}).ID
	sh := openShell(t, e.s, e.a.Token, ws, "A2")
	sh.run(t, "sleep 1000 &", 30*time.Second)
	e.shB.run(t, "sleep 1003 &", 30*time.Second)
	sleepA := waitProc(t, e.uidA, "sleep", "1000")
	sleepB := waitProc(t, e.uidB, "sleep", "1003")

	e.s.Kill()
	start := time.Now()
	s2 := startServerWith(t, e.cfg)
	restart := time.Since(start)
	e.checkReady(t, s2)
	if sleepA.alive() || sleepB.alive() {
		t.Errorf("left over after the restart: A's sleep %v, B's sleep %v", sleepA.alive(), sleepB.alive())
	}
	waitNoProcs(t, e.uidA, 5*time.Second)
	waitNoProcs(t, e.uidB, 5*time.Second)
	r.see("restart took %v; no process of A or B afterwards", restart.Round(time.Millisecond))
	// The restarted server works for A; stopping it gracefully removes its
	// cgroups.
	sh2 := openShell(t, s2, e.a.Token, ws, "A3")
	if out, _ := sh2.run(t, "echo A-$((2+3))", 30*time.Second); !strings.Contains(out, "A-5") {
		t.Errorf("A's terminal after the restart: %q", out)
	}
	if code := s2.Stop(); code != 0 {
		t.Errorf("the restarted server exited with %d", code)
	}
}

// debugger (DAP-02, DAP-07): A's debug session cannot attach to foreign
// pids; dlv dials the proxy's socket from a private directory and listens
// on nothing; another uid cannot enter that directory.
func (e *attackEnv) debugger(t *testing.T) {
	r := e.table.row(t, "DAP-02 attach mode=local to server, B's gopls, pid 1", "denied; server and B unaffected")
	gopls := waitProc(t, e.uidB, "gopls")
	c := dialDAP(t, e.s, e.a.Token, e.wsA)
	defer c.conn.Close()
	if resp := c.response(c.send("initialize", map[string]any{"adapterID": "go", "pathFormat": "path", "linesStartAt1": true})); resp["success"] != true {
		t.Fatalf("initialize: %v", resp)
	}
	for _, pid := range []int{e.s.cmd.Process.Pid, gopls.Pid, 1} {
		resp := c.response(c.send("attach", map[string]any{"mode": "local", "processId": pid}))
		if resp["success"] != false {
			t.Errorf("attach to %d accepted: %v", pid, resp)
		}
		r.see("attach %d: success=%v", pid, resp["success"])
	}
	e.serverAlive(t)
	if !gopls.alive() {
		t.Errorf("B's gopls died")
	}
	r.see("B hover %v after", e.hoverB(t))

	r7 := e.table.row(t, "DAP-07 reach dlv's socket as another uid", "dlv only dials a 0700 dir; nothing listens; other uid refused")
	dlv := waitProc(t, e.uidA, "dlv")
	argv := strings.Join(dlv.Argv, " ")
	if !strings.Contains(argv, "--client-addr=unix:") || !strings.Contains(argv, "--only-same-user") || strings.Contains(argv, "--listen") {
		t.Errorf("dlv argv %q: want --client-addr=unix:… --only-same-user and no --listen", argv)
	}
	r7.see("dlv argv: %s", strings.Join(dlv.Argv[1:], " "))
	if l := listenersOf(e.uidA); len(l) > 0 {
		t.Errorf("A's processes listen: %v", l)
	}
	dirs, _ := filepath.Glob(filepath.Join("/tmp", "ideserver-dap-*"))
	checked := 0
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || int(fi.Sys().(*syscall.Stat_t).Uid) != e.uidA {
			continue
		}
		checked++
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("session directory mode %04o, want 0700", fi.Mode().Perm())
		}
		// B's uid tries to look inside (where the socket lives while dlv
		// dials).
		ls := exec.Command("/bin/ls", d)
		ls.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uidB), Gid: uint32(e.uidB)}}
		if out, err := ls.CombinedOutput(); err == nil {
			t.Errorf("uid %d listed A's debug session directory: %s", e.uidB, out)
		} else {
			r7.see("uid B: ls session dir: %s", strings.TrimSpace(string(out)))
		}
	}
	if checked == 0 {
		r7.see("no session directory of uid A under /tmp (not checked)")
	}
	r7.see("no listening socket of uid A")
	if resp := c.response(c.send("disconnect", map[string]any{})); resp["success"] != true {
		t.Logf("disconnect: %v", resp)
	}
}

// runPlayground runs a program dialling the server and the internet through
// the playground (RUN-03) and sends its output on e.playground.
func (e *attackEnv) runPlayground() {
	_, port, _ := net.SplitHostPort(e.s.Host)
	src := `package main

import (
	"fmt"
	"net"
	"time"
)

func main() {
	for _, a := range []string{"127.0.0.1:` + port + `", "1.1.1.1:53", "169.254.169.254:80"} {
		c, err := net.DialTimeout("tcp", a, 3*time.Second)
		if err == nil {
			fmt.Println("CONNECTED", a)
			c.Close()
			continue
		}
		fmt.Println("FAILED", a, err)
	}
}
`
	body, _ := json.Marshal(map[string]string{"body": src})
	req, _ := http.NewRequest("POST", e.s.URL+"/compile", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 200 * time.Second}).Do(req)
	if err != nil {
		e.playground <- playResult{err: err}
		return
	}
	defer resp.Body.Close()
	var out struct {
		Errors string
		Events []struct{ Message, Kind string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		e.playground <- playResult{err: fmt.Errorf("status %d: %v", resp.StatusCode, err)}
		return
	}
	var b strings.Builder
	for _, ev := range out.Events {
		b.WriteString(ev.Message)
	}
	if out.Errors != "" {
		b.WriteString("ERRORS: " + out.Errors)
	}
	e.playground <- playResult{out: b.String()}
}
