package workspace_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

// FuzzResolve (PATH-10): for any string, CleanPath either fails with
// ErrInvalidPath or gives a local path, and no Files operation on it
// reads or creates anything outside the workspace, whose root holds
// symlinks leading out (up -> .., abs -> /, chain -> up/..) next to a real
// directory and file.
func FuzzResolve(f *testing.F) {
	for _, tc := range validPaths {
		f.Add(tc.in)
	}
	for _, tc := range invalidPaths {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"up", "up/outside/secret", "up/server.db", "abs/etc/passwd", "chain/outside/secret",
		"chain", "dir/file", "dir/new", "up/outside/new", "abs/tmp/new", "chain/x/y",
		"dir/../up", "file/x", "up/ws/dir/file", "dir/\u202e",
	} {
		f.Add(s)
	}

	fx := newEscapeFixture(f)
	for link, target := range map[string]string{"up": "..", "abs": "/", "chain": "up/.."} {
		symlink(f, target, filepath.Join(fx.ws, link))
	}
	writeHost(f, fx.ws, "dir/file", "inside")

	f.Fuzz(func(t *testing.T, s string) {
		rel, err := workspace.CleanPath(s)
		if err != nil {
			if !errors.Is(err, workspace.ErrInvalidPath) {
				t.Fatalf("CleanPath(%q) = %v, not ErrInvalidPath", s, err)
			}
			if rel != "" {
				t.Fatalf("CleanPath(%q) = %q with an error", s, rel)
			}
		} else if rel != "" && !filepath.IsLocal(rel) {
			t.Fatalf("CleanPath(%q) = %q, not local", s, rel)
		}

		if data, _, err := fx.f.ReadFile(s); err == nil && string(data) == outsideSecret {
			t.Fatalf("ReadFile(%q) read outside", s)
		}
		_, _ = fx.f.Stat(s)
		if entries, err := fx.f.ReadDir(s); err == nil {
			for _, e := range entries {
				if e.Name == "server.db" || e.Name == "ws" {
					t.Fatalf("ReadDir(%q) listed outside: %+v", s, entries)
				}
			}
		}
		_, _ = fx.f.WriteFile(s, strings.NewReader("fuzz"), "")
		_ = fx.f.Mkdir(s + "-d")
		fx.checkUntouched(t)
		if t.Failed() {
			t.Fatalf("input %q reached outside", s)
		}
		// Keep the fixture as it was for the next input: the links must
		// stay links.
		for _, link := range []string{"up", "abs", "chain"} {
			if fi, err := os.Lstat(filepath.Join(fx.ws, link)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				_ = os.RemoveAll(filepath.Join(fx.ws, link))
				target := map[string]string{"up": "..", "abs": "/", "chain": "up/.."}[link]
				symlink(t, target, filepath.Join(fx.ws, link))
			}
		}
	})
}
