package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

// White-box tests of the migration machinery with fake migrations.

var fakeBucket = []byte("fake_v2")

// fake1to2 adds a bucket and rewrites every workspace's name, so the test can
// see that it ran over existing data.
func fake1to2(tx *bbolt.Tx) error {
	b, err := tx.CreateBucket(fakeBucket)
	if err != nil {
		return err
	}
	if err := b.Put([]byte("ran"), []byte("yes")); err != nil {
		return err
	}
	all := tx.Bucket(workspacesBucket)
	var entries []workspaceEntry
	if err := iterate(all, func(_ []byte, e workspaceEntry) error { entries = append(entries, e); return nil }); err != nil {
		return err
	}
	for _, e := range entries {
		e.Name = "v2:" + e.Name
		if err := put(all, []byte(e.ID), e); err != nil {
			return err
		}
	}
	return nil
}

// seedV1 creates a version-1 database with one workspace and closes it.
func seedV1(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := open(Options{Path: path}, migrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnsureUser("acme", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateWorkspace(Workspace{ID: "w1", TenantID: "acme", UserID: "alice", Name: "one"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func closeDB(t *testing.T, db *DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Error(err)
	}
}

func hasBucket(t *testing.T, db *DB, name []byte) bool {
	t.Helper()
	var ok bool
	if err := db.bolt.View(func(tx *bbolt.Tx) error { ok = tx.Bucket(name) != nil; return nil }); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMigrationRunsWithBackup(t *testing.T) {
	t.Parallel()
	path := seedV1(t)
	v2 := append(migrations(), fake1to2)

	db, err := open(Options{Path: path}, v2)
	if err != nil {
		t.Fatalf("open with 1→2 migration: %v", err)
	}
	if v, err := db.SchemaVersion(); err != nil || v != 2 {
		t.Errorf("SchemaVersion = %d, %v; want 2", v, err)
	}
	if !hasBucket(t, db, fakeBucket) {
		t.Error("migration did not create its bucket")
	}
	if w, err := db.GetWorkspace("w1"); err != nil || w.Name != "v2:one" {
		t.Errorf("migrated workspace = %+v, %v", w, err)
	}

	// The backup is the version-1 file, untouched by the migration.
	backup, err := open(Options{Path: path + ".bak-v1"}, migrations())
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer closeDB(t, backup)
	if v, _ := backup.SchemaVersion(); v != 1 {
		t.Errorf("backup SchemaVersion = %d, want 1", v)
	}
	if w, err := backup.GetWorkspace("w1"); err != nil || w.Name != "one" {
		t.Errorf("backup workspace = %+v, %v", w, err)
	}
	if _, err := os.Stat(path + ".bak-v1.tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary backup file left behind: %v", err)
	}

	// Reopening at version 2 runs nothing again (a second run would fail CreateBucket).
	closeDB(t, db)
	db, err = open(Options{Path: path}, v2)
	if err != nil {
		t.Fatalf("reopen at version 2: %v", err)
	}
	defer closeDB(t, db)
	if w, _ := db.GetWorkspace("w1"); w.Name != "v2:one" {
		t.Errorf("migration ran twice: name %q", w.Name)
	}
}

func TestMigrationFailureIsAtomic(t *testing.T) {
	t.Parallel()
	path := seedV1(t)
	errBoom := errors.New("boom")
	failing := func(tx *bbolt.Tx) error {
		if err := fake1to2(tx); err != nil { // writes, then fails
			return err
		}
		return errBoom
	}
	_, err := open(Options{Path: path}, append(migrations(), failing))
	if !errors.Is(err, errBoom) {
		t.Fatalf("open with failing migration: err = %v, want boom", err)
	}
	if _, err := os.Stat(path + ".bak-v1"); err != nil {
		t.Errorf("no backup before the failed migration: %v", err)
	}
	db, err := open(Options{Path: path}, migrations())
	if err != nil {
		t.Fatalf("reopen at version 1 after failed migration: %v", err)
	}
	defer closeDB(t, db)
	if v, _ := db.SchemaVersion(); v != 1 {
		t.Errorf("SchemaVersion after failed migration = %d, want 1", v)
	}
	if hasBucket(t, db, fakeBucket) {
		t.Error("failed migration left its bucket")
	}
	if w, err := db.GetWorkspace("w1"); err != nil || w.Name != "one" {
		t.Errorf("failed migration changed data: %+v, %v", w, err)
	}
}

func TestMigrationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T) string // returns the db path
		migs    []migration
		want    string
	}{
		{
			name: "newer schema",
			prepare: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "state.db")
				db, err := open(Options{Path: path}, []migration{nil, fake1to2, fake1to2})
				if err != nil {
					t.Fatal(err)
				}
				closeDB(t, db)
				return path
			},
			migs: migrations(),
			want: "database schema version 3 is newer than this ideserver supports (1)",
		},
		{
			name:    "missing migration step",
			prepare: seedV1,
			migs:    []migration{nil, nil},
			want:    "no migration from schema version 1",
		},
		{
			name: "not an ideserver database",
			prepare: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "other.db")
				b, err := bbolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := b.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err }); err != nil {
					t.Fatal(err)
				}
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				return path
			},
			migs: migrations(),
			want: "no schema version",
		},
		{
			name:    "path required",
			prepare: func(*testing.T) string { return "" },
			migs:    migrations(),
			want:    "path is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := open(Options{Path: tt.prepare(t)}, tt.migs)
			if err == nil {
				closeDB(t, db)
				t.Fatal("open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestFreshDatabaseSkipsMigrations(t *testing.T) {
	t.Parallel()
	called := false
	spy := func(*bbolt.Tx) error { called = true; return nil }
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := open(Options{Path: path}, []migration{nil, spy})
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB(t, db)
	if v, _ := db.SchemaVersion(); v != 2 || called {
		t.Errorf("fresh db: version %d, migration called %v; want 2, false", v, called)
	}
	if _, err := os.Stat(path + ".bak-v0"); !os.IsNotExist(err) {
		t.Errorf("fresh db wrote a backup: %v", err)
	}
}
