package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSIGTERMStopsTenantProcesses is AV-05 for processes: SIGTERM with a
// terminal whose shell started a setsid'd and a nohup'd sleep exits 0,
// and by then neither sleep runs any more: the server stops what it
// started, including what escaped the shell's session, before it exits.
// (TestSIGTERMClosesWebSockets covers close code 1001 and
// TestRestartKeepsEverything that committed writes survive.)
func TestSIGTERMStopsTenantProcesses(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "w"}).ID
	base := "/api/v1/workspaces/" + ws + "/terminals"
	var term terminalJSON
	s.call(t, request{Method: "POST", Path: base, Token: s.Token, Body: map[string]any{}}, http.StatusCreated, &term)
	conn, _, err := s.dialWS(base+"/"+term.ID+"/attach", bearer(s.Token))
	if err != nil {
		t.Fatal(err)
	}
	r := readTerminal(t, conn)
	// Unique arguments, so that parallel tests' sleeps are not counted.
	a, b := 400000+os.Getpid()%100000, 500000+os.Getpid()%100000
	cmd := fmt.Sprintf("setsid sleep %d </dev/null >/dev/null 2>&1 & nohup sleep %d </dev/null >/dev/null 2>&1 & echo STARTED-$((1+1))\n", a, b)
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "STARTED-2", 30*time.Second)
	var pids []int
	for _, arg := range []int{a, b} {
		pid := waitSleep(t, arg, 10*time.Second)
		if pid == 0 {
			t.Fatalf("sleep %d never showed up", arg)
		}
		pids = append(pids, pid)
	}

	if code := s.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	for i, pid := range pids {
		if arg := []int{a, b}[i]; sleeping(pid, arg) {
			t.Errorf("sleep %d (pid %d) still runs after the server exited", arg, pid)
		}
	}
}

// waitSleep returns the pid of a running "sleep <arg>", waiting up to
// timeout for it to appear; 0 when it does not.
func waitSleep(t *testing.T, arg int, timeout time.Duration) int {
	t.Helper()
	want := []byte("sleep\x00" + strconv.Itoa(arg) + "\x00")
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, m := range matches {
			if data, err := os.ReadFile(m); err == nil && bytes.Equal(data, want) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(m)))
				return pid
			}
		}
	}
	return 0
}

// sleeping reports whether pid still runs "sleep <arg>" (a zombie's
// cmdline is empty, and a reused pid runs something else).
func sleeping(pid, arg int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Equal(data, []byte("sleep\x00"+strconv.Itoa(arg)+"\x00"))
}
