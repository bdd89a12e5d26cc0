package playground

import "os"

// removeAll removes a run directory, best effort: a program may have left
// files without write permission on their directories.
func removeAll(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		_ = os.Chmod(dir, 0o700)
		_ = os.RemoveAll(dir)
	}
}
