package isotest_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ideserver/ideserver/internal/isotest"
)

// owner returns the uid the tests may give files to: isotest.UID as root,
// else the test's own.
func owner() int {
	if os.Geteuid() == 0 {
		return isotest.UID
	}
	return os.Geteuid()
}

func uidOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func TestUnavailable(t *testing.T) {
	why := isotest.Unavailable()
	_, statErr := os.Stat(isotest.Bwrap)
	switch {
	case statErr != nil:
		if !strings.Contains(why, isotest.Bwrap) {
			t.Errorf("without bwrap: %q", why)
		}
	case os.Geteuid() != 0:
		if !strings.Contains(why, "root") {
			t.Errorf("not root: %q", why)
		}
	case why != "":
		t.Errorf("bwrap present and root, yet %q", why)
	}
}

func TestPublicDir(t *testing.T) {
	var cleanups []func()
	dir, err := isotest.PublicDir(func(f func()) { cleanups = append(cleanups, f) })
	if len(cleanups) != 1 {
		t.Fatalf("%d cleanups registered, want 1", len(cleanups))
	}
	defer cleanups[0]()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != "/tmp" || fi.Mode().Perm() != 0o711 || !fi.IsDir() {
		t.Errorf("%s: mode %v, want a 0711 directory in /tmp", dir, fi.Mode())
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cleanups[0]()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after cleanup: %v", err)
	}
}

func TestTraversable(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b")
	if err := isotest.Traversable(root, deep); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Join(root, "a"), deep} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o711 {
			t.Errorf("%s: %v %v, want mode 0711", d, fi, err)
		}
	}
}

func TestCopyExecutable(t *testing.T) {
	src := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got, err := isotest.CopyExecutable(src, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, "tool") {
		t.Errorf("copy at %s", got)
	}
	b, err := os.ReadFile(got)
	if err != nil || string(b) != "#!/bin/sh\n" {
		t.Errorf("copy holds %q, %v", b, err)
	}
	if fi, err := os.Stat(got); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("copy: %v %v, want mode 0755", fi, err)
	}
	if _, err := isotest.CopyExecutable(src, dir); err == nil {
		t.Error("a second copy over the first succeeded")
	}
	if _, err := isotest.CopyExecutable(filepath.Join(dir, "missing"), t.TempDir()); err == nil {
		t.Error("copying a missing file succeeded")
	}
}

func TestChownTree(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(sub, "l")); err != nil {
		t.Fatal(err)
	}
	before := uidOf(t, outside)
	uid := owner()
	if err := isotest.ChownTree(root, uid); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{root, sub, filepath.Join(sub, "f"), filepath.Join(sub, "l")} {
		if got := uidOf(t, p); got != uid {
			t.Errorf("%s owned by %d, want %d", p, got, uid)
		}
	}
	if got := uidOf(t, outside); got != before && uid != before {
		t.Errorf("the link's target was given to %d too", got)
	}
	if err := isotest.ChownTree(filepath.Join(root, "missing"), uid); err == nil {
		t.Error("chown of a missing tree succeeded")
	}
}

func TestLinkCache(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "cache")
	entry := filepath.Join("0a", "0a12-d")
	if err := os.Mkdir(filepath.Join(src, "0a"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"trim.txt", entry} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	uid := owner()
	if err := isotest.LinkCache(src, dst, uid); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dst, filepath.Join(dst, "0a")} {
		if got := uidOf(t, d); got != uid {
			t.Errorf("%s owned by %d, want %d", d, got, uid)
		}
	}
	a, errA := os.Stat(filepath.Join(src, entry))
	b, errB := os.Stat(filepath.Join(dst, entry))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("entry is not a hard link of the source's: %v, %v", errA, errB)
	}
	if _, err := os.Stat(filepath.Join(dst, "trim.txt")); !os.IsNotExist(err) {
		t.Errorf("top-level file was copied: %v", err)
	}
}

// TestSnapshotChanged: Changed is empty for an untouched tree and names a
// file whose content changed (same size, digests on), one added and one
// removed.
func TestSnapshotChanged(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("one"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := isotest.Snapshot(t, dir, true)
	if d := isotest.Changed(before, isotest.Snapshot(t, dir, true)); d != "" {
		t.Fatalf("an untouched tree changed: %s", d)
	}
	fi, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "a"), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := isotest.Changed(before, isotest.Snapshot(t, dir, true))
	for _, want := range []string{"changed a:", "removed b", "added c"} {
		if !strings.Contains(d, want) {
			t.Errorf("Changed = %q, want it to say %q", d, want)
		}
	}
}
