package dirsize_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ideserver/ideserver/internal/dirsize"
)

// TestRegular counts regular files at any depth, and neither directories
// nor symlinks (a link to a large file outside counts nothing).
func TestRegular(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	write := func(p string, n int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "a"), 10)
	write(filepath.Join(dir, "x", "y", "b"), 32)
	write(filepath.Join(outside, "big"), 1<<20)
	if err := os.Symlink(filepath.Join(outside, "big"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if n, err := dirsize.Regular(root.FS()); err != nil || n != 42 {
		t.Errorf("Regular = %d, %v; want 42", n, err)
	}
}
