package dap

import (
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

const (
	hostWS     = "/srv/ide/workspaces/abc123"
	hostGoroot = "/usr/local/go"
	hostMod    = "/srv/ide/tenants/t1/go/pkg/mod"
	hostGopath = "/srv/ide/tenants/t1/go"
	hostPriv   = "/tmp/ideserver-dap-42"
	hostData   = "/srv/ide"
)

// testPaths is a session without isolation (process paths are host
// paths): GOPATH redacted as a Handle's Paths does, the session directory
// hostPriv, and the data directory redacted as the Manager's Redact does.
func testPaths(t testing.TB) *sessionPaths {
	t.Helper()
	s, err := newSessionPaths(workspace.PathsConfig{
		Roots: []workspace.Root{
			{Client: workspace.ClientWorkspace, Process: hostWS},
			{Client: workspace.ClientGoRoot, Process: hostGoroot, ReadOnly: true},
			{Client: workspace.ClientGoModCache, Process: hostMod, ReadOnly: true},
		},
		Redact: []string{hostGopath, hostData},
	}, hostPriv, hostPriv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestToProcess: client paths of DAP messages (absolute, relative to
// /workspace, uncleaned) map into the public roots only.
func TestToProcess(t *testing.T) {
	t.Parallel()
	s := testPaths(t)
	for _, tc := range []struct {
		in, proc, root string
	}{
		{"/workspace", hostWS, workspace.ClientWorkspace},
		{"/workspace/main.go", hostWS + "/main.go", workspace.ClientWorkspace},
		{"main.go", hostWS + "/main.go", workspace.ClientWorkspace},
		{".", hostWS, workspace.ClientWorkspace},
		{"a/../b.go", hostWS + "/b.go", workspace.ClientWorkspace},
		{"/workspace/a/./b.go", hostWS + "/a/b.go", workspace.ClientWorkspace},
		{"/goroot/src/fmt/print.go", hostGoroot + "/src/fmt/print.go", workspace.ClientGoRoot},
		{"/gomodcache/x.org/y@v1/z.go", hostMod + "/x.org/y@v1/z.go", workspace.ClientGoModCache},
	} {
		proc, err := s.toProcess(tc.in)
		clean, _ := cleanClientPath(tc.in)
		root, _ := s.paths.Root(clean)
		if err != nil || proc != tc.proc || root.Client != tc.root {
			t.Errorf("toProcess(%q) = %q, %v in %q; want %q in %q", tc.in, proc, err, root.Client, tc.proc, tc.root)
		}
	}
	for _, bad := range []string{
		"", "/", "/etc/passwd", "../x", "a/../../x", "/workspace/../etc", "/workspacex/a",
		"/tmp/debug/__debug_bin", "/gopath/bin", "/ideserver/workspaces/other", hostWS + "/main.go",
		"file:///workspace/main.go", "C:\\x", "\\\\server\\share", "/workspace/a\x00b",
	} {
		if p, err := s.toProcess(bad); !errors.Is(err, workspace.ErrOutsideRoots) {
			t.Errorf("toProcess(%q) = %q, %v; want ErrOutsideRoots", bad, p, err)
		}
	}
}

// TestToClient: host and process paths in text become client paths; the
// session directory is shown as /tmp/debug, the user's directories and
// the data directory (the Manager's Redact) as "…".
func TestToClient(t *testing.T) {
	t.Parallel()
	s := testPaths(t)
	for _, tc := range []struct{ in, want string }{
		{hostWS + "/main.go", "/workspace/main.go"},
		{hostWS, "/workspace"},
		{"Build Error: " + hostWS + "/main.go:3:15: undefined: x", "Build Error: /workspace/main.go:3:15: undefined: x"},
		{"go build -o " + hostPriv + "/__debug_bin -gcflags='all=-N -l' " + hostWS, "go build -o /tmp/debug/__debug_bin -gcflags='all=-N -l' /workspace"},
		{hostGoroot + "/src/runtime/proc.go", "/goroot/src/runtime/proc.go"},
		{hostMod + "/golang.org/x/text@v0.1.0/a.go", "/gomodcache/golang.org/x/text@v0.1.0/a.go"},
		{hostGopath + "/bin/x", "…/bin/x"},
		{hostData + "/workspaces/other/x", "…/workspaces/other/x"},
		{hostWS + "x/main.go", "…/workspaces/abc123x/main.go"}, // another directory: only the data dir is hidden
		{"/usr/local/gopher", "/usr/local/gopher"},             // not at a boundary
		{"(" + hostWS + ")", "(/workspace)"},
		{"no paths here", "no paths here"},
		{"file://" + hostWS + "/main.go", "file:///workspace/main.go"}, // a file URI's path starts after "//"
		{"see <file://" + hostData + "/x>", "see <file://…/x>"},
		{"/x" + hostWS, "/x…/workspaces/abc123"}, // inside another path: not a root, but the data dir is hidden anywhere
	} {
		if got := s.paths.ReplaceInText(tc.in); got != tc.want {
			t.Errorf("ReplaceInText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMessageToClient(t *testing.T) {
	t.Parallel()
	s := testPaths(t)
	in := `{"seq":9,"type":"response","command":"stackTrace","success":true,"body":{"stackFrames":[` +
		`{"id":1000,"name":"main.main","source":{"name":"main.go","path":"` + hostWS + `/main.go"},"line":7},` +
		`{"id":1001,"name":"runtime.main","source":{"path":"` + hostGoroot + `/src/runtime/proc.go"},"line":283},` +
		`{"id":1002,"name":"libc","source":{"path":"/lib/x86_64-linux-gnu/libc.so.6"}},` +
		`{"id":1003,"name":"bin","source":{"path":"` + hostPriv + `/__debug_bin"}}],"totalFrames":4,"big":12345678901234567890}}`
	out, err := s.messageToClient([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{`"path":"/workspace/main.go"`, `"path":"/goroot/src/runtime/proc.go"`, `"path":""`, `"path":"/tmp/debug/__debug_bin"`, `"big":12345678901234567890`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
	if strings.Contains(got, "/srv/") || strings.Contains(got, hostGoroot) || strings.Contains(got, "libc.so") || strings.Contains(got, hostPriv) {
		t.Errorf("host path left in %s", got)
	}
	// DAP-08: program output with HTML and escape sequences stays text:
	// JSON-escaped on the wire, never a raw ESC or '<'.
	out, err = s.messageToClient([]byte(`{"type":"event","event":"output","body":{"category":"stdout","output":"<script>alert(1)</script>\u001b]52;c;eA==\u0007\u001b[31m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(out), "<>\x1b\x07") {
		t.Errorf("raw markup or control bytes on the wire: %q", out)
	}
}

// TestRewriteToProcess: a Source's path must map (else the request is
// refused); other strings map when they are clean client paths in a root.
func TestRewriteToProcess(t *testing.T) {
	t.Parallel()
	s := testPaths(t)
	var v any
	_ = json.Unmarshal([]byte(`{"source":{"path":"main.go","name":"/workspace/x"},"sources":[{"path":"/goroot/src/fmt/print.go"}],"expression":"/workspace/a","other":"/workspace/a/../b","lines":[1]}`), &v)
	out, err := s.rewriteToProcess(v, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"expression":"` + hostWS + `/a","lines":[1],"other":"/workspace/a/../b","source":{"name":"` + hostWS + `/x","path":"` + hostWS + `/main.go"},"sources":[{"path":"` + hostGoroot + `/src/fmt/print.go"}]}`
	if got := jsonString(out); got != want {
		t.Errorf("rewriteToProcess = %s, want %s", got, want)
	}
	for _, bad := range []string{`{"source":{"path":"/etc/passwd"}}`, `{"sources":[{"path":"../x"}]}`, `{"source":{"path":1}}`, `{"breakpoints":[{"source":{"path":"/tmp/debug/x"}}]}`} {
		_ = json.Unmarshal([]byte(bad), &v)
		if _, err := s.rewriteToProcess(v, false); !errors.Is(err, workspace.ErrOutsideRoots) {
			t.Errorf("rewriteToProcess(%s): %v, want ErrOutsideRoots", bad, err)
		}
	}
}

// TestSessionPathsIsolated: under bubblewrap the Handle's Paths map the
// client roots to the sandbox view (the host forms as aliases); the
// session adds its directory by both names. dlv's paths, and host paths
// that still turn up, become client paths; launch paths are mapped to the
// view.
func TestSessionPathsIsolated(t *testing.T) {
	t.Parallel()
	s, err := newSessionPaths(workspace.PathsConfig{
		Roots: []workspace.Root{
			{Client: workspace.ClientWorkspace, Process: "/workspace"},
			{Client: workspace.ClientGoRoot, Process: "/goroot", ReadOnly: true},
		},
		Aliases: []workspace.Alias{{Dir: "/srv/ws/ws1", Client: workspace.ClientWorkspace}, {Dir: "/usr/local/go", Client: workspace.ClientGoRoot}},
	}, "/srv/tmp/dap-1", sessionTarget, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.toProcess("/workspace/main.go"); err != nil || p != "/workspace/main.go" {
		t.Errorf("toProcess = %q, %v", p, err)
	}
	if p, err := s.toProcess("/goroot/src/fmt"); err != nil || p != "/goroot/src/fmt" {
		t.Errorf("toProcess = %q, %v", p, err)
	}
	got := s.paths.ReplaceInText("/goroot/src/fmt/print.go /srv/ws/ws1/a.go " + sessionTarget + "/__debug_bin /srv/tmp/dap-1/dlv.sock /usr/local/go/x /srv/ws/ws10 /elsewhere/not/in/a/bind")
	if want := "/goroot/src/fmt/print.go /workspace/a.go /tmp/debug/__debug_bin /tmp/debug/dlv.sock /goroot/x /srv/ws/ws10 /elsewhere/not/in/a/bind"; got != want {
		t.Errorf("ReplaceInText = %q, want %q", got, want)
	}
	env := launchEnv{workspaceReal: "/srv/ws/ws1", workspaceProc: "/workspace"}
	for in, want := range map[string]string{
		"/srv/ws/ws1":       "/workspace",
		"/srv/ws/ws1/cmd/x": "/workspace/cmd/x",
		"/srv/ws/ws10":      "", // a sibling is not the workspace
		"/srv/ws":           "",
	} {
		if got := env.process(in); got != want {
			t.Errorf("process(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSessionPathsResolved: a host directory reached through the
// server's own symlink is also known by its resolved path.
func TestSessionPathsResolved(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	realTmp, ok := serverRealPath(tmp)
	if !ok {
		t.Skip("the temporary directory cannot be resolved")
	}
	for _, d := range []string{"real/ws", "real/home"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(tmp, "real"), filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}
	ws, home := filepath.Join(tmp, "link", "ws"), filepath.Join(tmp, "link", "home")
	s, err := newSessionPaths(workspace.PathsConfig{Roots: []workspace.Root{{Client: workspace.ClientWorkspace, Process: ws}}, Redact: []string{home}},
		filepath.Join(tmp, "priv"), filepath.Join(tmp, "priv"),
		[]workspace.Alias{{Dir: ws, Client: workspace.ClientWorkspace}})
	if err != nil {
		t.Fatal(err)
	}
	realWS, realHome := filepath.Join(realTmp, "real", "ws"), filepath.Join(realTmp, "real", "home")
	in := ws + "/a.go " + realWS + "/b.go " + home + "/x " + realHome + "/y"
	if got, want := s.paths.ReplaceInText(in), "/workspace/a.go /workspace/b.go …/x …/y"; got != want {
		t.Errorf("ReplaceInText(%q) = %q, want %q", in, got, want)
	}
}

// FuzzSessionPaths: mapping a host path under a root to the client and
// back is the identity; the client form of any string holds no host root
// at a path boundary; toProcess never yields a path outside the public
// roots.
func FuzzSessionPaths(f *testing.F) {
	for _, s := range []string{"main.go", "a/b/c.go", "..", "../x", "a/../../x", ".", "x\x00y", "/etc/passwd",
		hostWS + "/main.go", "Error at " + hostWS + "/a.go:1", hostData + "/x", "/workspace/../../x", "/goroot/../workspace"} {
		f.Add(s)
	}
	m := testPaths(f)
	f.Fuzz(func(t *testing.T, s string) {
		// Round trip for local relative paths a client can name.
		if filepath.IsLocal(s) && !strings.ContainsAny(s, "\x00\\") && !containsHostRoot("/"+s) {
			rel := path.Clean(s)
			if _, err := workspace.CleanPath(rel); err == nil {
				host := filepath.Join(hostWS, rel)
				client := m.paths.ReplaceInText(host)
				if want := path.Join("/workspace", rel); client != want {
					t.Fatalf("ReplaceInText(%q) = %q, want %q", host, client, want)
				}
				back, err := m.toProcess(client)
				if err != nil || back != host {
					t.Fatalf("toProcess(%q) = %q, %v; want %q", client, back, err, host)
				}
			}
		}
		// No host root survives at a boundary.
		out := m.paths.ReplaceInText(s)
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
					t.Fatalf("ReplaceInText(%q) = %q keeps host root %q", s, out, h)
				}
				i += k + 1
			}
		}
		// toProcess stays inside a public root.
		if proc, err := m.toProcess(s); err == nil {
			ok := false
			for _, r := range []string{hostWS, hostGoroot, hostMod} {
				if rel, err := filepath.Rel(r, proc); err == nil && (rel == "." || filepath.IsLocal(rel)) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("toProcess(%q) = %q, outside the roots", s, proc)
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
