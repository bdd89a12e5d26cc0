package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

func TestSnippets(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	if _, err := db.GetSnippet("nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSnippet unknown: %v, want ErrNotFound", err)
	}
	s := store.Snippet{ID: "abc", Body: []byte("package main\x00\xff"), CreatedAt: t0}
	if err := db.PutSnippet(s); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSnippet(s); err != nil {
		t.Fatalf("PutSnippet again with the same body: %v", err)
	}
	if err := db.PutSnippet(store.Snippet{ID: "abc", Body: []byte("other")}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("PutSnippet other body: %v, want ErrExists", err)
	}
	got, err := db.GetSnippet("abc")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != string(s.Body) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetSnippet = %+v", got)
	}
	if err := db.PutSnippet(store.Snippet{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty id: %v", err)
	}
}

func TestShares(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	now := t0
	store.SetClock(db, func() time.Time { return now })
	mustUser(t, db, "acme", "alice")
	sh := store.Share{ID: "s1", TenantID: "acme", UserID: "alice", WorkspaceID: "w1", Name: "demo", Access: "view",
		Files: map[string]string{"main.go": "package main\n"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := db.CreateShare(sh); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateShare(sh); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := db.CreateShare(store.Share{ID: "s2", TenantID: "acme", UserID: "bob", WorkspaceID: "w1"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown owner: %v", err)
	}
	if err := db.CreateShare(store.Share{ID: "s3", TenantID: "acme", UserID: "alice", WorkspaceID: "w1", CreatedAt: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetShare("s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Files["main.go"] != "package main\n" || got.Name != "demo" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("GetShare = %+v", got)
	}
	list, err := db.ListShares("w1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "s1" || list[1].ID != "s3" || list[0].Files != nil {
		t.Fatalf("ListShares = %+v", list)
	}

	now = t0.Add(time.Hour) // s1 expires
	if _, err := db.GetShare("s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired: %v", err)
	}
	if list, _ := db.ListShares("w1"); len(list) != 1 || list[0].ID != "s3" {
		t.Fatalf("ListShares after expiry = %+v", list)
	}
	if err := db.DeleteShare("s3", "acme", "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete by another user: %v", err)
	}
	if err := db.DeleteShare("s3", "acme", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetShare("s3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if err := db.DeleteShare("s3", "acme", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// TestSharesOnSchema1File: a database written before the share buckets
// existed reads them as empty and creates them on first write.
func TestSharesOnSchema1File(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(golden1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openPath(t, path)
	if _, err := db.GetShare("x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetShare: %v", err)
	}
	if list, err := db.ListShares("ws-alice-1"); err != nil || len(list) != 0 {
		t.Fatalf("ListShares = %v, %v", list, err)
	}
	if err := db.DeleteShare("x", "acme", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteShare: %v", err)
	}
	if err := db.CreateShare(store.Share{ID: "s", TenantID: "acme", UserID: "alice", WorkspaceID: "ws-alice-1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSnippet(store.Snippet{ID: "p", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}
