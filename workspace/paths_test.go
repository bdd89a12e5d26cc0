package workspace_test

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

// The roots of a workspace served without isolation, as the language
// server's tests had them: process paths are host paths, the data
// directory (with a space, which file URIs escape) is redacted.
const (
	lspData = "/srv/ide data"
	lspWS   = lspData + "/workspaces/abc"
	lspMod  = lspData + "/tenants/t1/gopath/pkg/mod"
)

func lspPaths(t testing.TB) *workspace.Paths {
	t.Helper()
	p, err := workspace.NewPaths(workspace.PathsConfig{
		Roots: []workspace.Root{
			{Client: workspace.ClientWorkspace, Process: lspWS},
			{Client: workspace.ClientGoRoot, Process: "/usr/local/go", ReadOnly: true},
			{Client: workspace.ClientGoModCache, Process: lspMod, ReadOnly: true},
		},
		Redact: []string{lspData},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The roots of a debug session as the debugger's tests had them: host
// directories the client may see named (aliases) but never use.
const (
	dapWS     = "/srv/ide/workspaces/abc123"
	dapGoroot = "/usr/local/go"
	dapMod    = "/srv/ide/tenants/t1/go/pkg/mod"
	dapGopath = "/srv/ide/tenants/t1/go"
	dapPriv   = "/tmp/ideserver-dap-42"
	dapData   = "/srv/ide"
)

func dapPaths(t testing.TB) *workspace.Paths {
	t.Helper()
	p, err := workspace.NewPaths(workspace.PathsConfig{
		Roots: []workspace.Root{
			{Client: workspace.ClientWorkspace, Process: dapWS},
			{Client: workspace.ClientGoRoot, Process: dapGoroot, ReadOnly: true},
			{Client: workspace.ClientGoModCache, Process: dapMod, ReadOnly: true},
		},
		Aliases: []workspace.Alias{
			{Dir: dapGopath, Client: "/gopath"},
			{Dir: dapPriv, Client: "/tmp/debug"},
			{Dir: dapData, Client: "/ideserver"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestToProcessURI is LSP-02: document URIs naming host files, other
// hosts, untitled:, "..", percent-encoded dots or NUL are refused, with an
// error that names no host path.
func TestToProcessURI(t *testing.T) {
	t.Parallel()
	p := lspPaths(t)
	tests := []struct {
		name, in, want string
	}{
		{"workspace root", "file:///workspace", "file:///srv/ide%20data/workspaces/abc"},
		{"workspace root slash", "file:///workspace/", "file:///srv/ide%20data/workspaces/abc"},
		{"file", "file:///workspace/main.go", "file:///srv/ide%20data/workspaces/abc/main.go"},
		{"nested", "file:///workspace/cmd/app/main.go", "file:///srv/ide%20data/workspaces/abc/cmd/app/main.go"},
		{"escaped space", "file:///workspace/a%20b.go", "file:///srv/ide%20data/workspaces/abc/a%20b.go"},
		{"goroot", "file:///goroot/src/fmt/print.go", "file:///usr/local/go/src/fmt/print.go"},
		{"gomodcache", "file:///gomodcache/example.com/m@v1.0.0/m.go", "file:///srv/ide%20data/tenants/t1/gopath/pkg/mod/example.com/m@v1.0.0/m.go"},
		{"dotdot", "file:///workspace/../etc/passwd", ""},
		{"encoded dotdot", "file:///workspace/%2e%2e/etc/passwd", ""},
		{"encoded slash dotdot", "file:///workspace/a%2F..%2F..%2Fetc", ""},
		{"nul", "file:///workspace/a%00.go", ""},
		{"raw nul", "file:///workspace/a\x00.go", ""},
		{"host", "file://host/workspace/main.go", ""},
		{"localhost", "file://localhost/workspace/main.go", ""},
		{"untitled", "untitled:Untitled-1", ""},
		{"other scheme", "https://example.com/workspace/x", ""},
		{"outside", "file:///etc/passwd", ""},
		{"host path", "file:///srv/ide%20data/workspaces/abc/main.go", ""},
		{"prefix lookalike", "file:///workspacex/main.go", ""},
		{"query", "file:///workspace/main.go?x", ""},
		{"fragment", "file:///workspace/main.go#L1", ""},
		{"empty segment", "file:///workspace/a//b.go", ""},
		{"dot segment", "file:///workspace/./b.go", ""},
		{"backslash", `file:///workspace/a\..\..\b`, ""},
		{"relative", "file:workspace/main.go", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.ToProcessURI(tt.in)
			if tt.want == "" {
				if !errors.Is(err, workspace.ErrOutsideRoots) {
					t.Errorf("ToProcessURI(%q) = %q, %v; want ErrOutsideRoots", tt.in, got, err)
				}
				if err != nil && strings.Contains(err.Error(), lspData) {
					t.Errorf("error names a host path: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ToProcessURI(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestToProcess: client paths (the debugger's and the file endpoints'
// form) map below their root; anything else, including the aliases a
// client may see but never use, is refused (DAP-01, PATH-01, PATH-02).
func TestToProcess(t *testing.T) {
	t.Parallel()
	p := dapPaths(t)
	for _, tc := range []struct{ in, want string }{
		{"/workspace", dapWS},
		{"/workspace/", dapWS},
		{"/workspace/main.go", dapWS + "/main.go"},
		{"/workspace/a b/é.go", dapWS + "/a b/é.go"},
		{"/goroot/src/fmt/print.go", dapGoroot + "/src/fmt/print.go"},
		{"/gomodcache/x.org/y@v1/z.go", dapMod + "/x.org/y@v1/z.go"},
		{"/workspace/%2e%2e", dapWS + "/%2e%2e"}, // a file of that name: paths are not URIs
	} {
		if got, err := p.ToProcess(tc.in); err != nil || got != tc.want {
			t.Errorf("ToProcess(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "/", ".", "main.go", "/etc/passwd", "../x", "a/../../x", "/workspace/../etc", "/workspace/a/../b",
		"/workspace/./a", "/workspace//a", "/workspace/a/", "/workspacex/a", "/goroot/../workspace",
		"/tmp/debug/__debug_bin", "/gopath/bin", "/ideserver/workspaces/other", dapWS + "/main.go",
		"file:///workspace/main.go", "C:\\x", "\\\\server\\share", "/workspace/a\x00b", "/workspace/a\\b",
		"/workspace/a\nb", "/workspace/\u202egp.go",
	} {
		got, err := p.ToProcess(bad)
		if !errors.Is(err, workspace.ErrOutsideRoots) {
			t.Errorf("ToProcess(%q) = %q, %v; want ErrOutsideRoots", bad, got, err)
			continue
		}
		if strings.Contains(err.Error(), dapData) && !strings.Contains(bad, dapData) {
			t.Errorf("ToProcess(%q): the error names a host path: %v", bad, err)
		}
	}
}

// TestRootNotAvailable: a root without a directory (no GOROOT configured)
// is refused, not taken for outside.
func TestRootNotAvailable(t *testing.T) {
	t.Parallel()
	p, err := workspace.NewPaths(workspace.PathsConfig{Roots: []workspace.Root{
		{Client: workspace.ClientWorkspace, Process: "/w"},
		{Client: workspace.ClientGoRoot, ReadOnly: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.ToProcess("/goroot/src/fmt/print.go"); !errors.Is(err, workspace.ErrOutsideRoots) || !strings.Contains(err.Error(), "not available") {
		t.Errorf("ToProcess(/goroot/...) = %q, %v", got, err)
	}
	if !p.ReadOnly("/goroot/x") {
		t.Error("ReadOnly(/goroot/x) = false")
	}
}

func TestNewPathsRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []workspace.PathsConfig{
		{Roots: []workspace.Root{{Client: "/", Process: "/w"}}},
		{Roots: []workspace.Root{{Client: "workspace", Process: "/w"}}},
		{Roots: []workspace.Root{{Client: "/workspace/", Process: "/w"}}},
		{Roots: []workspace.Root{{Client: "/workspace", Process: "/"}}},
		{Roots: []workspace.Root{{Client: "/workspace", Process: "w"}}},
		{Aliases: []workspace.Alias{{Dir: "/", Client: "/x"}}},
		{Redact: []string{"/"}},
		{Redact: []string{"/a/../b"}},
	} {
		if _, err := workspace.NewPaths(c); err == nil {
			t.Errorf("NewPaths(%+v) succeeded", c)
		}
	}
}

// TestToClient: process paths below a root map to client paths (the
// longest root wins), anything else does not; ToProcess undoes it.
func TestToClient(t *testing.T) {
	t.Parallel()
	p := lspPaths(t)
	for _, tc := range []struct{ in, want string }{
		{lspWS, "/workspace"},
		{lspWS + "/main.go", "/workspace/main.go"},
		{lspMod + "/example.com/m@v1.0.0/m.go", "/gomodcache/example.com/m@v1.0.0/m.go"},
		{"/usr/local/go/src/fmt/print.go", "/goroot/src/fmt/print.go"},
	} {
		got, ok := p.ToClient(tc.in)
		if !ok || got != tc.want {
			t.Errorf("ToClient(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			continue
		}
		if back, err := p.ToProcess(got); err != nil || back != tc.in {
			t.Errorf("ToProcess(%q) = %q, %v; want %q", got, back, err, tc.in)
		}
	}
	for _, in := range []string{lspWS + "x/main.go", "/usr/local/gopher", lspData + "/tenants/t1/cache", "/etc/passwd", "", "main.go"} {
		if got, ok := p.ToClient(in); ok {
			t.Errorf("ToClient(%q) = %q, want not ok", in, got)
		}
	}
	if c, ok := p.ToClientURI("file:///srv/ide%20data/workspaces/abc/a%20b.go"); !ok || c != "file:///workspace/a%20b.go" {
		t.Errorf("ToClientURI = %q, %v", c, ok)
	}
	for _, in := range []string{"file://host" + lspWS + "/a.go", "file://" + lspWS + "/a.go?x", "untitled:x", "file:///etc/passwd"} {
		if c, ok := p.ToClientURI(in); ok {
			t.Errorf("ToClientURI(%q) = %q, want not ok", in, c)
		}
	}
}

// TestReplaceInTextRedacts is LSP-03 (replies show client paths, never a
// host path): roots become client paths, in plain text and in file URIs;
// redacted directories become "…".
func TestReplaceInTextRedacts(t *testing.T) {
	t.Parallel()
	p := lspPaths(t)
	tests := []struct{ in, want string }{
		{"file:///srv/ide%20data/workspaces/abc/main.go", "file:///workspace/main.go"},
		{"/srv/ide data/workspaces/abc/main.go:3:1: undefined: x", "/workspace/main.go:3:1: undefined: x"},
		{"see /usr/local/go/src/fmt/print.go", "see /goroot/src/fmt/print.go"},
		{"mod /srv/ide data/tenants/t1/gopath/pkg/mod/x@v1/a.go", "mod /gomodcache/x@v1/a.go"},
		{"cache /srv/ide data/tenants/t1/cache/x", "cache …/tenants/t1/cache/x"},
		{"inside x/srv/ide data/y", "inside x…/y"},
		{lspWS + "x/main.go", "…/workspaces/abcx/main.go"},
		{lspWS + "/srv/ide data/x", "/workspace…/x"}, // redacted inside a mapped path too
		{"no paths here", "no paths here"},
	}
	for _, tt := range tests {
		if got := p.ReplaceInText(tt.in); got != tt.want {
			t.Errorf("ReplaceInText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestReplaceInTextBoundaries: roots and aliases are replaced only as
// whole paths (the debugger's cases), the rest of a path is kept.
func TestReplaceInTextBoundaries(t *testing.T) {
	t.Parallel()
	p := dapPaths(t)
	for _, tc := range []struct{ in, want string }{
		{dapWS + "/main.go", "/workspace/main.go"},
		{dapWS, "/workspace"},
		{"Build Error: " + dapWS + "/main.go:3:15: undefined: x", "Build Error: /workspace/main.go:3:15: undefined: x"},
		{"go build -o " + dapPriv + "/__debug_bin -gcflags='all=-N -l' " + dapWS, "go build -o /tmp/debug/__debug_bin -gcflags='all=-N -l' /workspace"},
		{dapGoroot + "/src/runtime/proc.go", "/goroot/src/runtime/proc.go"},
		{dapMod + "/golang.org/x/text@v0.1.0/a.go", "/gomodcache/golang.org/x/text@v0.1.0/a.go"},
		{dapGopath + "/bin/x", "/gopath/bin/x"},
		{dapData + "/workspaces/other/x", "/ideserver/workspaces/other/x"},
		{dapWS + "x/main.go", "/ideserver/workspaces/abc123x/main.go"}, // another directory: only the data dir is an alias
		{"/usr/local/gopher", "/usr/local/gopher"},                     // not at a boundary
		{"(" + dapWS + ")", "(/workspace)"},
		{"no paths here", "no paths here"},
		{"file://" + dapWS + "/main.go", "file:///workspace/main.go"}, // a file URI's path starts after "//"
		{"see <file://" + dapData + "/x>", "see <file:///ideserver/x>"},
		{"/x" + dapWS, "/x" + dapWS},                                      // inside another path: not a host root
		{dapWS + "/vendor" + dapGoroot, "/workspace/vendor/usr/local/go"}, // a root inside a path is none
	} {
		if got := p.ReplaceInText(tc.in); got != tc.want {
			t.Errorf("ReplaceInText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestReadOnly: /goroot and /gomodcache are read-only, /workspace is not,
// whatever the spelling.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	p := lspPaths(t)
	for in, want := range map[string]bool{
		"/goroot": true, "/goroot/src/fmt/print.go": true, "/gomodcache/x@v1/a.go": true,
		"/workspace/main.go": false, "/workspace/../goroot/x": true, "/goroot/../workspace/x": false,
		"/gorootx/a": false, "goroot/a": false, "": false,
	} {
		if got := p.ReadOnly(in); got != want {
			t.Errorf("ReadOnly(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzPaths: for any string, ToProcess either fails with ErrOutsideRoots
// or gives a path inside a root that ToClient maps back; a canonical path
// below the workspace maps there and back; text rewritten for the client
// never holds the redacted data directory, nor a root at a path boundary.
func FuzzPaths(f *testing.F) {
	for _, s := range []string{"main.go", "a b/c.go", "cmd/app/main.go", "..", "%2e%2e", "a%00", "é/ü.go", "x?y", "#", "a//b",
		"../x", "a/../../x", ".", "x\x00y", "/etc/passwd", "/workspace/../../x", "/goroot/../workspace"} {
		f.Add(s)
	}
	f.Add(lspWS + "/x.go " + lspData + "/x")
	f.Add("Error at " + lspWS + "/a.go:1")
	p := lspPaths(f)
	f.Fuzz(func(t *testing.T, s string) {
		out := p.ReplaceInText(s)
		if strings.Contains(out, lspData) || strings.Contains(out, url.PathEscape(lspData)) {
			t.Fatalf("ReplaceInText(%q) = %q holds the data dir", s, out)
		}
		for _, prefix := range []string{"/workspace/", "/goroot/", "/gomodcache/", ""} {
			proc, err := p.ToProcess(prefix + s)
			if err != nil {
				if !errors.Is(err, workspace.ErrOutsideRoots) {
					t.Fatalf("ToProcess(%q): %v", prefix+s, err)
				}
				continue
			}
			c, ok := p.ToClient(proc)
			if !ok {
				t.Fatalf("ToClient(%q) failed (from %q)", proc, prefix+s)
			}
			if back, err := p.ToProcess(c); err != nil || back != proc {
				t.Fatalf("round trip %q -> %q -> %q -> %q, %v", prefix+s, proc, c, back, err)
			}
		}
		for _, prefix := range []string{"file:///workspace/", "file:///goroot/", ""} {
			h, err := p.ToProcessURI(prefix + s)
			if err != nil {
				if !errors.Is(err, workspace.ErrOutsideRoots) {
					t.Fatalf("ToProcessURI(%q): %v", prefix+s, err)
				}
				continue
			}
			c, ok := p.ToClientURI(h)
			if !ok || !strings.HasPrefix(c, "file:///workspace") && !strings.HasPrefix(c, "file:///goroot") && !strings.HasPrefix(c, "file:///gomodcache") {
				t.Fatalf("ToClientURI(%q) = %q, %v (from %q)", h, c, ok, prefix+s)
			}
			if h2, err := p.ToProcessURI(c); err != nil || h2 != h {
				t.Fatalf("round trip %q -> %q -> %q -> %q, %v", prefix+s, h, c, h2, err)
			}
		}
		rel, err := workspace.CleanPath(s)
		if err != nil || rel == "" {
			return
		}
		host := path.Join(lspWS, rel)
		if c := p.ReplaceInText(host); c != path.Join("/workspace", rel) && !strings.Contains("/"+rel, "/srv/ide") {
			t.Fatalf("ReplaceInText(%q) = %q", host, c)
		}
	})
}
