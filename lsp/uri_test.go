package lsp_test

import (
	"bufio"
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/lsp"
	"github.com/ideserver/ideserver/workspace"
)

var testRoots = lsp.Roots{
	Workspace:  "/srv/ide data/workspaces/abc",
	GoRoot:     "/usr/local/go",
	GoModCache: "/srv/ide data/tenants/t1/gopath/pkg/mod",
	Redact:     []string{"/srv/ide data"},
}

const dataDir = "/srv/ide data"

func TestToHostURI(t *testing.T) {
	t.Parallel()
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
			got, err := testRoots.ToHostURI(tt.in)
			if tt.want == "" {
				if !errors.Is(err, lsp.ErrOutsideRoots) {
					t.Errorf("ToHostURI(%q) = %q, %v; want ErrOutsideRoots", tt.in, got, err)
				}
				if err != nil && strings.Contains(err.Error(), dataDir) {
					t.Errorf("error names a host path: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ToHostURI(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestClientText(t *testing.T) {
	t.Parallel()
	rw := lsp.NewRewriter(testRoots)
	tests := []struct{ in, want string }{
		{"file:///srv/ide%20data/workspaces/abc/main.go", "file:///workspace/main.go"},
		{"/srv/ide data/workspaces/abc/main.go:3:1: undefined: x", "/workspace/main.go:3:1: undefined: x"},
		{"see /usr/local/go/src/fmt/print.go", "see /goroot/src/fmt/print.go"},
		{"mod /srv/ide data/tenants/t1/gopath/pkg/mod/x@v1/a.go", "mod /gomodcache/x@v1/a.go"},
		{"cache /srv/ide data/tenants/t1/cache/x", "cache …/tenants/t1/cache/x"},
		{"no paths here", "no paths here"},
	}
	for _, tt := range tests {
		if got := rw.ClientText(tt.in); got != tt.want {
			t.Errorf("ClientText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// URI keys (WorkspaceEdit.changes) are renamed in place; a map iteration
// that visits a renamed key again must not take it for a client URI.
func TestRewriterManyURIKeys(t *testing.T) {
	t.Parallel()
	rw := lsp.NewRewriter(testRoots)
	changes := map[string]any{}
	for i := range 100 {
		changes["file:///workspace/f"+strconv.Itoa(i)+".go"] = []any{}
	}
	v, err := rw.ToHost(map[string]any{"changes": changes})
	if err != nil {
		t.Fatalf("ToHost: %v", err)
	}
	got := v.(map[string]any)["changes"].(map[string]any)
	if len(got) != 100 || got["file:///srv/ide%20data/workspaces/abc/f7.go"] == nil {
		t.Fatalf("ToHost changes = %v", got)
	}
	back := rw.ToClient(v).(map[string]any)["changes"].(map[string]any)
	if len(back) != 100 || back["file:///workspace/f7.go"] == nil {
		t.Errorf("ToClient changes = %v", back)
	}
}

// FuzzURIRewrite: for any client path CleanPath accepts, the host URI maps
// back to the client URI (and ToHostURI(ToClientURI(h)) == h); any string
// rewritten for the client never holds the data directory; ToHostURI of any
// string either fails with ErrOutsideRoots or gives a URI inside a root.
func FuzzURIRewrite(f *testing.F) {
	for _, s := range []string{"main.go", "a b/c.go", "cmd/app/main.go", "..", "%2e%2e", "a%00", "é/ü.go", "x?y", "#", "a//b"} {
		f.Add(s)
	}
	f.Add(dataDir + "/workspaces/abc/x.go " + dataDir + "/x")
	rw := lsp.NewRewriter(testRoots)
	f.Fuzz(func(t *testing.T, s string) {
		if out := rw.ClientText(s); strings.Contains(out, dataDir) {
			t.Fatalf("ClientText(%q) = %q holds the data dir", s, out)
		}
		for _, prefix := range []string{"file:///workspace/", "file:///goroot/", "file:///gomodcache/", ""} {
			h, err := testRoots.ToHostURI(prefix + s)
			if err != nil {
				if !errors.Is(err, lsp.ErrOutsideRoots) {
					t.Fatalf("ToHostURI(%q): %v", prefix+s, err)
				}
				continue
			}
			c, ok := testRoots.ToClientURI(h)
			if !ok {
				t.Fatalf("ToClientURI(%q) failed (from %q)", h, prefix+s)
			}
			if !strings.HasPrefix(c, "file:///workspace") && !strings.HasPrefix(c, "file:///goroot") && !strings.HasPrefix(c, "file:///gomodcache") {
				t.Fatalf("client URI %q holds a host path", c)
			}
			h2, err := testRoots.ToHostURI(c)
			if err != nil || h2 != h {
				t.Fatalf("round trip %q -> %q -> %q -> %q, %v", prefix+s, h, c, h2, err)
			}
		}
		rel, err := workspace.CleanPath(s)
		if err != nil || rel == "" {
			return
		}
		h := (&url.URL{Scheme: "file", Path: testRoots.Workspace + "/" + rel}).String()
		if c, ok := testRoots.ToClientURI(h); ok {
			if h2, err := testRoots.ToHostURI(c); err == nil {
				if c2, _ := testRoots.ToClientURI(h2); c2 != c {
					t.Fatalf("client URI not stable: %q -> %q -> %q", c, h2, c2)
				}
			}
		}
	})
}

// FuzzFrame: any bytes give a message or an error, never a panic, and never
// a body over the limit.
func FuzzFrame(f *testing.F) {
	for _, s := range []string{
		"Content-Length: 2\r\n\r\n{}",
		"Content-Length: -1\r\n\r\n",
		"Content-Length: abc\r\n\r\n",
		"Content-Length: 99999999999\r\n\r\n",
		"Content-Type: x\r\n\r\n{}",
		"Content-Length: 10\r\n\r\n{}",
		"\r\nContent-Length: 2\r\n\r\n{}",
		"content-length:2\n\n{}",
		"X: " + strings.Repeat("a", 9000) + "\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for i := 0; i < 4; i++ {
			body, err := bridge.ReadFrame(r, 1024)
			if err != nil {
				return
			}
			if len(body) > 1024 {
				t.Fatalf("body of %d bytes over the limit", len(body))
			}
		}
	})
}

func TestReadFrameLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"ok", "Content-Length: 2\r\n\r\n{}", true},
		{"missing", "Content-Type: x\r\n\r\n{}", false},
		{"negative", "Content-Length: -5\r\n\r\n", false},
		{"not a number", "Content-Length: 1e3\r\n\r\n", false},
		{"huge", "Content-Length: 99999999999\r\n\r\n", false},
		{"long line", "X: " + strings.Repeat("a", 9<<10) + "\r\nContent-Length: 2\r\n\r\n{}", false},
		{"big block", strings.Repeat("X: "+strings.Repeat("a", 1000)+"\r\n", 70) + "Content-Length: 2\r\n\r\n{}", false},
		{"short body", "Content-Length: 10\r\n\r\n{}", false},
		{"no colon", "garbage\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := bridge.ReadFrame(bufio.NewReader(strings.NewReader(tt.in)), 1<<20)
			if tt.ok != (err == nil) {
				t.Errorf("ReadFrame = %q, %v; ok want %v", body, err, tt.ok)
			}
		})
	}
}
