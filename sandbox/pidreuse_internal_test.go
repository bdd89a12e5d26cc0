package sandbox

import (
	"log/slog"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// SBX-15: a sandbox's pid 1 that has ended leaves its pid to any later
// process of the host. A signal to the sandbox must then not reach the
// children of that stranger (here: a shell of the test's own, whose child leads a
// process group, standing for a process that got the old pid): before
// the start time was checked, it killed the stranger's child's group.
func TestSignalSkipsReusedInnerPid(t *testing.T) {
	start := func(args ...string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
		return cmd
	}
	// The stranger: a shell whose child runs in a process group of its own.
	stranger := start("sh", "-c", "setsid sleep 654.321 & wait")
	var child procStat
	deadline := time.Now().Add(10 * time.Second)
	for child.pid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stranger's child never started")
		}
		stats, err := readStats()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stats {
			if s.ppid == stranger.Process.Pid && !s.gone() {
				child = s
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := readStat(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// The sandbox's own bubblewrap stands in as a sleep of the test's.
	own := start("sleep", "20")
	g := &bwrapGroup{
		pg:      newProcGroup(own.Process.Pid, false, "", slog.New(slog.DiscardHandler)),
		inner:   stranger.Process.Pid,
		innerAt: st.start - 1, // the sandbox's pid 1 started before the stranger got its pid
	}
	g.group = g.pg
	if err := g.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := own.Wait(); err == nil {
		t.Error("the sandbox's own process group was not signalled")
	}
	time.Sleep(100 * time.Millisecond)
	if s, err := readStat(child.pid); err != nil || s.gone() || s.start != child.start {
		t.Errorf("a stranger's child that has the sandbox's old pid 1 as parent was signalled: %v", err)
	}
}
