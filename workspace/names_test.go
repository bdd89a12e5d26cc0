package workspace_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

// TestNamesAreByteExact is PATH-06: the canonical form of a name is its
// bytes. There is no Unicode normalisation and no case folding, so names
// that a normalising or case-insensitive layer would merge are distinct
// files, each with its own content, listed once each, and stored on disk
// under exactly the bytes the client sent. (Were the server to normalise
// on write but not on read, or the reverse, one name could reach another
// file: the check-versus-use disagreement this case is about.)
func TestNamesAreByteExact(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	names := []string{
		"caf\u00e9.go",  // NFC
		"cafe\u0301.go", // NFD: the same text, other bytes
		"A.go",
		"\uff21.go", // FULLWIDTH LATIN CAPITAL LETTER A
		"a.go",
		"FILE",
		"file",
		"\u212a.txt", // KELVIN SIGN, which case-folds to "k"
		"k.txt",
	}
	for _, n := range names {
		mustWrite(t, f, n, "content of "+n)
	}
	for _, n := range names {
		data, _, err := f.ReadFile(n)
		if err != nil || string(data) != "content of "+n {
			t.Errorf("ReadFile(%q) = %q, %v; want its own content", n, data, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%q is not stored under its own bytes: %v", n, err)
		}
	}
	entries, err := f.ReadDir("")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range entries {
		listed = append(listed, e.Name)
	}
	want := slices.Clone(names)
	slices.Sort(want)
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Errorf("ReadDir = %q, want exactly %q", listed, want)
	}
	// A directory differs from a file whose name only differs in case.
	mustWrite(t, f, "Dir/x.go", "upper")
	mustWrite(t, f, "dir/x.go", "lower")
	for p, want := range map[string]string{"Dir/x.go": "upper", "dir/x.go": "lower"} {
		if data, _, err := f.ReadFile(p); err != nil || string(data) != want {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", p, data, err, want)
		}
	}
}

// TestNamesNeverCollideAcrossOwners is PATH-06 across users: two owners
// writing the same name, or names that would fold together, each keep
// their own file, since every workspace is its own directory.
func TestNamesNeverCollideAcrossOwners(t *testing.T) {
	t.Parallel()
	m, _, _ := newManager(t, 0)
	ctx := context.Background()
	wa, err := m.Create(ctx, alice, workspace.CreateOptions{Files: map[string]string{"A.go": "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	wb, err := m.Create(ctx, bob, workspace.CreateOptions{Files: map[string]string{"A.go": "bob", "\uff21.go": "bob wide"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir(wa.ID) == m.Dir(wb.ID) {
		t.Fatalf("two workspaces share the directory %s", m.Dir(wa.ID))
	}
	read := func(o workspace.Owner, id, p string) string {
		t.Helper()
		var got string
		if err := m.WithFiles(o, id, func(f *workspace.Files) error {
			data, _, err := f.ReadFile(p)
			got = string(data)
			return err
		}); err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		return got
	}
	if got := read(alice, wa.ID, "A.go"); got != "alice" {
		t.Errorf("alice's A.go = %q", got)
	}
	if got := read(bob, wb.ID, "A.go"); got != "bob" {
		t.Errorf("bob's A.go = %q", got)
	}
	if got := read(bob, wb.ID, "\uff21.go"); got != "bob wide" {
		t.Errorf("bob's full-width A.go = %q", got)
	}
}
