package dap_test

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/dap"
)

const (
	hostWS     = "/srv/ide/workspaces/abc123"
	hostGoroot = "/usr/local/go"
	hostMod    = "/srv/ide/tenants/t1/go/pkg/mod"
	hostGopath = "/srv/ide/tenants/t1/go"
	hostPriv   = "/tmp/ideserver-dap-42"
	hostData   = "/srv/ide"
)

func testMap(t testing.TB) *dap.PathMap {
	t.Helper()
	m, err := dap.NewPathMap([]dap.Root{
		{Client: dap.WorkspaceRoot, Host: hostWS},
		{Client: dap.GorootRoot, Host: hostGoroot},
		{Client: dap.GomodcacheRoot, Host: hostMod},
		{Client: "/gopath", Host: hostGopath, Hidden: true},
		{Client: "/tmp/debug", Host: hostPriv, Hidden: true},
		{Client: "/ideserver", Host: hostData, Hidden: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestToHost(t *testing.T) {
	t.Parallel()
	m := testMap(t)
	for _, tc := range []struct {
		in, host, root string
	}{
		{"/workspace", hostWS, dap.WorkspaceRoot},
		{"/workspace/main.go", hostWS + "/main.go", dap.WorkspaceRoot},
		{"main.go", hostWS + "/main.go", dap.WorkspaceRoot},
		{".", hostWS, dap.WorkspaceRoot},
		{"a/../b.go", hostWS + "/b.go", dap.WorkspaceRoot},
		{"/workspace/a/./b.go", hostWS + "/a/b.go", dap.WorkspaceRoot},
		{"/goroot/src/fmt/print.go", hostGoroot + "/src/fmt/print.go", dap.GorootRoot},
		{"/gomodcache/x.org/y@v1/z.go", hostMod + "/x.org/y@v1/z.go", dap.GomodcacheRoot},
	} {
		host, root, err := m.ToHost(tc.in)
		if err != nil || host != tc.host || root != tc.root {
			t.Errorf("ToHost(%q) = %q, %q, %v; want %q, %q", tc.in, host, root, err, tc.host, tc.root)
		}
	}
	for _, bad := range []string{
		"", "/", "/etc/passwd", "../x", "a/../../x", "/workspace/../etc", "/workspacex/a",
		"/tmp/debug/__debug_bin", "/gopath/bin", "/ideserver/workspaces/other", hostWS + "/main.go",
		"file:///workspace/main.go", "C:\\x", "\\\\server\\share", "/workspace/a\x00b",
	} {
		if h, _, err := m.ToHost(bad); !errors.Is(err, dap.ErrOutside) {
			t.Errorf("ToHost(%q) = %q, %v; want ErrOutside", bad, h, err)
		}
	}
}

func TestToClient(t *testing.T) {
	t.Parallel()
	m := testMap(t)
	for _, tc := range []struct{ in, want string }{
		{hostWS + "/main.go", "/workspace/main.go"},
		{hostWS, "/workspace"},
		{"Build Error: " + hostWS + "/main.go:3:15: undefined: x", "Build Error: /workspace/main.go:3:15: undefined: x"},
		{"go build -o " + hostPriv + "/__debug_bin -gcflags='all=-N -l' " + hostWS, "go build -o /tmp/debug/__debug_bin -gcflags='all=-N -l' /workspace"},
		{hostGoroot + "/src/runtime/proc.go", "/goroot/src/runtime/proc.go"},
		{hostMod + "/golang.org/x/text@v0.1.0/a.go", "/gomodcache/golang.org/x/text@v0.1.0/a.go"},
		{hostGopath + "/bin/x", "/gopath/bin/x"},
		{hostData + "/workspaces/other/x", "/ideserver/workspaces/other/x"},
		{hostWS + "x/main.go", "/ideserver/workspaces/abc123x/main.go"}, // another directory: only the data dir is hidden
		{"/usr/local/gopher", "/usr/local/gopher"},                      // not at a boundary
		{"(" + hostWS + ")", "(/workspace)"},
		{"no paths here", "no paths here"},
		{"file://" + hostWS + "/main.go", "file:///workspace/main.go"}, // a file URI's path starts after "//"
		{"see <file://" + hostData + "/x>", "see <file:///ideserver/x>"},
		{"/x" + hostWS, "/x" + hostWS}, // inside another path: not a host root
	} {
		if got := m.ToClient(tc.in); got != tc.want {
			t.Errorf("ToClient(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMessageToClient(t *testing.T) {
	t.Parallel()
	m := testMap(t)
	in := `{"seq":9,"type":"response","command":"stackTrace","success":true,"body":{"stackFrames":[` +
		`{"id":1000,"name":"main.main","source":{"name":"main.go","path":"` + hostWS + `/main.go"},"line":7},` +
		`{"id":1001,"name":"runtime.main","source":{"path":"` + hostGoroot + `/src/runtime/proc.go"},"line":283},` +
		`{"id":1002,"name":"libc","source":{"path":"/lib/x86_64-linux-gnu/libc.so.6"}}],"totalFrames":3,"big":12345678901234567890}}`
	out, err := m.MessageToClient([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{`"path":"/workspace/main.go"`, `"path":"/goroot/src/runtime/proc.go"`, `"path":""`, `"big":12345678901234567890`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "/srv/") || strings.Contains(s, hostGoroot) || strings.Contains(s, "libc.so") {
		t.Errorf("host path left in %s", s)
	}
	// DAP-08: program output with HTML and escape sequences stays text:
	// JSON-escaped on the wire, never a raw ESC or '<'.
	out, err = m.MessageToClient([]byte(`{"type":"event","event":"output","body":{"category":"stdout","output":"<script>alert(1)</script>\u001b]52;c;eA==\u0007\u001b[31m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(out), "<>\x1b\x07") {
		t.Errorf("raw markup or control bytes on the wire: %q", out)
	}
}

// FuzzPathMap: mapping a host path under a root to the client and back is
// the identity; the client form of any string holds no host root at a
// path boundary; ToHost never yields a path outside the public roots.
func FuzzPathMap(f *testing.F) {
	for _, s := range []string{"main.go", "a/b/c.go", "..", "../x", "a/../../x", ".", "x\x00y", "/etc/passwd",
		hostWS + "/main.go", "Error at " + hostWS + "/a.go:1", hostData + "/x", "/workspace/../../x", "/goroot/../workspace"} {
		f.Add(s)
	}
	m := testMap(f)
	f.Fuzz(func(t *testing.T, s string) {
		// Round trip for local relative paths.
		if filepath.IsLocal(s) && !strings.ContainsAny(s, "\x00\\") && !containsHostRoot(s) {
			rel := path.Clean(s)
			host := filepath.Join(hostWS, rel)
			client := m.ToClient(host)
			if want := path.Join("/workspace", rel); client != want {
				t.Fatalf("ToClient(%q) = %q, want %q", host, client, want)
			}
			back, _, err := m.ToHost(client)
			if err != nil || back != host {
				t.Fatalf("ToHost(%q) = %q, %v; want %q", client, back, err, host)
			}
		}
		// No host root survives at a boundary.
		out := m.ToClient(s)
		for _, h := range []string{hostWS, hostGoroot, hostMod, hostPriv, hostData} {
			for i := 0; ; {
				k := strings.Index(out[i:], h)
				if k < 0 {
					break
				}
				start, end := i+k, i+k+len(h)
				if start > 0 && (out[start-1] == '/' || isNameByte(out[start-1])) {
					i += k + 1
					continue
				}
				if end == len(out) || out[end] == '/' || out[end] == ':' || out[end] == ' ' || out[end] == '"' {
					t.Fatalf("ToClient(%q) = %q keeps host root %q", s, out, h)
				}
				i += k + 1
			}
		}
		// ToHost stays inside a public root.
		if host, _, err := m.ToHost(s); err == nil {
			ok := false
			for _, r := range []string{hostWS, hostGoroot, hostMod} {
				if rel, err := filepath.Rel(r, host); err == nil && (rel == "." || filepath.IsLocal(rel)) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("ToHost(%q) = %q, outside the roots", s, host)
			}
		}
	})
}

func containsHostRoot(s string) bool {
	for _, h := range []string{hostWS, hostGoroot, hostMod, hostPriv, hostData, hostGopath} {
		if strings.Contains(s, h) {
			return true
		}
	}
	return false
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '~' || c == '+' || c == '@' || c >= 0x80
}
