package workspace_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// handleManager returns a Manager over e with a runner (nil: none), the
// data directory redacted and a tools bind.
func handleManager(t *testing.T, e *identityEnv, runner *sandbox.Runner, identity func(string) (int, error)) *workspace.Manager {
	t.Helper()
	tools := filepath.Join(e.data, "tools")
	if err := os.MkdirAll(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := workspace.NewManager(workspace.ManagerOptions{
		Store: e.db, Dir: e.wsDir, TenantsDir: e.tenantsDir, Identity: identity,
		Go:        workspace.GoEnv{Root: "/usr/local/go"},
		Runner:    runner,
		ToolBinds: []sandbox.Bind{{Host: tools, Target: "/opt/ideserver/bin", ReadOnly: true}},
		Redact:    []string{e.data},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// TestOpenChecksOwnership: Open is the one ownership check. Another
// tenant's workspace (AUTH-01), another user's of the same tenant
// (SBX-05), a missing one and a record without a directory are all
// ErrNotFound, with nothing prepared for the caller; a suspended one is
// resumed, as using it does.
func TestOpenChecksOwnership(t *testing.T) {
	e := newIdentityEnv(t)
	m := handleManager(t, e, nil, nil)
	ctx := testContext(t)
	w, err := m.Create(ctx, alice, workspace.CreateOptions{Files: map[string]string{"a.txt": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		o           workspace.Owner
		workspaceID string
	}{
		{"other tenant", bob, w.ID},
		{"other user of the tenant", carol, w.ID},
		{"missing", alice, "nosuchworkspaceaaaaaaaaaaa"},
		{"empty id", alice, ""},
	} {
		h, err := m.Open(tc.o, tc.workspaceID)
		if !errors.Is(err, workspace.ErrNotFound) || h != nil {
			t.Errorf("%s: Open = %v, %v; want ErrNotFound", tc.name, h, err)
		}
		if err != nil && strings.Contains(err.Error(), e.data) {
			t.Errorf("%s: the error names a host path: %v", tc.name, err)
		}
	}
	for _, o := range []workspace.Owner{bob, carol} {
		if _, err := os.Stat(filepath.Join(e.tenantsDir, o.Tenant, "users", o.User)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused Open prepared %s's directories: %v", o.Key(), err)
		}
	}

	if _, err := m.Suspend(ctx, alice, w.ID); err != nil {
		t.Fatal(err)
	}
	h, err := m.Open(alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(alice, w.ID); got.State != workspace.StateActive {
		t.Errorf("state after Open = %q, want active", got.State)
	}
	if h.Owner != alice || h.WorkspaceID != w.ID || h.Dir != m.Dir(w.ID) {
		t.Errorf("handle = %+v", h)
	}
	if want := (bridge.Key{Tenant: alice.Tenant, Owner: alice.Key(), WorkspaceID: w.ID}); h.Key() != want {
		t.Errorf("Key = %+v, want %+v", h.Key(), want)
	}
	if fi, err := os.Stat(h.Home.GoModCache); err != nil || !fi.IsDir() {
		t.Errorf("the module cache was not prepared: %v", err)
	}

	if err := os.RemoveAll(m.Dir(w.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(alice, w.ID); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("Open of a record without a directory = %v, want ErrNotFound", err)
	}
}

// TestHandleWithoutIsolation: without isolation process paths are host
// paths, the user's HOME and the data directory are redacted, the
// environment is ProcessEnv's, and Start runs in the workspace as the user.
func TestHandleWithoutIsolation(t *testing.T) {
	e := newIdentityEnv(t)
	runner, err := sandbox.New(sandbox.Options{Instance: "workspace-handle-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Close() })
	m := handleManager(t, e, runner, nil)
	w, err := m.Create(testContext(t), alice, workspace.CreateOptions{Files: map[string]string{"a.txt": "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.Open(alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.Paths.ToProcess("/workspace/a.txt"); err != nil || got != h.Dir+"/a.txt" {
		t.Errorf("ToProcess = %q, %v; want the host path", got, err)
	}
	if got, ok := h.Paths.ToClient(h.Home.GoModCache + "/x.org/m@v1/m.go"); !ok || got != "/gomodcache/x.org/m@v1/m.go" {
		t.Errorf("ToClient(module file) = %q, %v", got, ok)
	}
	text := h.Paths.ReplaceInText(h.Dir + "/a.txt:1: x; HOME=" + h.Home.Home + "/.profile; data " + e.data + "/ideserver.db")
	if strings.Contains(text, e.data) || !strings.HasPrefix(text, "/workspace/a.txt:1: x") {
		t.Errorf("ReplaceInText = %q", text)
	}
	if !h.Paths.ReadOnly("/goroot/src") || !h.Paths.ReadOnly("/gomodcache/x") || h.Paths.ReadOnly("/workspace/a.txt") {
		t.Error("ReadOnly: /goroot and /gomodcache must be read-only, /workspace not")
	}
	if b := h.Binds(); b != nil {
		t.Errorf("Binds without isolation = %v, want none", b)
	}

	env, err := h.Env("EXTRA=1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.ProcessEnv(alice.Key(), "EXTRA=1")
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("Env = %q, want ProcessEnv's %q", env, want)
	}
	var out bytes.Buffer
	p, err := h.Start(testContext(t), sandbox.Cmd{
		Kind: "test", Path: "/bin/sh", Args: []string{"-c", `pwd; cat a.txt; echo; echo "$HOME"`},
		Env: env, Stdout: &out, Stderr: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Code != 0 {
		t.Fatalf("wait = %+v, %v: %s", st, err, out.String())
	}
	p.Close()
	if got, want := out.String(), h.Dir+"\nhello\n"+h.Home.Home+"\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

// TestHandleReadOnlyRoot is SBX-01 for the module cache the server
// serves: a ~/go/pkg/mod, or a ~/go, that the user's processes swapped
// for a link to / or outside HOME never leads the server to a host file.
func TestHandleReadOnlyRoot(t *testing.T) {
	e := newIdentityEnv(t)
	m := handleManager(t, e, nil, nil)
	w, err := m.Create(testContext(t), alice, workspace.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.Open(alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(e.data, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte(outsideSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.Home.GoModCache, "m.go"), []byte("package m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := h.ReadOnlyRoot("gomodcache")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := r.ReadFile("m.go"); err != nil || string(b) != "package m\n" {
		t.Errorf("m.go = %q, %v", b, err)
	}
	r.Close()
	r, err = h.ReadOnlyRoot("goroot")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Stat("src"); err != nil {
		t.Errorf("goroot has no src: %v", err)
	}
	r.Close()
	if _, err := h.ReadOnlyRoot("workspace"); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("ReadOnlyRoot(workspace) = %v, want ErrNotFound", err)
	}

	for _, tc := range []struct{ victim, target string }{
		{h.Home.GoModCache, "/"},
		{h.Home.GoModCache, outside},
		{h.Home.GoPath, "/"},
		{h.Home.GoModCache, "../../../../../outside"},
	} {
		if err := os.RemoveAll(h.Home.GoPath); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(tc.victim), 0o700); err != nil {
			t.Fatal(err)
		}
		symlink(t, tc.target, tc.victim)
		r, err := h.ReadOnlyRoot("gomodcache")
		if err != nil {
			if strings.Contains(err.Error(), e.data) {
				t.Errorf("the error names a host path: %v", err)
			}
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

// TestHandleBubblewrapPaths: under bubblewrap the Paths are the sandbox
// view's (the workspace at /workspace, GOROOT at /goroot, the module cache
// inside HOME at /home/user), the host forms still map to client paths,
// and HOME in either form is redacted (LSP-03).
func TestHandleBubblewrapPaths(t *testing.T) {
	if _, err := os.Stat(isotest.Bwrap); err != nil {
		t.Skip("no bubblewrap")
	}
	e := newIdentityEnv(t)
	runner, err := sandbox.New(sandbox.Options{Instance: "workspace-handle-paths", Isolation: sandbox.IsolationBwrap})
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { runner.Close() })
	m := handleManager(t, e, runner, nil)
	w, err := m.Create(testContext(t), alice, workspace.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.Open(alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	for client, want := range map[string]string{
		"/workspace/main.go":            "/workspace/main.go",
		"/goroot/src/fmt/print.go":      "/goroot/src/fmt/print.go",
		"/gomodcache/x.org/m@v1/m.go":   "/home/user/go/pkg/mod/x.org/m@v1/m.go",
		"/gomodcache":                   "/home/user/go/pkg/mod",
		"/workspace":                    "/workspace",
		"/goroot":                       "/goroot",
		"/gomodcache/x.org/m@v1/a b.go": "/home/user/go/pkg/mod/x.org/m@v1/a b.go",
	} {
		if got, err := h.Paths.ToProcess(client); err != nil || got != want {
			t.Errorf("ToProcess(%q) = %q, %v; want %q", client, got, err, want)
		}
		if back, ok := h.Paths.ToClient(want); !ok || back != client {
			t.Errorf("ToClient(%q) = %q, %v; want %q", want, back, ok, client)
		}
	}
	for in, want := range map[string]string{
		"open /home/user/go/pkg/mod/x.org/m@v1/m.go in /home/user/.config": "open /gomodcache/x.org/m@v1/m.go in …/.config",
		h.Dir + "/main.go:1:1":                    "/workspace/main.go:1:1",
		"file://" + h.Home.GoModCache + "/x/a.go": "file:///gomodcache/x/a.go",
		"cache " + h.Home.GoCache + "/01/x":       "cache …/01/x",
		"home " + h.Home.Home + "/.bashrc":        "home …/.bashrc",
	} {
		if got := h.Paths.ReplaceInText(in); got != want {
			t.Errorf("ReplaceInText(%q) = %q, want %q", in, got, want)
		}
	}
	if p := h.ProcessPath(h.Dir + "/cmd/x"); p != "/workspace/cmd/x" {
		t.Errorf("ProcessPath = %q", p)
	}
	if got := len(h.Binds()); got != 4 {
		t.Errorf("Binds = %v; want the workspace, HOME, GOROOT and the tools", h.Binds())
	}
}

// TestHandleStartBubblewrap: a process started through the handle under
// bubblewrap, as the user's uid, gets the workspace's binds from the
// handle (there is no runner callback): it starts in /workspace, reads the
// workspace's files there and sees its HOME at /home/user, never a host
// path (SBX-07).
func TestHandleStartBubblewrap(t *testing.T) {
	if why := isotest.Unavailable(); why != "" {
		t.Skip(why)
	}
	dir, err := isotest.PublicDir(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	e := newIdentityEnv(t)
	e.data = dir
	e.wsDir, e.tenantsDir = filepath.Join(dir, "workspaces"), filepath.Join(dir, "tenants")
	uid := func(string) (int, error) { return isotest.UID, nil }
	runner, err := sandbox.New(sandbox.Options{
		Instance: "workspace-handle-start", KillGrace: 500 * time.Millisecond,
		Isolation: sandbox.IsolationBwrap, OwnerUID: uid,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Close() })
	m := handleManager(t, e, runner, uid)
	w, err := m.Create(testContext(t), alice, workspace.CreateOptions{Files: map[string]string{"a.txt": "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.Open(alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	env, err := h.Env()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := h.Start(testContext(t), sandbox.Cmd{
		Kind: "test", Path: "/bin/sh", Args: []string{"-c", `pwd; cat a.txt; echo; echo "$HOME $GOMODCACHE"; id -u; ls -d /opt/ideserver/bin /goroot/src`},
		Env: env, Stdout: &out, Stderr: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Code != 0 {
		t.Fatalf("wait = %+v, %v: %s", st, err, out.String())
	}
	p.Close()
	want := "/workspace\nhello\n/home/user /home/user/go/pkg/mod\n" + strconv.Itoa(isotest.UID) + "\n/goroot/src\n/opt/ideserver/bin\n"
	if got := out.String(); got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	if strings.Contains(out.String(), dir) {
		t.Errorf("the process saw a host path: %q", out.String())
	}
}
