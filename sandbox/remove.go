package sandbox

import (
	"io/fs"
	"os"
	"path/filepath"
)

// RemoveAll removes a directory that sandboxed processes wrote, once they
// have ended, best effort: a process may have taken write or search
// permission off directories in it (a program's chmod, or the go
// command's read-only module cache), so what os.RemoveAll leaves is made
// writable and removed again. It does not follow symlinks.
func RemoveAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	// WalkDir calls the function on a directory before it reads it, so
	// the chmod comes first.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
