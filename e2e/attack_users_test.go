package e2e_test

// SBX-05: two users of one tenant. The tenant is the administrative
// boundary, the user the isolation boundary: dave plants shell start-up
// files, a go env file whose GOFLAGS runs a script of his on every build,
// and a build cache entry, all in his HOME; carol's terminal, gopls and dlv
// must never see or run any of it, and dave's uid must not read carol's
// files. Each planted script appends its runner's uid to a marker file in
// the workspace of whoever runs it; carol's workspace must have none.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// usersUIDFirst is the first uid of this test's server: a range of 16 of
// its own, apart from the other suites' (see attackUIDFirst).
func usersUIDFirst() int {
	return 1_600_000_000 + (os.Getpid()%100_000)*16
}

// daveProgram plants everything in dave's HOME (/home/user in his
// sandbox). The markers name the workspace of whoever runs them.
const daveProgram = `set -e
echo 'echo "$(id -u)" >> /workspace/PWNED-bashrc' >> ~/.bashrc
echo 'echo "$(id -u)" >> /workspace/PWNED-profile' >> ~/.profile
printf '#!/bin/sh\necho "$(id -u)" >> /workspace/PWNED-toolexec\nexec "$@"\n' > ~/.evil
chmod 755 ~/.evil
mkdir -p ~/.config/go
echo 'GOFLAGS=-toolexec=/home/user/.evil' > ~/.config/go/env
cache=$(go env GOCACHE)
mkdir -p "$cache/ff"
echo planted > "$cache/ff/dave-planted-d"
echo dave > ~/dave-was-here
go env GOFLAGS`

// daveFiles are what daveProgram leaves in HOME, relative to it; a
// process whose view of /home/user holds any of them shares dave's HOME.
var daveFiles = []string{".bashrc", ".profile", ".evil", ".config/go/env", "dave-was-here"}

func TestAttackUsersOfOneTenant(t *testing.T) {
	requireIsolation(t)
	requirePinnedTool(t, "dlv")
	requirePinnedTool(t, "gopls")
	data := filepath.Join(searchableTempDir(t), "data")
	s := startServerWith(t, serverConfig{Data: data, Env: []string{
		"IDESERVER_ISOLATION_MODE=bwrap",
		"IDESERVER_ISOLATION_UID_FIRST=" + strconv.Itoa(usersUIDFirst()),
		"IDESERVER_ISOLATION_UID_COUNT=16",
	}})
	dave := s.createToken(t, "course", "dave")
	carol := s.createToken(t, "course", "carol")
	wsD := s.createWorkspace(t, dave.Token, map[string]any{"name": "d", "template": "hello"}).ID
	wsC := s.createWorkspace(t, carol.Token, map[string]any{"name": "c", "template": "hello"}).ID
	secret := "CAROL-SECRET-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	s.putFile(t, carol.Token, wsC, "secret.txt", secret+"\n")
	wsDir := func(ws string) string { return filepath.Join(data, "workspaces", ws) }

	uidD, uidC := fileOwner(t, wsDir(wsD)), fileOwner(t, wsDir(wsC))
	if uidD == uidC || uidD == 0 || uidC == 0 {
		t.Errorf("workspace owners: dave %d, carol %d; want two distinct uids, neither root", uidD, uidC)
	}

	// dave plants, in a terminal of his own.
	shD := openShell(t, s, dave.Token, wsD, "dave")
	if out, code := shD.run(t, daveProgram, 60*time.Second); code != 0 || !strings.Contains(out, "-toolexec=/home/user/.evil") {
		t.Fatalf("dave's planting: code %d, output %q", code, tail(out, 2000))
	}

	// carol's terminal: an interactive bash reads ~/.bashrc at start.
	shC := openShell(t, s, carol.Token, wsC, "carol")
	out, code := shC.run(t, `go env GOFLAGS; test ! -e ~/dave-was-here && test ! -e "$(go env GOCACHE)/ff/dave-planted-d" && echo CLEAN-HOME`, 60*time.Second)
	if code != 0 || !strings.Contains(out, "CLEAN-HOME") || strings.Contains(out, "toolexec") {
		t.Errorf("carol's terminal sees dave's HOME: code %d, output %q", code, tail(out, 2000))
	}
	checkView(t, "carol's terminal", uidC, "bash")

	// carol's gopls: it answers, and its HOME is not dave's.
	c := dialLSP(t, s, carol.Token, wsC)
	c.call("initialize", map[string]any{"processId": nil, "rootUri": "file:///workspace", "capabilities": map[string]any{}})
	c.notify("initialized", map[string]any{})
	main, _ := s.getFile(t, carol.Token, wsC, "main.go")
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": mainURI, "languageId": "go", "version": 1, "text": main,
	}})
	if r := c.call("textDocument/hover", pos(mainURI, 5, 6)); !strings.Contains(asJSON(r["result"]), "Println") {
		t.Errorf("carol's hover = %s", asJSON(r))
	}
	checkView(t, "carol's gopls", uidC, "gopls")

	// carol's dlv: it builds and runs her program (a build that would
	// run dave's -toolexec script were his go env hers).
	d := dialDAP(t, s, carol.Token, wsC)
	if r := d.response(d.send("initialize", map[string]any{"adapterID": "go", "pathFormat": "path", "linesStartAt1": true})); r["success"] != true {
		t.Fatalf("initialize: %v", r)
	}
	launch := d.send("launch", map[string]any{"mode": "debug", "program": "/workspace", "stopOnEntry": true})
	d.event("initialized")
	d.response(d.send("configurationDone", nil))
	if r := d.response(launch); r["success"] != true {
		t.Fatalf("carol's launch: %v", r)
	}
	checkView(t, "carol's dlv", uidC, "dlv")
	d.response(d.send("disconnect", map[string]any{"terminateDebuggee": true}))
	d.closed()

	// Nothing of dave's ran for carol.
	for _, m := range []string{"PWNED-bashrc", "PWNED-profile", "PWNED-toolexec"} {
		if b, err := os.ReadFile(filepath.Join(wsDir(wsC), m)); err == nil {
			t.Errorf("dave's planted file ran in carol's workspace: %s holds uids %q", m, b)
		}
	}

	// dave's uid reads none of carol's files: her workspace and HOME are
	// hers, closed to other uids.
	homeC := filepath.Join(data, "tenants", "course", "users", "carol", "home")
	for _, p := range []string{wsDir(wsC), homeC} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("carol's %s: %v", filepath.Base(p), err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uidC || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("carol's %s: owner %d mode %v; want %d and closed to others", filepath.Base(p), st.Uid, fi.Mode().Perm(), uidC)
		}
	}
	cat := exec.Command("/bin/cat", filepath.Join(wsDir(wsC), "secret.txt"))
	cat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uidD), Gid: uint32(uidD)}}
	if b, err := cat.CombinedOutput(); err == nil || strings.Contains(string(b), secret) {
		t.Errorf("dave's uid read carol's secret.txt: %q, %v", b, err)
	}
}

// checkView fails when a live process named comm of uid sees a file dave
// planted in the HOME of its sandbox (/home/user, read through
// /proc/<pid>/root from the host).
func checkView(t *testing.T, what string, uid int, comm string) {
	t.Helper()
	procs := findProcs(uid, comm)
	if len(procs) == 0 {
		t.Errorf("%s: no %s process of uid %d", what, comm, uid)
		return
	}
	for _, p := range procs {
		for _, f := range daveFiles {
			path := fmt.Sprintf("/proc/%d/root/home/user/%s", p.Pid, f)
			if b, err := os.ReadFile(path); err == nil && (strings.Contains(string(b), "PWNED") || strings.Contains(string(b), "toolexec") || strings.Contains(string(b), "dave")) {
				t.Errorf("%s (pid %d) sees dave's ~/%s: %q", what, p.Pid, f, b)
			}
		}
	}
}
