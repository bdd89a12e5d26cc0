package lsp_test

import (
	"os"
	"path/filepath"
	"testing"
)

// SBX-01: the module cache lies in the user's HOME, where the user's
// processes can swap any directory for a symlink. The server serves it
// (GET .../gomodcache/...) from a root opened inside a root on HOME, so a
// ~/go/pkg/mod, or a ~/go, that points at the host's / or outside HOME
// never leads the server (root) to a host file.
func TestReadOnlyRootModCacheStaysInHome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	m := newManager(t, e, "/nonexistent-gopls", nil)
	outside := filepath.Join(e.data, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("HOST-SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The real cache serves its files.
	if err := os.WriteFile(filepath.Join(e.dirs.GoModCache, "m.go"), []byte("package m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := m.ReadOnlyRoot("t1/u1", "gomodcache")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := r.ReadFile("m.go"); err != nil || string(b) != "package m\n" {
		t.Errorf("m.go = %q, %v", b, err)
	}
	r.Close()

	for _, tc := range []struct{ victim, target string }{
		{e.dirs.GoModCache, "/"},
		{e.dirs.GoModCache, outside},
		{e.dirs.GoPath, "/"},
		{e.dirs.GoModCache, "../../../../../outside"},
	} {
		if err := os.RemoveAll(e.dirs.GoPath); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(tc.victim), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(tc.target, tc.victim); err != nil {
			t.Fatal(err)
		}
		r, err := m.ReadOnlyRoot("t1/u1", "gomodcache")
		if err != nil {
			continue // refused: fine
		}
		for _, p := range []string{"etc/hostname", "secret"} {
			if b, err := r.ReadFile(p); err == nil {
				t.Errorf("%s -> %s: the served module cache reads the host's %s (%d bytes)", filepath.Base(tc.victim), tc.target, p, len(b))
			}
		}
		r.Close()
	}
}
