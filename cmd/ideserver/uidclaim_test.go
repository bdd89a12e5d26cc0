package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClaimUIDs (SBX-09): a claim overlapping a live server's range is
// refused with an error naming that range; disjoint ranges are both
// granted; a second claim for one data directory is refused; a released
// claim frees its range.
func TestClaimUIDs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := claimUIDs(dir, 200000, 100, "/srv/a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = claimUIDs(dir, 200050, 100, "/srv/b")
	if err == nil {
		t.Fatal("an overlapping range was granted")
	}
	for _, want := range []string{"200050-200149", "overlaps the range 200000-200099", "pid " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := claimUIDs(dir, 199950, 51, "/srv/b"); err == nil {
		t.Error("a range ending in the other one was granted")
	}
	c, err := claimUIDs(dir, 200100, 100, "/srv/c")
	if err != nil {
		t.Fatalf("disjoint range: %v", err)
	}
	defer c.Close()
	if _, err := claimUIDs(dir, 300000, 10, "/srv/a"); err == nil || !strings.Contains(err.Error(), "this data directory") {
		t.Errorf("second claim for one data directory: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := claimUIDs(dir, 200050, 50, "/srv/b")
	if err != nil {
		t.Fatalf("after the other server ended: %v", err)
	}
	b.Close()
}

// TestClaimUIDsDeadServer (SBX-09): the claim of a server that died
// (its lock released by the kernel, its file left behind) is taken over,
// while a live one in another process is respected.
func TestClaimUIDsDeadServer(t *testing.T) {
	t.Parallel()
	flockBin, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("flock(1) not installed")
	}
	dir := t.TempDir()
	uids := filepath.Join(dir, "uids")
	if err := os.MkdirAll(uids, 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(uids, "0123456789abcdef.lock")
	if err := os.WriteFile(other, []byte("200000,100,4242,0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Another process holds it: refused.
	// flock(1) and the sleep it forks, which inherits the lock, in a
	// process group of their own: killing the group ends the claimant.
	held := exec.Command(flockBin, "--exclusive", other, "sleep", "60")
	held.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { _ = syscall.Kill(-held.Process.Pid, syscall.SIGKILL) }
	defer kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, held, _ := readClaim(other); held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("flock(1) did not take the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := claimUIDs(dir, 200010, 10, "/srv/b"); err == nil || !strings.Contains(err.Error(), "pid 4242") {
		t.Fatalf("a range overlapping a live claim: %v", err)
	}
	// It dies: its lock goes with it, and the range is free.
	kill()
	_ = held.Wait()
	waitFor := time.Now().Add(30 * time.Second)
	for { // the forked sleep may outlive flock(1) for a moment
		if _, held, _ := readClaim(other); !held {
			break
		}
		if time.Now().After(waitFor) {
			t.Fatal("the lock outlived its process group")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := claimUIDs(dir, 200010, 10, "/srv/b")
	if err != nil {
		t.Fatalf("the dead server's claim was not taken over: %v", err)
	}
	defer c.Close()
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("the dead server's claim file is still there: %v", err)
	}
}

// TestServeRefusesOverlappingUIDs (SBX-09): a second server on the host
// whose tenant uid range overlaps a running one's refuses to start, and
// says which range is taken; one with a disjoint range starts.
func TestServeRefusesOverlappingUIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("tenant uids need root")
	}
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	lock := t.TempDir()
	env := func(first int) []string {
		// No playground: nothing of it is needed here, and what it builds
		// in the background may outlive serve.
		return append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "bwrap", "IDESERVER_ISOLATION_UID_LOCK_DIR", lock,
			"IDESERVER_ISOLATION_UID_FIRST", strconv.Itoa(first), "IDESERVER_ISOLATION_UID_COUNT", "100",
			"IDESERVER_PLAYGROUND_ENABLED", "false")
	}
	base := 1_600_000_000 + (os.Getpid()%100_000)*1000
	if _, err := startServe(t, searchableDataDir(t), nil, env(base)...); err != nil {
		t.Fatalf("first server: %v", err)
	}
	_, err := startServe(t, searchableDataDir(t), nil, env(base+50)...)
	if err == nil || !strings.Contains(err.Error(), "overlaps the range "+strconv.Itoa(base)+"-"+strconv.Itoa(base+99)) {
		t.Fatalf("second server with an overlapping range: %v, want a refusal naming the first's range", err)
	}
	if _, err := startServe(t, searchableDataDir(t), nil, env(base+100)...); err != nil {
		t.Fatalf("server with a disjoint range: %v", err)
	}
}
