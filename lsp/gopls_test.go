package lsp_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const helloMain = `package main

import "fmt"

func main() {
	fmt.Println("hello")
}
`

var helloFiles = map[string]string{
	"go.mod":  "module hello\n\ngo 1.26\n",
	"main.go": helloMain,
}

// goplsPids finds the gopls processes this test binary's runners started.
func goplsPids(t testing.TB) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		envb, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(envb, []byte("IDESERVER_SANDBOX="+instance+"/")) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if strings.TrimSpace(string(comm)) == "gopls" {
			pids = append(pids, pid)
		}
	}
	return pids
}

func hoverParams(uri string, line, char int) map[string]any {
	return map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": line, "character": char}}
}

func hasDiagnostics(uri string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["method"] != "textDocument/publishDiagnostics" {
			return false
		}
		p := m["params"].(map[string]any)
		d, _ := p["diagnostics"].([]any)
		return p["uri"] == uri && len(d) > 0
	}
}

// TestRealGoplsRecoversAndWatches runs the real gopls: a file written
// behind the client's back changes diagnostics; gopls killed with SIGKILL
// is restarted and hover works again on the document the client opened
// before, without the client re-opening anything.
func TestRealGoplsRecoversAndWatches(t *testing.T) {
	gopls := requireGopls(t)
	e := newEnv(t, helloFiles)
	m := newManager(t, e, gopls, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	c.initialize(waitLong)
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": "file:///workspace/main.go", "languageId": "go", "version": 1, "text": helloMain,
	}})
	hover := c.call("textDocument/hover", hoverParams("file:///workspace/main.go", 5, 6), waitLong)
	if !strings.Contains(jsonString(hover), "Println") {
		t.Fatalf("hover = %v", hover)
	}

	// LSP-11: plain argv, no listeners or debug servers.
	pids := goplsPids(t)
	if len(pids) != 1 {
		t.Fatalf("gopls processes: %v", pids)
	}
	cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pids[0]), "cmdline"))
	if args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); len(args) != 1 {
		t.Errorf("gopls argv = %q", args)
	}

	if l := listeningSockets(t, pids[0]); len(l) > 0 {
		t.Errorf("gopls listens: %v", l)
	}

	// A file changed by a "shell" (not through the client) reaches gopls.
	if err := os.WriteFile(filepath.Join(e.Dir(e.workspaceID), "other.go"), []byte("package main\n\nvar x int = \"no\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.await("diagnostics for other.go", waitLong, hasDiagnostics("file:///workspace/other.go"))

	// SIGKILL mid-session.
	id := c.request("textDocument/hover", hoverParams("file:///workspace/main.go", 5, 6))
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mark := len(c.seen)
	c.response(id, waitLong) // an answer or an error, never a hang
	notice := c.await("restart notice", waitLong, isMethod("window/showMessage"))
	if !strings.Contains(jsonString(notice), "was killed") {
		t.Errorf("restart notice %v does not say gopls was killed", notice)
	}
	hover = c.call("textDocument/hover", hoverParams("file:///workspace/main.go", 5, 6), waitLong)
	if !strings.Contains(jsonString(hover), "Println") {
		t.Fatalf("hover after restart = %v", hover)
	}
	c.awaitFrom(mark, "diagnostics for other.go after restart", waitLong, hasDiagnostics("file:///workspace/other.go"))

	if s := c.raw.String(); strings.Contains(s, e.data) || strings.Contains(s, e.goroot) {
		t.Errorf("client received a host path:\n%s", s)
	}
	deadline := time.Now().Add(waitShort)
	for len(goplsPids(t)) != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p := goplsPids(t); len(p) != 1 {
		t.Errorf("gopls processes after restart: %v", p)
	}
}

// listeningSockets lists TCP sockets of pid in state LISTEN (LSP-11).
func listeningSockets(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "net", table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] {
				out = append(out, table+" "+f[1])
			}
		}
	}
	return out
}
