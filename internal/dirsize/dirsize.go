// Package dirsize measures directories: the shared caches report their
// disk use with it.
package dirsize

import "io/fs"

// Regular returns the total size of the regular files below the root of
// fsys (an os.Root's FS, so that no symlink leads outside). A file that
// vanishes during the walk is not counted; an unreadable directory ends
// the walk with its error.
func Regular(fsys fs.FS) (int64, error) {
	var n int64
	err := fs.WalkDir(fsys, ".", func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if fi, err := d.Info(); err == nil {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
