package lsp

import (
	"slices"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

// TestToolRoots checks the roots a session builds from the runner's view:
// the identity keeps today's host roots; a bubblewrap-like view gives
// identity-like roots, maps gopls's /workspace URIs back unchanged, and
// still hides the host directories and the tool's HOME.
func TestToolRoots(t *testing.T) {
	t.Parallel()
	dirs := workspace.TenantDirs{
		Home: "/data/tenants/t1/home", GoPath: "/data/tenants/t1/go",
		GoModCache: "/data/tenants/t1/go/pkg/mod", GoCache: "/data/tenants/t1/cache",
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
		view := map[string]string{ws: "/workspace", goroot: "/goroot", dirs.GoModCache: "/gomodcache", dirs.Home: "/home/user"}
		r := toolRoots(func(h string) string {
			if v, ok := view[h]; ok {
				return v
			}
			return h
		}, ws, goroot, dirs, []string{"/data"})
		if r.Workspace != "/workspace" || r.GoRoot != "/goroot" || r.GoModCache != "/gomodcache" {
			t.Fatalf("roots = %+v, want the sandbox's paths", r)
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
		rw := NewRewriter(r)
		text := rw.ClientText("see /home/user/.cache/x and " + ws + "/main.go and /workspace/main.go")
		if strings.Contains(text, "/home/user") || strings.Contains(text, "/data") || !strings.Contains(text, "/workspace/main.go") {
			t.Errorf("ClientText = %q", text)
		}
	})
}
