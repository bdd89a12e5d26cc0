package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/store"
)

// TestCorruptFile is DB-04 (docs/security.md): a damaged database file is refused
// at Open with ErrCorrupt and a way out, never a panic; one damaged meta
// page alone is survived (losing at most the last commit); an empty file
// starts a new database.
func TestCorruptFile(t *testing.T) {
	t.Parallel()
	// A database with some records, as a template for each case.
	dir := t.TempDir()
	template := filepath.Join(dir, "template.db")
	db, err := store.Open(store.Options{Path: template})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := db.EnsureUser(fmt.Sprintf("tenant-%03d", i), "user"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096 // bbolt's page size on this platform (os.Getpagesize)
	if os.Getpagesize() != page || len(good) < 8*page {
		t.Skipf("page size %d, file %d bytes: offsets below assume 4 KiB pages", os.Getpagesize(), len(good))
	}
	flip := func(b []byte, from, n int) []byte {
		b = append([]byte(nil), b...)
		for i := from; i < from+n; i++ {
			b[i] ^= 0xff
		}
		return b
	}
	// freelistEnd is good truncated where the freelist page that the newer
	// meta page names begins: bbolt would read it beyond the file's end
	// (a fault, not a panic, without debug.SetPanicOnFault).
	freelistEnd := func() []byte {
		// A meta page: 16-byte page header, then magic, version, page
		// size, flags (4 bytes each), the root bucket (16), the freelist
		// page id (8), the high water mark (8) and the txid (8).
		meta := func(off int) (freelist, txid uint64) {
			le := func(b []byte) uint64 {
				var v uint64
				for i := 7; i >= 0; i-- {
					v = v<<8 | uint64(b[i])
				}
				return v
			}
			return le(good[off+48:]), le(good[off+64:])
		}
		f0, t0 := meta(0)
		f1, t1 := meta(page)
		f := f0
		if t1 > t0 {
			f = f1
		}
		if f < 2 || int(f)*page >= len(good) {
			t.Fatalf("freelist page %d in a file of %d pages", f, len(good)/page)
		}
		return good[:int(f)*page]
	}()
	for _, tc := range []struct {
		name    string
		content []byte
		corrupt bool // else it opens with at least min tenants
		min     int
	}{
		{"truncated before the freelist", freelistEnd, true, 0},
		{"intact", good, false, 200},
		{"empty file", nil, false, 0},
		{"truncated to one page", good[:page], true, 0},
		{"truncated to half", good[:len(good)/2], true, 0},
		// bbolt keeps two meta pages, alternating: the other one is at most
		// one commit older.
		{"first meta page damaged", flip(good, 16, 64), false, 199},
		{"both meta pages damaged", flip(flip(good, 16, 64), page+16, 64), true, 0},
		{"data pages damaged", flip(good, 4*page, 3*page), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ideserver.db")
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(store.Options{Path: path})
			if tc.corrupt {
				if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "restore") {
					t.Fatalf("Open = %v, want ErrCorrupt saying how to recover", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			tenants, err := db.ListTenants()
			if err != nil {
				t.Fatal(err)
			}
			if len(tenants) < tc.min || len(tenants) > 200 || (tc.min == 0 && len(tenants) != 0) {
				t.Errorf("%d tenants, want %d (0 for a new database) to 200", len(tenants), tc.min)
			}
		})
	}
}
