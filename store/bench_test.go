package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

// Write benchmarks include bbolt's fsync on commit: that is the real cost of
// a durable write on this disk.

func BenchmarkCreateWorkspace(b *testing.B) {
	db := openTemp(b)
	if _, err := db.EnsureUser("acme", "alice"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := db.CreateWorkspace(ws(fmt.Sprint("w", i), "acme", "alice", t0)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// seedWorkspaces creates n workspaces for acme/alice without fsync.
func seedWorkspaces(b *testing.B, db *store.DB, n int) {
	b.Helper()
	store.SetNoSync(db, true)
	defer store.SetNoSync(db, false)
	if _, err := db.EnsureUser("acme", "alice"); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := db.CreateWorkspace(ws(fmt.Sprintf("w%04d", i), "acme", "alice", t0.Add(time.Duration(i)))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetWorkspace(b *testing.B) {
	db := openTemp(b)
	seedWorkspaces(b, db, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.GetWorkspace(fmt.Sprintf("w%04d", i%1000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkTokenByHash(b *testing.B) {
	db := openTemp(b)
	if _, err := db.EnsureUser("acme", "alice"); err != nil {
		b.Fatal(err)
	}
	store.SetNoSync(db, true)
	hashes := make([][]byte, 1000)
	for i := range hashes {
		hashes[i] = hashOf(fmt.Sprint("secret-", i))
		if err := db.CreateToken(store.Token{ID: fmt.Sprint("tok_", i), TenantID: "acme", UserID: "alice", Hash: hashes[i], CreatedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	store.SetNoSync(db, false)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.TokenByHash(hashes[i%len(hashes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkListWorkspaces(b *testing.B) {
	db := openTemp(b)
	seedWorkspaces(b, db, 1000)
	b.ReportAllocs()
	for b.Loop() {
		list, err := db.ListWorkspaces("acme", "alice")
		if err != nil || len(list) != 1000 {
			b.Fatalf("ListWorkspaces = %d, %v", len(list), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/workspace")
}
