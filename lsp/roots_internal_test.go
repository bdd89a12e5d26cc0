package lsp

import (
	"slices"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

// TestToolRoots checks the roots a session builds from the process view:
// the identity keeps today's host roots; a bubblewrap-like view gives
// identity-like roots, maps gopls's /workspace URIs back unchanged, and
// still hides the host directories and the tool's HOME.
func TestToolRoots(t *testing.T) {
	t.Parallel()
	home := "/data/tenants/t1/users/u1/home"
	dirs := workspace.HomeDirs{
		Home: home, GoPath: home + "/go",
		GoModCache: home + "/go/pkg/mod", GoCache: home + "/.cache/go-build",
	}
	ws, goroot := "/data/workspaces/ws1", "/usr/local/go"

	t.Run("none", func(t *testing.T) {
		t.Parallel()
		r := toolRoots(func(h string) string { return h }, ws, goroot, dirs, []string{"/data"})
		if r.Workspace != ws || r.GoRoot != goroot || r.GoModCache != dirs.GoModCache {
			t.Errorf("roots = %+v, want the host directories", r)
		}
		want := []string{dirs.Home, dirs.GoPath, dirs.GoCache, "/data"}
		if !slices.Equal(r.Redact, want) {
			t.Errorf("Redact = %q, want %q", r.Redact, want)
		}
	})

	t.Run("bwrap", func(t *testing.T) {
		t.Parallel()
		// The server's binds: the module cache has none of its own, the
		// sandbox sees it inside HOME.
		binds := [][2]string{{ws, "/workspace"}, {goroot, "/goroot"}, {dirs.Home, "/home/user"}}
		r := toolRoots(func(h string) string {
			for _, b := range binds {
				if h == b[0] {
					return b[1]
				}
				if rest, ok := strings.CutPrefix(h, b[0]+"/"); ok {
					return b[1] + "/" + rest
				}
			}
			return h
		}, ws, goroot, dirs, []string{"/data"})
		if r.Workspace != "/workspace" || r.GoRoot != "/goroot" || r.GoModCache != "/home/user/go/pkg/mod" {
			t.Fatalf("roots = %+v, want the sandbox's paths", r)
		}
		// The client still sees the module cache at /gomodcache, both
		// ways, and the HOME around it stays hidden.
		const mod = "/home/user/go/pkg/mod/example.com/m@v1.0.0/m.go"
		if c, ok := r.ToClientURI("file://" + mod); !ok || c != "file:///gomodcache/example.com/m@v1.0.0/m.go" {
			t.Errorf("ToClientURI(module file) = %q, %v", c, ok)
		}
		if h, err := r.ToHostURI("file:///gomodcache/example.com/m@v1.0.0/m.go"); err != nil || h != "file://"+mod {
			t.Errorf("ToHostURI(/gomodcache file) = %q, %v", h, err)
		}
		if got := newRewriter(r).ClientText("open " + mod + " in /home/user/.config"); got != "open /gomodcache/example.com/m@v1.0.0/m.go in …/.config" {
			t.Errorf("ClientText = %q", got)
		}
		for _, d := range []string{dirs.Home, "/home/user", ws, goroot, dirs.GoModCache, "/data"} {
			if !slices.Contains(r.Redact, d) {
				t.Errorf("Redact = %q lacks %q", r.Redact, d)
			}
		}
		got, err := r.ToHostURI("file:///workspace/main.go")
		if err != nil || got != "file:///workspace/main.go" {
			t.Errorf("ToHostURI = %q, %v; want gopls's view unchanged", got, err)
		}
		if c, ok := r.ToClientURI("file:///goroot/src/fmt/print.go"); !ok || c != "file:///goroot/src/fmt/print.go" {
			t.Errorf("ToClientURI = %q, %v", c, ok)
		}
		rw := newRewriter(r)
		text := rw.ClientText("see /home/user/.cache/x and " + ws + "/main.go and /workspace/main.go")
		if strings.Contains(text, "/home/user") || strings.Contains(text, "/data") || !strings.Contains(text, "/workspace/main.go") {
			t.Errorf("ClientText = %q", text)
		}
	})
}
