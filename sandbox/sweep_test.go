package sandbox_test

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

// startMarked starts a sleep that carries marker like a process left by an
// earlier, crashed run, with an unmarked sleep in its process group.
func startMarked(t *testing.T, marker string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "env -i /bin/sleep 1000 & exec sleep 1000")
	cmd.Env = baseEnv(marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	return cmd
}

func TestSweep(t *testing.T) {
	t.Parallel()
	instA, instB := instancePrefix+"sweepA", instancePrefix+"sweepB"
	tests := []struct {
		name   string
		marker string
		killed bool
	}{
		{"same instance", sandbox.MarkerVar + "=" + instA + "/x-1", true},
		{"other instance", sandbox.MarkerVar + "=" + instB + "/x-1", false},
		{"instance prefix of another", sandbox.MarkerVar + "=" + instA + "/sub/x-1", false},
		{"longer instance", sandbox.MarkerVar + "=" + instA + "x/x-1", false},
		{"no marker", "OTHER=" + instA + "/x-1", false},
	}
	cmds := make([]*exec.Cmd, len(tests))
	for i, tt := range tests {
		cmds[i] = startMarked(t, tt.marker)
	}

	r := newRunner(t, "sweepA")
	// A process of this runner itself is not a leftover.
	own, err := r.Start(t.Context(), sandbox.Cmd{Kind: "run", Owner: "t1", Path: "sleep", Args: []string{"1000"}, Env: baseEnv(), Dir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until both processes of every group run sleep (the group child
	// has dropped the marker).
	eventually(t, "marked processes to start", func() bool {
		for _, c := range cmds {
			pids := groupMembers(c.Process.Pid)
			if len(pids) != 2 {
				return false
			}
			for _, pid := range pids {
				if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); !strings.HasPrefix(strings.TrimPrefix(string(b), "/bin/"), "sleep\x00") {
					return false
				}
			}
		}
		return true
	})

	n, err := r.Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Sweep = %d, want 1", n)
	}
	for i, tt := range tests {
		if got := alive(cmds[i].Process.Pid); got == tt.killed {
			t.Errorf("%s: alive = %v, want %v", tt.name, got, !tt.killed)
		}
		if tt.killed && !t.Failed() {
			// The group (with its unmarked background sleep) goes too.
			eventually(t, "group to vanish", func() bool { return groupGone(cmds[i].Process.Pid) })
		}
	}
	if !alive(own.Pid()) {
		t.Error("Sweep killed the runner's own process")
	}
	if n, err := r.Sweep(); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0, nil", n, err)
	}
}

// groupMembers returns the running processes in process group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

func groupGone(pgid int) bool { return len(groupMembers(pgid)) == 0 }

// TestPdeathsig is TTY-08's first half: a server killed with SIGKILL takes
// its direct children along.
func TestPdeathsig(t *testing.T) {
	t.Parallel()
	helper := exec.Command(os.Args[0], "sandbox-test-helper", instancePrefix+"pdeathsig")
	helper.Env = []string{}
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := helper.StdinPipe() // held open: the helper waits on it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = helper.Process.Kill()
		_ = helper.Wait()
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		t.Fatalf("helper printed %q; want the pid of a running sleep", line)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	eventually(t, "sandboxed child of the killed server to die", func() bool { return !alive(pid) })
}
