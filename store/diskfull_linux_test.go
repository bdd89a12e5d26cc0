package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

// TestDiskFull is DB-03 (docs/security.md): with the disk full, a write fails
// with an error (no panic, no half commit), reads keep working, and once
// there is space again writes succeed; the file passes bbolt's check when
// reopened. It needs root to mount a small tmpfs.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })

	path := filepath.Join(dir, "ideserver.db")
	db, err := store.Open(store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := db.EnsureUser("acme", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateWorkspace(store.Workspace{ID: "w1", TenantID: "acme", UserID: "alice", Name: "w1", State: store.StateActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// Fill the rest of the file system with a ballast file, keeping the
	// database's own pages.
	ballast := filepath.Join(dir, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	_ = f.Close()

	// Writes fail with an error; nothing panics.
	state := make([]byte, 512<<10)
	var werr error
	for i := 0; i < 20 && werr == nil; i++ {
		werr = db.PutWorkspaceState("w1", append(state[:len(state)-1], byte(i)))
	}
	if werr == nil {
		t.Fatal("writes kept succeeding on a full disk")
	}
	t.Logf("write on a full disk: %v", werr)

	// Reads keep working.
	if w, err := db.GetWorkspace("w1"); err != nil || w.Name != "w1" {
		t.Fatalf("GetWorkspace on a full disk = %+v, %v", w, err)
	}
	if _, err := db.GetUser("acme", "alice"); err != nil {
		t.Fatalf("GetUser on a full disk: %v", err)
	}

	// With space again, writes succeed.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := db.PutWorkspaceState("w1", []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatalf("write after space was freed: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(store.Options{Path: path}) // Open runs bbolt's check
	if err != nil {
		t.Fatalf("reopen after a full disk: %v", err)
	}
	defer db.Close()
	if got, err := db.GetWorkspaceState("w1"); err != nil || string(got) != `{"n":2}` {
		t.Errorf("state after reopen = %q, %v", got, err)
	}
}
