package workspace_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/workspace"
)

// kernelWatches counts the inotify watches this process holds, as the
// kernel reports them (one "inotify wd:" line per watch in the fdinfo of
// each inotify descriptor).
func kernelWatches(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); target != "anon_inode:inotify" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue // closed meanwhile
		}
		n += strings.Count(string(info), "inotify wd:")
	}
	return n
}

// tree makes a workspace directory with subdirectories d00..d(n-1).
func tree(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ws")
	for i := range n {
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%02d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitFor polls cond until it holds or waitLong passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchBudget (SBX-10): tenant a's workspaces hold at most its share
// of inotify watches, whatever their size; the directories beyond it are
// polled, with one "polling" event to a's subscribers, and still report
// their changes. Tenant b, subscribing after a is at its budget, gets
// every watch it needs and no such event. When a's watch ends its budget
// returns and a's other workspace is watched again. Not parallel: it
// counts the process's kernel watches.
func TestWatchBudget(t *testing.T) {
	dirA1, dirA2, dirB := tree(t, 12), tree(t, 12), tree(t, 3) // 13, 13 and 4 directories
	before := kernelWatches(t)
	w := newWatchers(t, workspace.WatcherOptions{
		Coalesce: 20 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		MaxWatches: 12, MaxTenantWatches: 6,
		Owner: func(key string) string { return strings.SplitN(key, "-", 2)[0] },
	})
	a1 := subscribe(t, w, "a-1", dirA1)
	a2 := subscribe(t, w, "a-2", dirA2)
	for _, s := range []*watcher{a1, a2} {
		if e := s.next(); e.Type != workspace.EventPolling || e.Path != "" {
			t.Fatalf("first event of a workspace over the budget: %v, want polling", e)
		}
	}
	if got := kernelWatches(t) - before; got != 6 {
		t.Errorf("tenant a holds %d kernel watches, want its budget of 6", got)
	}
	if st := w.Stats(); st.Watches != 6 || st.Polled != 20 {
		t.Errorf("stats %+v, want 6 watches and 20 polled directories", st)
	}

	b := subscribe(t, w, "b-1", dirB)
	if got := kernelWatches(t) - before; got != 10 {
		t.Errorf("%d kernel watches with tenant b, want 6 + 4", got)
	}
	// b is fully watched: a change deep down arrives, and no "polling".
	writeHost(t, dirB, "d02/new.txt", "x")
	b.expect(ev("created", "d02/new.txt"))

	// a's polled directories report creation, change, deletion and new
	// directories with their content.
	writeHost(t, dirA2, "d05/new.txt", "x")
	a2.expect(ev("created", "d05/new.txt"))
	writeHost(t, dirA2, "d05/new.txt", "xy")
	a2.expect(ev("changed", "d05/new.txt"))
	writeHost(t, dirA2, "top.txt", "x")
	a2.expect(ev("created", "top.txt"))
	if err := os.Remove(filepath.Join(dirA2, "d05/new.txt")); err != nil {
		t.Fatal(err)
	}
	a2.expect(ev("deleted", "d05/new.txt"))
	writeHost(t, dirA2, "d07/sub/f.txt", "x")
	a2.expect(ev("created", "d07/sub"), ev("created", "d07/sub/f.txt"))
	writeHost(t, dirA2, "d07/sub/g.txt", "x")
	a2.expect(ev("created", "d07/sub/g.txt"))

	// A later subscriber of a polled workspace is told too.
	late := subscribe(t, w, "a-2", dirA2)
	if e := late.next(); e.Type != workspace.EventPolling {
		t.Fatalf("first event of a late subscriber: %v, want polling", e)
	}

	// a's first workspace ends: its watches return to a's budget, and the
	// second one's polled directories are watched again, up to it.
	a1.sub.Close()
	waitFor(t, "a's second workspace to be watched again", func() bool {
		st := w.Stats()
		return st.Watches == 10 && st.Polled == 14-6
	})
	if got := kernelWatches(t) - before; got != 10 {
		t.Errorf("%d kernel watches after promotion, want 6 + 4", got)
	}
	writeHost(t, dirA2, "d00/after.txt", "x")
	a2.expect(ev("created", "d00/after.txt"))
	b.expect() // nothing else arrived for b meanwhile
	select {
	case e := <-b.sub.Events():
		t.Errorf("tenant b got %v", e)
	default:
	}
}
