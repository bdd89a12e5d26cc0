package store_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

// TestHotBackupWhileWriting is DB-08: backups taken while writers commit
// are consistent snapshots. One writer creates workspaces w0, w1, ... in
// order, each with its index entry, in separate transactions; others
// write concurrently. Every backup must open (Open runs bbolt's check),
// pass Check, list through the index only workspaces that exist (the
// index and the records agree), and hold a prefix w0..wk of the ordered
// writer's workspaces with no gap: a copy of the file taken without a
// transaction could hold a later write without an earlier one, or a torn
// page. ideserver has no backup command yet; DB.Backup is what one would
// call, and the migration backup uses the same read transaction.
func TestHotBackupWhileWriting(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	mustUser(t, db, "acme", "alice")
	mustUser(t, db, "globex", "bob")

	// Room to write without growing the file: bbolt must remap to grow,
	// which waits for open read transactions such as a backup's.
	for i := range 300 {
		if err := db.CreateWorkspace(ws(fmt.Sprintf("fill%d", i), "globex", "bob", t0)); err != nil {
			t.Fatal(err)
		}
		if err := db.PutWorkspaceState(fmt.Sprintf("fill%d", i), bytes.Repeat([]byte("x"), 16<<10)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if err := db.DeleteWorkspace(fmt.Sprintf("fill%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	const ordered, minBackups = 200, 4
	var commits atomic.Int64 // the ordered writer's
	orderedDone := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	wg.Go(func() {
		defer close(orderedDone)
		for i := range ordered {
			if err := db.CreateWorkspace(ws(fmt.Sprintf("w%03d", i), "acme", "alice", t0)); err != nil {
				errs <- err
				return
			}
			commits.Add(1)
		}
	})
	wg.Go(func() { // unrelated churn: records created and deleted
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("churn%d", i)
			if err := db.CreateWorkspace(ws(id, "globex", "bob", t0)); err != nil {
				errs <- err
				return
			}
			if err := db.DeleteWorkspace(id); err != nil {
				errs <- err
				return
			}
		}
	})

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	last, taken := -1, 0
	check := func(i int) { // take backup i and check it
		var buf bytes.Buffer
		// The backup stalls after its first write until the writers have
		// committed 20 more times (or finished): pages it has yet to copy
		// are freed and reused meanwhile, unless its transaction keeps
		// them. The wait is bounded, so a writer blocked by the backup
		// cannot hang the test.
		w := &stallingWriter{w: &buf, stall: func() {
			start := commits.Load()
			for deadline := time.Now().Add(10 * time.Second); commits.Load() < start+20 && time.Now().Before(deadline); {
				select {
				case <-orderedDone:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}}
		n, err := db.Backup(w)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("Backup = %d, %v (%d bytes written)", n, err, buf.Len())
		}
		path := filepath.Join(t.TempDir(), "backup.db")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := store.Open(store.Options{Path: path})
		if err != nil {
			t.Fatalf("backup %d does not open: %v", i, err)
		}
		defer b.Close()
		if err := b.Check(); err != nil {
			t.Errorf("backup %d: Check: %v", i, err)
		}
		list, err := b.ListWorkspaces("acme", "alice")
		if err != nil {
			t.Errorf("backup %d: the index and the records disagree: %v", i, err)
			return
		}
		for j, w := range list {
			if want := fmt.Sprintf("w%03d", j); w.ID != want {
				t.Errorf("backup %d: workspace %d is %s, want %s: not a prefix of the committed order", i, j, w.ID, want)
				break
			}
		}
		if _, err := b.ListWorkspaces("globex", "bob"); err != nil {
			t.Errorf("backup %d: bob's index and records disagree: %v", i, err)
		}
		if len(list)-1 < last { // later backups never go back in time
			t.Errorf("backup %d holds %d ordered workspaces, an earlier one %d", i, len(list), last+1)
		}
		last = len(list) - 1
	}
	// Back up while the ordered writer runs (at least minBackups times),
	// then stop the churn.
	for running := true; running || taken < minBackups; taken++ {
		select {
		case <-orderedDone:
			running = false
		default:
		}
		check(taken)
	}
	close(stop)
	<-done
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	t.Logf("%d backups taken while writing", taken)
	// The live database holds everything.
	if list, err := db.ListWorkspaces("acme", "alice"); err != nil || len(list) != ordered {
		t.Errorf("live: %d workspaces, %v; want %d", len(list), err, ordered)
	}
}

// stallingWriter calls stall once, after its first Write.
type stallingWriter struct {
	w       io.Writer
	stall   func()
	stalled bool
}

func (s *stallingWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if !s.stalled {
		s.stalled = true
		s.stall()
	}
	return n, err
}
