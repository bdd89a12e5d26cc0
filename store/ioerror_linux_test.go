package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/store"
)

// TestIOErrorDuringCommit is DB-02 with real I/O errors instead of bbolt's
// gofail failpoints (which need a specially built bbolt): the database's
// own descriptor is swapped, underneath bbolt, for a read-only descriptor
// of the same file. Page writes then fail (EBADF, where the
// beforeSyncDataPages and beforeSyncMetaPage failpoints would fire), and
// so does growing the file (ftruncate, the resizeFileError failpoint);
// fsync and reads still work. Each failed write must return an error to
// the caller, change nothing, and leave the database usable: once the
// descriptor is restored, earlier data is intact, Check passes, writes
// succeed and the file reopens. Not covered: a failure of mmap itself
// (mapError), which this cannot inject, and a write that fails between
// the data pages and the meta page (both fail here).
func TestIOErrorDuringCommit(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ideserver.db")
	db, err := store.Open(store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			db.Close()
		}
	})
	mustUser(t, db, "acme", "alice")
	if err := db.CreateWorkspace(ws("w1", "acme", "alice", t0)); err != nil {
		t.Fatal(err)
	}

	fd := dbDescriptor(t, path)
	saved, err := unix.Dup(fd) // keeps the original open file (and its lock)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(ro, fd, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		if err := unix.Dup3(saved, fd, unix.O_CLOEXEC); err != nil {
			t.Fatalf("restore the descriptor: %v", err)
		}
		unix.Close(saved)
		unix.Close(ro)
	}
	t.Cleanup(restore)

	// Small commits: page writes fail.
	if _, err := db.EnsureUser("acme", "bob"); err == nil {
		t.Error("EnsureUser succeeded although no page could be written")
	}
	if err := db.CreateWorkspace(ws("w2", "acme", "alice", t0)); err == nil {
		t.Error("CreateWorkspace succeeded although no page could be written")
	}
	// A large commit: the file must grow, and cannot.
	big := bytes.Repeat([]byte("x"), 8<<20)
	if err := db.PutWorkspaceState("w1", big); err == nil {
		t.Error("PutWorkspaceState(8 MiB) succeeded although the file could not grow")
	}
	// Reads keep working and see only what was committed.
	if _, err := db.GetWorkspace("w1"); err != nil {
		t.Errorf("read during the failure: %v", err)
	}
	if _, err := db.GetUser("acme", "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed EnsureUser is visible: %v", err)
	}

	restore()
	if err := db.Check(); err != nil {
		t.Errorf("Check after the failures: %v", err)
	}
	if _, err := db.GetWorkspace("w2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed CreateWorkspace is visible: %v", err)
	}
	if st, err := db.GetWorkspaceState("w1"); err != nil || len(st) != 0 {
		t.Errorf("the failed PutWorkspaceState left %d bytes, %v", len(st), err)
	}
	// Writing works again, small and large.
	mustUser(t, db, "acme", "bob")
	for i := range 3 {
		if err := db.CreateWorkspace(ws(fmt.Sprint("after", i), "acme", "bob", t0)); err != nil {
			t.Fatalf("write after the failure: %v", err)
		}
	}
	if err := db.PutWorkspaceState("w1", big); err != nil {
		t.Fatalf("large write after the failure: %v", err)
	}
	closed = true
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := openPath(t, path) // Open checks the file
	if err := db2.Check(); err != nil {
		t.Errorf("Check after reopening: %v", err)
	}
	if list, err := db2.ListWorkspaces("acme", "bob"); err != nil || len(list) != 3 {
		t.Errorf("after reopening: bob has %d workspaces, %v; want 3", len(list), err)
	}
	if st, err := db2.GetWorkspaceState("w1"); err != nil || len(st) != len(big) {
		t.Errorf("after reopening: state of %d bytes, %v; want %d", len(st), err, len(big))
	}
}

// dbDescriptor returns this process's descriptor of the file at path
// (the one bbolt opened).
func dbDescriptor(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	found := -1
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || target != path {
			continue
		}
		if found >= 0 {
			t.Fatalf("two descriptors of %s", path)
		}
		fmt.Sscan(e.Name(), &found)
	}
	if found < 0 {
		t.Fatalf("no descriptor of %s", path)
	}
	return found
}
