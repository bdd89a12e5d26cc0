package workspace_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/workspace"
)

// waitLong bounds how long a test waits for something that should happen
// at once; reaching it is a failure, not a timing assertion.
const waitLong = 10 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// openFiles opens a Files on a fresh directory and returns it with the
// directory.
func openFiles(t testing.TB, opts workspace.FilesOptions) (*workspace.Files, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ws")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := workspace.OpenFiles(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, dir
}

func mustWrite(t testing.TB, f *workspace.Files, rel, content string) string {
	t.Helper()
	etag, err := f.WriteFile(rel, strings.NewReader(content), "")
	if err != nil {
		t.Fatalf("WriteFile(%q): %v", rel, err)
	}
	return etag
}

// writeHost writes a file with plain os calls, as a tenant's shell would.
func writeHost(t testing.TB, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// listTree returns every path below dir, slash-separated, sorted, with
// "/" after directories.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func readHost(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const outsideSecret = "OUTSIDE-SECRET"

// escapeFixture is a workspace next to an "outside" directory that nothing
// may reach: base/ws (the root) and base/outside/secret, plus
// base/server.db standing for the server's own files.
type escapeFixture struct {
	f       *workspace.Files
	base    string
	ws      string
	outside string
}

func newEscapeFixture(t testing.TB) *escapeFixture {
	t.Helper()
	fx := &escapeFixture{base: t.TempDir()}
	fx.ws = filepath.Join(fx.base, "ws")
	fx.outside = filepath.Join(fx.base, "outside")
	for _, d := range []string{fx.ws, fx.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeHost(t, fx.outside, "secret", outsideSecret)
	writeHost(t, fx.base, "server.db", outsideSecret)
	f, err := workspace.OpenFiles(fx.ws, workspace.FilesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fx.f = f
	return fx
}

// checkUntouched fails unless outside holds only its secret, unchanged,
// and base holds only ws, outside and server.db.
func (fx *escapeFixture) checkUntouched(t testing.TB) {
	t.Helper()
	if got := listTree(t, fx.outside); !slices.Equal(got, []string{"secret"}) {
		t.Errorf("outside dir now holds %q", got)
	}
	if got := readHost(t, filepath.Join(fx.outside, "secret")); got != outsideSecret {
		t.Errorf("outside secret changed to %q", got)
	}
	entries, err := os.ReadDir(fx.base)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"outside", "server.db", "ws"}; !slices.Equal(names, want) {
		t.Errorf("base dir now holds %q, want %q", names, want)
	}
}
