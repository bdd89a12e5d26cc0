package store_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

// t0 is a fixed, non-UTC, sub-microsecond time so round trips prove that
// times are stored in UTC without truncation.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))

// openTemp opens a fresh store in t.TempDir() and closes it at cleanup.
func openTemp(t testing.TB) *store.DB {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "state.db"))
}

func openPath(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(store.Options{Path: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestContract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		open func(t *testing.T) *store.DB
	}{
		{"fresh", func(t *testing.T) *store.DB { return openTemp(t) }},
		{"reopened", func(t *testing.T) *store.DB {
			path := filepath.Join(t.TempDir(), "state.db")
			db, err := store.Open(store.Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return openPath(t, path)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runStoreContract(t, tt.open)
		})
	}
}

// runStoreContract checks every method of the store against a fresh DB from
// open for each subtest.
func runStoreContract(t *testing.T, open func(t *testing.T) *store.DB) {
	t.Run("users", func(t *testing.T) { t.Parallel(); testUsers(t, open(t)) })
	t.Run("tokens", func(t *testing.T) { t.Parallel(); testTokens(t, open(t)) })
	t.Run("logins", func(t *testing.T) { t.Parallel(); testLogins(t, open(t)) })
	t.Run("workspaces", func(t *testing.T) { t.Parallel(); testWorkspaces(t, open(t)) })
	t.Run("workspace_state", func(t *testing.T) { t.Parallel(); testWorkspaceState(t, open(t)) })
	t.Run("isolation", func(t *testing.T) { t.Parallel(); testIsolation(t, open(t)) })
	t.Run("invalid", func(t *testing.T) { t.Parallel(); testInvalid(t, open(t)) })
	t.Run("maintenance", func(t *testing.T) { t.Parallel(); testMaintenance(t, open(t)) })
	t.Run("concurrent", func(t *testing.T) { t.Parallel(); testConcurrent(t, open(t)) })
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func mustUser(t *testing.T, db *store.DB, tenant, user string) store.User {
	t.Helper()
	u, err := db.EnsureUser(tenant, user)
	if err != nil {
		t.Fatalf("EnsureUser(%q, %q): %v", tenant, user, err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

func testUsers(t *testing.T, db *store.DB) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("Y", -7200))
	store.SetClock(db, func() time.Time { return now })
	u := mustUser(t, db, "acme", "alice")
	if u.TenantID != "acme" || u.ID != "alice" || u.Admin || !u.CreatedAt.Equal(now) || u.CreatedAt.Location() != time.UTC {
		t.Errorf("EnsureUser created %+v", u)
	}
	now = now.Add(time.Hour)
	again := mustUser(t, db, "acme", "alice")
	if !again.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("EnsureUser of existing user changed CreatedAt: %v → %v", u.CreatedAt, again.CreatedAt)
	}
	mustUser(t, db, "acme", "bob")
	mustUser(t, db, "beta", "carol")

	if err := db.SetUserAdmin("acme", "alice", true); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetUser("acme", "alice")
	if err != nil || !got.Admin {
		t.Errorf("GetUser after SetUserAdmin = %+v, %v; want admin", got, err)
	}
	if again := mustUser(t, db, "acme", "alice"); !again.Admin {
		t.Errorf("EnsureUser reset Admin")
	}
	if bob, _ := db.GetUser("acme", "bob"); bob.Admin {
		t.Errorf("SetUserAdmin leaked to another user")
	}

	tenant, err := db.GetTenant("acme")
	if err != nil || tenant.ID != "acme" || !tenant.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("GetTenant = %+v, %v", tenant, err)
	}
	tenants, err := db.ListTenants()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tn := range tenants {
		ids = append(ids, tn.ID)
	}
	if !slices.Equal(ids, []string{"acme", "beta"}) {
		t.Errorf("ListTenants ids = %q", ids)
	}

	_, err = db.GetUser("acme", "nobody")
	wantErr(t, "GetUser missing user", err, store.ErrNotFound)
	_, err = db.GetUser("nope", "alice")
	wantErr(t, "GetUser missing tenant", err, store.ErrNotFound)
	_, err = db.GetUser("beta", "alice")
	wantErr(t, "GetUser user of another tenant", err, store.ErrNotFound)
	wantErr(t, "SetUserAdmin missing", db.SetUserAdmin("acme", "nobody", true), store.ErrNotFound)
	_, err = db.GetTenant("nope")
	wantErr(t, "GetTenant missing", err, store.ErrNotFound)
}

// testIsolation is DB-07: it uses ids that would collide under any
// key-concatenation scheme with "/" or NUL separators, or that spell the
// store's own bucket names; each owner must see only its own data. (Tenant
// and user ids that reach the store are also restricted to [a-z0-9-] by
// auth.ValidID; this holds even without that.)
func testIsolation(t *testing.T, db *store.DB) {
	owners := []struct{ tenant, user string }{
		{"a", "b/c"},
		{"a/b", "c"},
		{"a", "b\x00c"},
		{"a\x00b", "c"},
		{"a/", "/b"},
		{"a", "/b"},
		{"a//", "b"},
		{"workspaces", "info"},
		{"tokens", "users"},
	}
	for i, o := range owners {
		mustUser(t, db, o.tenant, o.user)
		id := fmt.Sprint("ws-", i)
		if err := db.CreateWorkspace(ws(id, o.tenant, o.user, t0)); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateToken(store.Token{ID: fmt.Sprint("tok-", i), TenantID: o.tenant, UserID: o.user, Name: "local", Hash: hashOf(id), CreatedAt: t0}); err != nil {
			t.Fatalf("CreateToken for %q/%q: %v", o.tenant, o.user, err)
		}
	}
	if err := db.SetUserAdmin("a", "b/c", true); err != nil {
		t.Fatal(err)
	}
	for i, o := range owners {
		name := fmt.Sprintf("%q/%q", o.tenant, o.user)
		list, err := db.ListWorkspaces(o.tenant, o.user)
		if err != nil || !slices.Equal(workspaceIDs(list), []string{fmt.Sprint("ws-", i)}) {
			t.Errorf("%s: ListWorkspaces = %q, %v", name, workspaceIDs(list), err)
		}
		u, err := db.GetUser(o.tenant, o.user)
		if err != nil || u.TenantID != o.tenant || u.ID != o.user || u.Admin != (i == 0) {
			t.Errorf("%s: GetUser = %+v, %v", name, u, err)
		}
		tk, err := db.TokenByHash(hashOf(fmt.Sprint("ws-", i)))
		if err != nil || tk.TenantID != o.tenant || tk.UserID != o.user {
			t.Errorf("%s: TokenByHash = %+v, %v", name, tk, err)
		}
	}
	for _, tc := range []struct {
		tenant string
		want   []string
	}{
		{"a", []string{"tok-0", "tok-2", "tok-5"}},
		{"a/b", []string{"tok-1"}},
		{"a\x00b", []string{"tok-3"}},
		{"a\x00", nil},
		{"", nil},
	} {
		tokens, err := db.ListTokens(tc.tenant)
		if err != nil || !slices.Equal(tokenIDs(tokens), tc.want) {
			t.Errorf("ListTokens(%q) = %q, %v; want %q", tc.tenant, tokenIDs(tokens), err, tc.want)
		}
	}
	wantErr(t, "RevokeToken across tenants", db.RevokeToken("a", "tok-1"), store.ErrNotFound)
	if n, _ := db.RevokeUserTokensNamed("a/b", "c", "local"); n != 1 {
		t.Errorf("RevokeUserTokensNamed(a/b, c) = %d, want 1", n)
	}
	if _, err := db.TokenByHash(hashOf("ws-1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a/b's token survived RevokeUserTokensNamed: %v", err)
	}
	for _, other := range []string{"ws-0", "ws-2", "ws-3", "ws-4", "ws-5"} {
		if _, err := db.TokenByHash(hashOf(other)); err != nil {
			t.Errorf("revoking tenant a/b's token removed %s's: %v", other, err)
		}
	}
	if _, err := db.GetUser("a", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(a, b) = %v, want ErrNotFound", err)
	}
	if _, err := db.GetTenant("a\x00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTenant(a\\x00) = %v, want ErrNotFound", err)
	}
}

func testInvalid(t *testing.T, db *store.DB) {
	_, err := db.EnsureUser("", "alice")
	wantErr(t, "EnsureUser empty tenant", err, store.ErrInvalid)
	_, err = db.EnsureUser("acme", "")
	wantErr(t, "EnsureUser empty user", err, store.ErrInvalid)
	_, err = db.GetUser("", "")
	wantErr(t, "GetUser empty", err, store.ErrNotFound)
	_, err = db.GetTenant("")
	wantErr(t, "GetTenant empty", err, store.ErrNotFound)
	_, err = db.GetWorkspace("")
	wantErr(t, "GetWorkspace empty", err, store.ErrNotFound)
	if tenants, err := db.ListTenants(); err != nil || len(tenants) != 0 {
		t.Errorf("invalid calls created tenants: %+v, %v", tenants, err)
	}
}

func testMaintenance(t *testing.T, db *store.DB) {
	if v, err := db.SchemaVersion(); err != nil || v != store.CurrentSchemaVersion() {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, store.CurrentSchemaVersion())
	}
	mustUser(t, db, "acme", "alice")
	if err := db.CreateWorkspace(ws("w1", "acme", "alice", t0)); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	var buf bytes.Buffer
	n, err := db.Backup(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("Backup = %d, %v (buffer %d bytes)", n, err, buf.Len())
	}
	// A write after the backup is not in it.
	if err := db.CreateWorkspace(ws("w2", "acme", "alice", t0)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := openPath(t, path)
	if err := restored.Check(); err != nil {
		t.Errorf("restored Check: %v", err)
	}
	if _, err := restored.GetWorkspace("w1"); err != nil {
		t.Errorf("restored GetWorkspace(w1): %v", err)
	}
	if _, err := restored.GetWorkspace("w2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("restored has a write made after the backup: %v", err)
	}
}

// testConcurrent runs writers and readers from many goroutines (DB-06):
// no deadlock, and every write lands.
func testConcurrent(t *testing.T, db *store.DB) {
	const goroutines, perG = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG*3)
	for g := range goroutines {
		wg.Go(func() {
			tenant := fmt.Sprint("t", g%3)
			user := fmt.Sprint("u", g)
			if _, err := db.EnsureUser(tenant, user); err != nil {
				errs <- err
				return
			}
			for i := range perG {
				id := fmt.Sprintf("w-%d-%d", g, i)
				if err := db.CreateWorkspace(ws(id, tenant, user, t0.Add(time.Duration(i)))); err != nil {
					errs <- err
				}
				if _, err := db.ListAllWorkspaces(); err != nil {
					errs <- err
				}
				if _, err := db.UpdateWorkspace(id, func(w *store.Workspace) error { w.Name = "x"; return nil }); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := db.ListAllWorkspaces()
	if err != nil || len(all) != goroutines*perG {
		t.Errorf("ListAllWorkspaces = %d workspaces, %v; want %d", len(all), err, goroutines*perG)
	}
}
