package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// SBX-01: both ways of opening a bind source (openat2, and the walk a
// kernel without it uses) open the directory itself and refuse a path
// that is, or passes through, a symbolic link, with an error that holds no
// path.
func TestOpenSource(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "a"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(dir, "root")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	walk := func(p string) (*os.File, error) {
		fd, err := openSourceWalk(p)
		if err != nil {
			return nil, sourceErr(err)
		}
		return os.NewFile(uintptr(fd), "walk"), nil
	}
	for name, open := range map[string]func(string) (*os.File, error){"openat2": openSource, "walk": walk} {
		t.Run(name, func(t *testing.T) {
			for _, p := range []string{dir, file} {
				f, err := open(p)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				var got, want unix.Stat_t
				if err := unix.Fstat(int(f.Fd()), &got); err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
				if err := unix.Stat(p, &want); err != nil {
					t.Fatal(err)
				}
				if got.Ino != want.Ino || got.Dev != want.Dev {
					t.Errorf("%s: opened another inode", p)
				}
			}
			for _, p := range []string{filepath.Join(base, "link"), filepath.Join(base, "link", "b"), filepath.Join(dir, "root"), filepath.Join(dir, "root", "etc")} {
				f, err := open(p)
				if err == nil {
					_ = f.Close()
					t.Errorf("%s: opened", p)
					continue
				}
				if !errors.Is(err, errSymlinkSource) || strings.Contains(err.Error(), base) {
					t.Errorf("%s: %v", p, err)
				}
			}
			if f, err := open(filepath.Join(base, "missing")); err == nil || strings.Contains(err.Error(), base) {
				t.Errorf("missing source: %v", err)
				if f != nil {
					_ = f.Close()
				}
			}
		})
	}
	if f, err := openSource(filepath.Join(dir, "fifo")); err == nil {
		_ = f.Close()
		t.Error("a fifo was accepted as a bind source")
	}
}
