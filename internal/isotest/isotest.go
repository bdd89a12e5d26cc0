// Package isotest holds helpers for tests that start tenant processes under
// bubblewrap as a uid of their own, the server's isolation mode: whether
// this host can, a directory every uid may traverse, tools a tenant can run
// and trees it owns. It is imported by _test.go files only (a rule of
// internal/deps_test.go); its helpers return errors or take a Fataler, as a
// package that is not a test does not import testing (another rule there).
package isotest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Bwrap is where the tests expect bubblewrap.
const Bwrap = "/usr/bin/bwrap"

// UID is the host uid the tests run a tenant as; no account of a test
// machine is expected to have it.
const UID = 200123

// Unavailable returns why this host cannot run a tenant under bubblewrap as
// its own uid ("no /usr/bin/bwrap", "per-tenant uids need root"), or ""
// when it can. A test skips with the reason.
func Unavailable() string {
	if _, err := os.Stat(Bwrap); err != nil {
		return "no " + Bwrap
	}
	if os.Geteuid() != 0 {
		return "per-tenant uids need root"
	}
	return ""
}

// PublicDir creates a new directory below /tmp that every uid may traverse
// but only its owner list (mode 0711): the parent of testing's TempDir is
// 0700, so a tenant could not reach below it. It passes to cleanup (a
// test's Cleanup) a function that removes the directory and everything in
// it, before anything else can fail.
func PublicDir(cleanup func(func())) (string, error) {
	dir, err := os.MkdirTemp("/tmp", "ideserver-bwrap-")
	if err != nil {
		return "", fmt.Errorf("public dir: %w", err)
	}
	cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", fmt.Errorf("public dir: %w", err)
	}
	return dir, nil
}

// Traversable creates each of dirs that is missing, with its parents, and
// sets each to mode 0711, so every uid may pass through it to what it holds.
func Traversable(dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("traversable: %w", err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("traversable: %w", err)
		}
	}
	return nil
}

// CopyExecutable copies the executable src into dir under its own name,
// readable and runnable by everyone (the pinned tools live below root's
// 0700 home), and returns the copy's path. It fails if the copy exists.
func CopyExecutable(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("copy executable: %w", err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return "", fmt.Errorf("copy executable: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return "", fmt.Errorf("copy executable: %w", err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("copy executable: %w", err)
	}
	return dst, nil
}

// ChownTree gives root and everything below it to uid (and the group of
// the same number). Symbolic links are changed themselves, not followed.
func ChownTree(root string, uid int) error {
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		return fmt.Errorf("chown tree: %w", err)
	}
	return nil
}

// LinkCache makes dst a Go build cache for uid that starts with the
// entries of the build cache src: directories of its own, owned by uid so
// it may add entries, and files that are hard links to src's, which uid
// can read but not change (go only adds entries and ignores failing to
// touch old ones). Regular files at src's top (trim.txt, README) are left
// for the copy to write its own. A cold cache would rebuild the standard
// library for every build a test makes. dst and src must be on one file
// system.
func LinkCache(src, dst string, uid int) error {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chown(target, uid, uid)
		case d.Type().IsRegular() && strings.Contains(rel, string(filepath.Separator)):
			return os.Link(p, target)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("link cache: %w", err)
	}
	return nil
}
