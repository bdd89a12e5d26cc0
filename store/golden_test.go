package store_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

// update regenerates golden files:
//
//	go test ./store/ -run TestGoldenSchema1 -update
//
// testdata/schema-1.db is a frozen fixture of schema version 1. Regenerate
// it only while CurrentSchemaVersion() is 1; once a migration exists, keep
// the old file and add testdata/schema-2.db with a generator of its own.
var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const golden1 = "testdata/schema-1.db"

// fillSchema1 writes the fixture content through the public API.
func fillSchema1(t *testing.T, db *store.DB) {
	gen := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	store.SetClock(db, func() time.Time { return gen })
	for _, o := range [][2]string{{"acme", "alice"}, {"acme", "bob"}, {"a/b", "c"}} {
		mustUser(t, db, o[0], o[1])
	}
	if err := db.SetUserAdmin("acme", "alice", true); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []store.Token{
		{ID: "tok_0000000000000001", TenantID: "acme", UserID: "alice", Name: "local", Hash: hashOf("secret-1"), CreatedAt: gen},
		{ID: "tok_0000000000000002", TenantID: "a/b", UserID: "c", Name: "cli", Hash: hashOf("secret-2"), CreatedAt: gen, ExpiresAt: gen.AddDate(100, 0, 0)},
	} {
		if err := db.CreateToken(tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateLogin(store.Login{Hash: hashOf("cookie-1"), TenantID: "acme", UserID: "bob", CreatedAt: gen, ExpiresAt: gen.AddDate(100, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []store.Workspace{
		ws("ws-alice-1", "acme", "alice", gen),
		ws("ws-bob-1", "acme", "bob", gen.Add(time.Second)),
		ws("ws-c-1", "a/b", "c", gen.Add(2*time.Second)),
	} {
		if err := db.CreateWorkspace(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutWorkspaceState("ws-alice-1", []byte(`{"open":["main.go"]}`)); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenSchema1 opens a copy of a database written by schema version 1
// and checks that it migrates (if needed) and reads back intact.
func TestGoldenSchema1(t *testing.T) {
	if *update {
		if v := store.CurrentSchemaVersion(); v != 1 {
			t.Fatalf("schema is at version %d: %s is frozen, do not regenerate it", v, golden1)
		}
		if err := os.Remove(golden1); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		db, err := store.Open(store.Options{Path: golden1})
		if err != nil {
			t.Fatal(err)
		}
		fillSchema1(t, db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", golden1)
	}
	t.Parallel()
	raw, err := os.ReadFile(golden1)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openPath(t, path)
	store.SetClock(db, func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })

	if v, err := db.SchemaVersion(); err != nil || v != store.CurrentSchemaVersion() {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, store.CurrentSchemaVersion())
	}
	_, err = os.Stat(path + ".bak-v1")
	if migrated := store.CurrentSchemaVersion() > 1; migrated != (err == nil) {
		t.Errorf("backup %s.bak-v1: stat err %v, migration expected %v", filepath.Base(path), err, migrated)
	}
	if err := db.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if u, err := db.GetUser("acme", "alice"); err != nil || !u.Admin {
		t.Errorf("GetUser(acme, alice) = %+v, %v", u, err)
	}
	if tk, err := db.TokenByHash(hashOf("secret-2")); err != nil || tk.TenantID != "a/b" || tk.Name != "cli" {
		t.Errorf("TokenByHash(secret-2) = %+v, %v", tk, err)
	}
	if s, err := db.LoginByHash(hashOf("cookie-1")); err != nil || s.UserID != "bob" {
		t.Errorf("LoginByHash = %+v, %v", s, err)
	}
	if list, err := db.ListWorkspaces("acme", "bob"); err != nil || len(list) != 1 || list[0].ID != "ws-bob-1" {
		t.Errorf("ListWorkspaces(acme, bob) = %+v, %v", list, err)
	}
	if all, err := db.ListAllWorkspaces(); err != nil || len(all) != 3 {
		t.Errorf("ListAllWorkspaces = %d, %v", len(all), err)
	}
	if st, err := db.GetWorkspaceState("ws-alice-1"); err != nil || !bytes.Equal(st, []byte(`{"open":["main.go"]}`)) {
		t.Errorf("GetWorkspaceState = %q, %v", st, err)
	}
	if tenants, err := db.ListTenants(); err != nil || len(tenants) != 2 {
		t.Errorf("ListTenants = %+v, %v", tenants, err)
	}
	// The migrated file still takes writes.
	if err := db.CreateWorkspace(ws("ws-new", "a/b", "c", time.Now())); err != nil {
		t.Errorf("CreateWorkspace on golden copy: %v", err)
	}
}
