package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ideserver/ideserver/store"
)

func TestOwnerUIDAllocatesLowestFree(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	for i, tenant := range []string{"acme", "globex", "a/b"} {
		uid, err := db.OwnerUID(tenant, 100000, 10)
		if err != nil || uid != 100000+i {
			t.Fatalf("OwnerUID(%q) = %d, %v; want %d", tenant, uid, err, 100000+i)
		}
	}
	// Asking again gives the recorded uid, whatever the order.
	for i, tenant := range []string{"a/b", "acme", "globex"} {
		want := []int{100002, 100000, 100001}[i]
		if uid, err := db.OwnerUID(tenant, 100000, 10); err != nil || uid != want {
			t.Errorf("OwnerUID(%q) again = %d, %v; want %d", tenant, uid, err, want)
		}
	}
	// A lower first skips uids other tenants hold and takes the gap below.
	if uid, err := db.OwnerUID("initech", 99999, 10); err != nil || uid != 99999 {
		t.Errorf("OwnerUID(initech, 99999) = %d, %v; want 99999", uid, err)
	}
	if uid, err := db.OwnerUID("umbrella", 99999, 10); err != nil || uid != 100003 {
		t.Errorf("OwnerUID(umbrella, 99999) = %d, %v; want 100003", uid, err)
	}
}

func TestOwnerUIDErrors(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	for _, tt := range []struct {
		name          string
		tenant        string
		first, count  int
		want          error
		wantInMessage string
	}{
		{"empty owner", "", 1000, 10, store.ErrInvalid, "empty owner"},
		{"root uid", "acme", 0, 10, store.ErrInvalid, "range"},
		{"negative first", "acme", -5, 10, store.ErrInvalid, "range"},
		{"empty range", "acme", 1000, 0, store.ErrInvalid, "range"},
		{"past 32 bits", "acme", 1 << 32, 1, store.ErrInvalid, "range"},
		{"ends at (uid_t)-1", "acme", 1<<32 - 2, 2, store.ErrInvalid, "range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.OwnerUID(tt.tenant, tt.first, tt.count)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantInMessage) {
				t.Errorf("OwnerUID(%q, %d, %d) = %v; want %v mentioning %q", tt.tenant, tt.first, tt.count, err, tt.want, tt.wantInMessage)
			}
		})
	}
	// The last usable uid is 2³²-2.
	if uid, err := db.OwnerUID("edge", 1<<32-2, 1); err != nil || uid != 1<<32-2 {
		t.Errorf("OwnerUID at the top of the range = %d, %v", uid, err)
	}
	// Nothing was recorded by the refused calls: acme gets the first uid.
	if uid, err := db.OwnerUID("acme", 1000, 2); err != nil || uid != 1000 {
		t.Errorf("OwnerUID(acme) = %d, %v; want 1000", uid, err)
	}
}

func TestOwnerUIDRangeExhausted(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	for _, tenant := range []string{"t1", "t2", "t3"} {
		if _, err := db.OwnerUID(tenant, 5000, 3); err != nil {
			t.Fatal(err)
		}
	}
	if uid, err := db.OwnerUID("t4", 5000, 3); !errors.Is(err, store.ErrNoUIDs) {
		t.Fatalf("OwnerUID(t4) on a full range = %d, %v; want ErrNoUIDs", uid, err)
	}
	// The refused tenant got nothing: a wider range gives it the next uid,
	// and existing tenants keep theirs.
	if uid, err := db.OwnerUID("t4", 5000, 4); err != nil || uid != 5003 {
		t.Errorf("OwnerUID(t4) on a wider range = %d, %v; want 5003", uid, err)
	}
	if uid, err := db.OwnerUID("t2", 5000, 4); err != nil || uid != 5001 {
		t.Errorf("OwnerUID(t2) = %d, %v; want 5001", uid, err)
	}
}

func TestOwnerUIDOutsideRangeIsNotReassigned(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	if uid, err := db.OwnerUID("acme", 70000, 100); err != nil || uid != 70000 {
		t.Fatalf("OwnerUID = %d, %v", uid, err)
	}
	uid, err := db.OwnerUID("acme", 80000, 100)
	if !errors.Is(err, store.ErrUIDOutOfRange) || !strings.Contains(err.Error(), "70000") {
		t.Fatalf("OwnerUID with a moved range = %d, %v; want ErrUIDOutOfRange naming 70000", uid, err)
	}
	// The refusal recorded nothing: the old range still answers the same,
	// and the new range's first uid is still free for another tenant.
	if uid, err := db.OwnerUID("acme", 70000, 100); err != nil || uid != 70000 {
		t.Errorf("OwnerUID in the old range = %d, %v", uid, err)
	}
	if uid, err := db.OwnerUID("globex", 80000, 100); err != nil || uid != 80000 {
		t.Errorf("OwnerUID(globex) in the new range = %d, %v; want 80000", uid, err)
	}
}

func TestOwnerUIDStableAcrossReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		uid, err := db.OwnerUID(tenant, 200000, 1000)
		if err != nil {
			t.Fatal(err)
		}
		want[tenant] = uid
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openPath(t, path)
	// Reverse order: an allocation by order alone would differ.
	for _, tenant := range []string{"initech", "globex", "acme"} {
		if uid, err := db.OwnerUID(tenant, 200000, 1000); err != nil || uid != want[tenant] {
			t.Errorf("after reopen OwnerUID(%q) = %d, %v; want %d", tenant, uid, err, want[tenant])
		}
	}
	if uid, err := db.OwnerUID("new", 200000, 1000); err != nil || uid != 200003 {
		t.Errorf("after reopen a new tenant gets %d, %v; want 200003", uid, err)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}

func TestOwnerUIDConcurrent(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	store.SetNoSync(db, true) // many small write transactions
	const tenants, callsPerTenant, first = 24, 4, 300000
	var wg sync.WaitGroup
	got := make([][]int, tenants)
	errs := make(chan error, tenants*callsPerTenant)
	for i := range tenants {
		got[i] = make([]int, callsPerTenant)
		for j := range callsPerTenant {
			wg.Go(func() {
				uid, err := db.OwnerUID(fmt.Sprintf("tenant-%02d", i), first, tenants)
				if err != nil {
					errs <- err
				}
				got[i][j] = uid
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for i, uids := range got {
		for _, uid := range uids {
			if uid != uids[0] {
				t.Errorf("tenant-%02d got uids %v from concurrent calls", i, uids)
				break
			}
		}
		if uids[0] < first || uids[0] >= first+tenants {
			t.Errorf("tenant-%02d got %d, outside the range", i, uids[0])
		}
		if prev, dup := seen[uids[0]]; dup {
			t.Errorf("tenant-%02d and tenant-%02d share uid %d", prev, i, uids[0])
		}
		seen[uids[0]] = i
	}
	// The range is exactly full now.
	if _, err := db.OwnerUID("one-too-many", first, tenants); !errors.Is(err, store.ErrNoUIDs) {
		t.Errorf("OwnerUID past a full range = %v; want ErrNoUIDs", err)
	}
}

// SBX-05: every user of a tenant is its own isolation principal with its
// own uid, and the per-tenant records of earlier versions stay readable
// and keep their uids: no user or internal identity inherits a uid (and so
// the files) of an old per-tenant record.
func TestOwnerUIDPerUserKeepsLegacyTenantRecords(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	// An earlier version recorded one uid per tenant, keyed by tenant id.
	legacy, err := db.OwnerUID("acme", 100000, 10)
	if err != nil || legacy != 100000 {
		t.Fatalf("legacy tenant record = %d, %v", legacy, err)
	}
	got := map[int]string{legacy: "acme"}
	for _, key := range []string{"acme/alice", "acme/bob", "globex/alice", "@playground", "@selftest"} {
		uid, err := db.OwnerUID(key, 100000, 10)
		if err != nil {
			t.Fatalf("OwnerUID(%q): %v", key, err)
		}
		if prev, dup := got[uid]; dup {
			t.Errorf("OwnerUID(%q) = %d, the uid of %q", key, uid, prev)
		}
		got[uid] = key
	}
	if uid, ok, err := db.RecordedUID("acme"); err != nil || !ok || uid != legacy {
		t.Errorf("RecordedUID(acme) = %d, %v, %v; want the legacy %d", uid, ok, err, legacy)
	}
	if uid, ok, err := db.RecordedUID("acme/carol"); err != nil || ok {
		t.Errorf("RecordedUID of an unallocated key = %d, %v, %v; want none", uid, ok, err)
	}
}
