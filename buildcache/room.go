package buildcache

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// minRoom is the free space below which a prebuild counts its disk as
// full: the go command ignores failures to write its cache, so a disk
// that filled is seen only afterwards, in the space left and in cut
// entries.
const minRoom = 16 << 20

// entrySize is the size of an action entry file ("v1 ACTION OUTPUT SIZE
// TIME\n") of the go command's disk cache.
const entrySize = 2 + 1 + 64 + 1 + 64 + 1 + 20 + 1 + 20 + 1

// checkRoom reports a cache dir whose disk filled while the go command
// wrote it: less than minRoom left, or action entries cut short. Cut
// entries are misses to the go command and to the cache program, so
// nothing half-written is ever used; the error tells the operator that
// the cache is incomplete and why.
func checkRoom(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("check the build cache's disk: %w", err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	cut := 0
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("check the build cache's disk: %w", err)
	}
	defer root.Close()
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, "-a") {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Size() != entrySize {
			cut++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check the build cache's disk: %w", err)
	}
	var why []string
	if free < minRoom {
		why = append(why, fmt.Sprintf("no space left on device: %d MiB free on the disk holding the build cache", free>>20))
	}
	if cut > 0 {
		why = append(why, fmt.Sprintf("%d cache entries were cut short", cut))
	}
	if why == nil {
		return nil
	}
	return fmt.Errorf("%s; the cache is incomplete (cut entries are never used): free space, and the next start completes it", strings.Join(why, ", "))
}
