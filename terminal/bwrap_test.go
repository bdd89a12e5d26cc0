package terminal_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/terminal"
)

// TestBwrapEchoAndOwns runs a shell inside bubblewrap as the tenant's uid
// with the server's layout (workspace at /workspace, HOME at /home/user):
// it echoes, starts in /workspace, and Owns and UID recognise what runs in
// it (the shell is a descendant of bubblewrap, whose pid Pid reports).
func TestBwrapEchoAndOwns(t *testing.T) {
	if why := isotest.Unavailable(); why != "" {
		t.Skip(why)
	}
	instance := nextInstance()
	r, err := sandbox.New(sandbox.Options{
		Instance: instance, KillGrace: 300 * time.Millisecond,
		Isolation: sandbox.IsolationBwrap,
		OwnerUID:  func(string) (int, error) { return isotest.UID, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() }) // after the manager's Close (cleanups run last first)
	// The workspace's own binds (workspace at /workspace, HOME at
	// /home/user) come from its handle.
	e := newEnvOn(t, r)
	root := e.ws.Data
	s := e.create(t, terminal.CreateOptions{Cols: 80, Rows: 24})
	c := e.attach(t, s, false)
	c.send("echo $((40+2))-ok; echo \"uid=$(id -u) home=$HOME\"; pwd\n")
	c.expect(t, "42-ok")
	c.expect(t, "uid="+strconv.Itoa(isotest.UID)+" home=/home/user")
	c.expect(t, "/workspace")
	if strings.Contains(c.output(), root) {
		t.Errorf("the shell saw a host path: %q", tail(c.output()))
	}

	if got := s.UID(); got != isotest.UID {
		t.Errorf("UID() = %d, want %d", got, isotest.UID)
	}
	if !s.Owns(s.Pid()) || s.Owns(os.Getpid()) || s.Owns(1) {
		t.Errorf("Owns: own pid %v, test's pid %v, init %v", s.Owns(s.Pid()), s.Owns(os.Getpid()), s.Owns(1))
	}
	shell := descendantNamed(t, s.Pid(), "bash")
	if shell == 0 {
		shell = descendantNamed(t, s.Pid(), "sh")
	}
	if shell == 0 || !s.Owns(shell) {
		t.Errorf("Owns(shell %d) = false; the shell runs below bubblewrap", shell)
	}
}

// descendantNamed returns a live descendant of pid whose comm is name, or 0.
func descendantNamed(t *testing.T, pid int, name string) int {
	t.Helper()
	parent := map[int]int{}
	comm := map[int]string{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		j := strings.IndexByte(string(b), '(')
		f := strings.Fields(string(b[i+1:]))
		if i < 0 || j < 0 || len(f) < 2 {
			continue
		}
		parent[p], _ = strconv.Atoi(f[1])
		comm[p] = string(b[j+1 : i])
	}
	for p, c := range comm {
		if c != name {
			continue
		}
		for q, n := parent[p], 0; q > 1 && n < 64; q, n = parent[q], n+1 {
			if q == pid {
				return p
			}
		}
	}
	return 0
}
