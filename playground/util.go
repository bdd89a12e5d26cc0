package playground

import (
	"io/fs"
	"os"
	"path/filepath"
)

// removeAll removes a run directory, best effort: a program may have taken
// write or search permission off directories in it (the run is over, so
// nothing changes them meanwhile).
func removeAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	// WalkDir calls the function on a directory before it reads it, so
	// the chmod comes first; it does not follow symlinks.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
