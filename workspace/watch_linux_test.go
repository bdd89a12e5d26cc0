package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/workspace"
)

func ev(typ, path string) workspace.Event { return workspace.Event{Type: typ, Path: path} }

// watcher is a test subscriber.
type watcher struct {
	t   *testing.T
	sub *workspace.Subscription
	// touched are paths reported created or changed: a further "changed"
	// of one of them is tolerated, since a burst the kernel delivers across
	// two coalescing windows is reported twice.
	touched map[string]bool
}

func newWatchers(t *testing.T, opts workspace.WatcherOptions) *workspace.Watchers {
	t.Helper()
	w := workspace.NewWatchers(opts)
	t.Cleanup(func() { w.Close() })
	return w
}

func subscribe(t *testing.T, w *workspace.Watchers, key, dir string) *watcher {
	t.Helper()
	sub, err := w.Subscribe(testContext(t), key, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return &watcher{t: t, sub: sub, touched: map[string]bool{}}
}

// expect waits until every event of want has been seen, in any order,
// and fails on any other event.
func (w *watcher) expect(want ...workspace.Event) {
	w.t.Helper()
	pending := slices.Clone(want)
	timeout := time.After(waitLong)
	for len(pending) > 0 {
		select {
		case e, ok := <-w.sub.Events():
			if !ok {
				w.t.Fatalf("events closed; still waiting for %v", pending)
			}
			if i := slices.Index(pending, e); i >= 0 {
				pending = slices.Delete(pending, i, i+1)
			} else if e.Type != workspace.EventChanged || !w.touched[e.Path] {
				w.t.Fatalf("unexpected event %v; waiting for %v", e, pending)
			}
			if e.Type != workspace.EventDeleted {
				w.touched[e.Path] = true
			}
		case <-timeout:
			w.t.Fatalf("timed out waiting for %v", pending)
		}
	}
}

// next returns the next event, failing on timeout or end.
func (w *watcher) next() workspace.Event {
	w.t.Helper()
	select {
	case e, ok := <-w.sub.Events():
		if !ok {
			w.t.Fatal("events closed")
		}
		return e
	case <-time.After(waitLong):
		w.t.Fatal("timed out waiting for an event")
	}
	panic("unreachable")
}

// expectClosed waits for the subscription's channel to be closed, reading
// whatever is still queued.
func expectClosed(t *testing.T, sub *workspace.Subscription) {
	t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case _, ok := <-sub.Events():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("events not closed")
		}
	}
}

func TestWatchFilesAndShell(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "existing.txt", "old")
	w := newWatchers(t, workspace.WatcherOptions{Coalesce: 20 * time.Millisecond})
	sub := subscribe(t, w, "ws1", dir)

	// Through Files: atomic writes show as the final name only.
	mustWrite(t, f, "a.txt", "1")
	sub.expect(ev("created", "a.txt"))
	mustWrite(t, f, "a.txt", "2")
	sub.expect(ev("changed", "a.txt"))
	mustWrite(t, f, "existing.txt", "new")
	sub.expect(ev("changed", "existing.txt"))
	if err := f.Rename("a.txt", "b.txt"); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("deleted", "a.txt"), ev("created", "b.txt"))
	if err := f.Remove("b.txt", false); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("deleted", "b.txt"))

	// Through plain os calls, as a tenant's shell.
	p := filepath.Join(dir, "sh.txt")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("created", "sh.txt"))
	fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString("more")
	fh.Close()
	sub.expect(ev("changed", "sh.txt"))
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("changed", "sh.txt"))
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("deleted", "sh.txt"))
	// An editor's own atomic save over an existing file is a change.
	writeHost(t, dir, "tmp-save", "y")
	sub.expect(ev("created", "tmp-save"))
	if err := os.Rename(filepath.Join(dir, "tmp-save"), filepath.Join(dir, "existing.txt")); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("deleted", "tmp-save"), ev("changed", "existing.txt"))
}

func TestWatchNewDirectories(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	w := newWatchers(t, workspace.WatcherOptions{Coalesce: 20 * time.Millisecond})
	sub := subscribe(t, w, "ws", dir)

	// mkdir -p a/b/c && echo x > a/b/c/f, in one go.
	if err := os.MkdirAll(filepath.Join(dir, "a/b/c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a/b/c/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("created", "a"), ev("created", "a/b"), ev("created", "a/b/c"), ev("created", "a/b/c/f"))
	// The new deepest directory is watched.
	writeHost(t, dir, "a/b/c/g", "y")
	sub.expect(ev("created", "a/b/c/g"))

	// Files creating parents.
	mustWrite(t, f, "x/y/z.txt", "z")
	sub.expect(ev("created", "x"), ev("created", "x/y"), ev("created", "x/y/z.txt"))

	// A directory moved in the tree is reported with its content under the
	// new name, and watched there.
	if err := f.Rename("x", "moved"); err != nil {
		t.Fatal(err)
	}
	sub.expect(ev("deleted", "x"), ev("created", "moved"), ev("created", "moved/y"), ev("created", "moved/y/z.txt"))
	mustWrite(t, f, "moved/y/z.txt", "zz")
	sub.expect(ev("changed", "moved/y/z.txt"))

	// Removing a tree reports at least the directory itself.
	if err := os.RemoveAll(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	for {
		e := sub.next()
		if e.Type != workspace.EventDeleted || !strings.HasPrefix(e.Path+"/", "a/") {
			t.Fatalf("unexpected event %v", e)
		}
		if e.Path == "a" {
			break
		}
	}
}

func TestWatchCoalesce(t *testing.T) {
	t.Parallel()
	_, dir := openFiles(t, workspace.FilesOptions{})
	writeHost(t, dir, "f", "0")
	writeHost(t, dir, "gone", "0")
	w := newWatchers(t, workspace.WatcherOptions{Coalesce: 300 * time.Millisecond})
	sub := subscribe(t, w, "ws", dir)

	// A sentinel made after the burst comes after the burst's events:
	// whatever arrives before it is everything the burst produced.
	var sentinels int
	collect := func() []workspace.Event {
		t.Helper()
		sentinels++
		name := fmt.Sprintf("sentinel%d", sentinels)
		// A symlink is made in one step: one kernel event, one Event.
		symlink(t, "target", filepath.Join(dir, name))
		var got []workspace.Event
		for {
			e := sub.next()
			if e.Path == name {
				return got
			}
			got = append(got, e)
		}
	}
	tests := []struct {
		name  string
		burst func()
		want  []workspace.Event
	}{
		{"ten writes", func() {
			for i := range 10 {
				writeHost(t, dir, "f", fmt.Sprint(i))
			}
		}, []workspace.Event{ev("changed", "f")}},
		{"create and write", func() {
			writeHost(t, dir, "new", "1")
			writeHost(t, dir, "new", "2")
		}, []workspace.Event{ev("created", "new")}},
		{"create and delete", func() {
			writeHost(t, dir, "brief", "1")
			os.Remove(filepath.Join(dir, "brief"))
		}, nil},
		{"delete and create", func() {
			os.Remove(filepath.Join(dir, "gone"))
			writeHost(t, dir, "gone", "again")
		}, []workspace.Event{ev("changed", "gone")}},
	}
	for _, tc := range tests { // in order, on one subscription
		tc.burst()
		if got := collect(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWatchIgnoresOutside(t *testing.T) {
	t.Parallel()
	fx := newEscapeFixture(t)
	symlink(t, fx.outside, filepath.Join(fx.ws, "out"))
	w := newWatchers(t, workspace.WatcherOptions{Coalesce: 10 * time.Millisecond})
	sub := subscribe(t, w, "ws", fx.ws)
	// A symlink made later is reported itself, and never followed.
	symlink(t, "../outside", filepath.Join(fx.ws, "out2"))
	sub.expect(ev("created", "out2"))
	writeHost(t, fx.outside, "leak", "x")
	if err := os.Mkdir(filepath.Join(fx.outside, "leakdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeHost(t, fx.ws, "sentinel", "x")
	sub.expect(ev("created", "sentinel"))
}

// TestWatchSlowSubscriber: a subscriber that does not read gets one
// overflow and loses events, while another keeps receiving everything;
// once drained, it receives again.
func TestWatchSlowSubscriber(t *testing.T) {
	t.Parallel()
	_, dir := openFiles(t, workspace.FilesOptions{})
	const buffer = 8
	w := newWatchers(t, workspace.WatcherOptions{Coalesce: 5 * time.Millisecond, Buffer: buffer})
	fast := subscribe(t, w, "ws", dir)
	slow := subscribe(t, w, "ws", dir)
	for i := range 3 * buffer {
		name := fmt.Sprintf("f%02d", i)
		// A symlink is made in one step: one kernel event, one Event.
		symlink(t, "target", filepath.Join(dir, name))
		fast.expect(ev("created", name))
	}
	// One more change: once fast has it, the deliveries of f09..f23 to
	// slow are over (they happen in the same call as to fast, in either
	// order), so those are lost for sure. Whether sync itself reaches
	// slow depends on whether slow is drained first: it alone may.
	symlink(t, "target", filepath.Join(dir, "sync"))
	fast.expect(ev("created", "sync"))
	for i := range buffer {
		if e := slow.next(); e != ev("created", fmt.Sprintf("f%02d", i)) {
			t.Fatalf("slow event %d = %v", i, e)
		}
	}
	if e := slow.next(); e.Type != workspace.EventOverflow || e.Path != "" {
		t.Fatalf("slow got %v, want overflow", e)
	}
	writeHost(t, dir, "after", "x")
	fast.expect(ev("created", "after"))
	for {
		e := slow.next()
		if e == ev("created", "after") {
			break
		}
		if e != ev("created", "sync") {
			t.Fatalf("slow got %v after the overflow", e)
		}
	}
}

func TestWatchStop(t *testing.T) {
	t.Parallel()
	_, dir := openFiles(t, workspace.FilesOptions{})
	w := newWatchers(t, workspace.WatcherOptions{Coalesce: 5 * time.Millisecond})
	a := subscribe(t, w, "ws", dir)
	b := subscribe(t, w, "ws", dir)
	_, otherDir := openFiles(t, workspace.FilesOptions{})
	other := subscribe(t, w, "other", otherDir)

	if _, err := w.Subscribe(testContext(t), "ws", otherDir); err == nil {
		t.Error("Subscribe with another dir for the same key succeeded")
	}
	w.Stop("ws")
	expectClosed(t, a.sub)
	expectClosed(t, b.sub)
	a.sub.Close() // harmless after Stop

	// Other keys go on; the key can be watched again.
	writeHost(t, otherDir, "x", "x")
	other.expect(ev("created", "x"))
	c := subscribe(t, w, "ws", dir)
	writeHost(t, dir, "y", "y")
	c.expect(ev("created", "y"))
}

func TestWatchContextAndClose(t *testing.T) {
	t.Parallel()
	_, dir := openFiles(t, workspace.FilesOptions{})
	w := workspace.NewWatchers(workspace.WatcherOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	sub, err := w.Subscribe(ctx, "ws", dir)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	expectClosed(t, sub)

	if _, err := w.Subscribe(testContext(t), "missing", filepath.Join(dir, "nope")); err == nil {
		t.Error("Subscribe to a missing dir succeeded")
	}
	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	if _, err := w.Subscribe(done, "ws", dir); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe with a done ctx = %v", err)
	}

	sub2, err := w.Subscribe(testContext(t), "ws", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, sub2)
	if _, err := w.Subscribe(testContext(t), "ws", dir); !errors.Is(err, workspace.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// TestWatchNoLeak is not parallel: goleak sees every goroutine.
func TestWatchNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	base := t.TempDir()
	w := workspace.NewWatchers(workspace.WatcherOptions{Coalesce: 5 * time.Millisecond})
	var subs []*workspace.Subscription
	ctx, cancel := context.WithCancel(context.Background())
	for i := range 4 {
		dir := filepath.Join(base, fmt.Sprint(i))
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			sub, err := w.Subscribe(ctx, fmt.Sprint(i), dir)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub)
		}
		writeHost(t, dir, "sub/f", "x")
	}
	// Some leave by Close, some by ctx, the rest by Close of the Watchers.
	subs[0].Close()
	subs[1].Close() // key 0 has no subscriber left: its watch stops
	w.Stop("1")
	cancel()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		expectClosed(t, sub)
	}
}
