package isotest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Fataler is the part of testing.TB that Snapshot uses (this package does
// not import testing).
type Fataler interface {
	Helper()
	Fatal(args ...any)
}

// Snapshot maps each path below dir (relative to it, "." for dir itself)
// to "mode uid size mtime", and with digests also the SHA-256 of each
// regular file's content; it fails t if dir cannot be read. Two snapshots
// that are equal show that a tree which nothing may change was left alone.
func Snapshot(t Fataler, dir string, digests bool) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		v := fmt.Sprintf("%v %d %d %d", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, fi.Size(), fi.ModTime().UnixNano())
		if digests && d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			v += " " + hex.EncodeToString(sum[:])
		}
		m[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal("snapshot: ", err)
	}
	return m
}

// SizeTime is a Snapshot value without its mode and owner: "size mtime",
// and the digest if it has one.
func SizeTime(v string) string {
	f := strings.SplitN(v, " ", 3)
	return f[len(f)-1]
}

// Changed describes how snapshot after differs from before, naming at most
// five paths added, removed or changed; it is "" when they are equal.
func Changed(before, after map[string]string) string {
	var diffs []string
	for p, v := range before {
		switch w, ok := after[p]; {
		case !ok:
			diffs = append(diffs, "removed "+p)
		case w != v:
			diffs = append(diffs, fmt.Sprintf("changed %s: %s, then %s", p, v, w))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "added "+p)
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	slices.Sort(diffs)
	n := len(diffs)
	if n > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("and %d more", n-5))
	}
	return fmt.Sprintf("%d of %d entries differ: %s", n, len(before), strings.Join(diffs, "; "))
}
