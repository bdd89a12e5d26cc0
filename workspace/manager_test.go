package workspace_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

func newManager(t *testing.T, max int) (*workspace.Manager, *store.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(store.Options{Path: filepath.Join(dir, "ideserver.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range []workspace.Owner{alice, bob} {
		if _, err := db.EnsureUser(u.Tenant, u.User); err != nil {
			t.Fatal(err)
		}
	}
	wsDir := filepath.Join(dir, "workspaces")
	m, err := workspace.NewManager(workspace.ManagerOptions{Store: db, Dir: wsDir, MaxPerUser: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, db, wsDir
}

var (
	alice = workspace.Owner{Tenant: "acme", User: "alice"}
	bob   = workspace.Owner{Tenant: "globex", User: "bob"}
)

func TestCreateHelloTemplateBuilds(t *testing.T) {
	m, _, _ := newManager(t, 0)
	ctx := context.Background()
	w, err := m.Create(ctx, alice, workspace.CreateOptions{Name: "demo", Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if w.State != workspace.StateActive || w.Name != "demo" || len(w.ID) < 20 {
		t.Fatalf("created %+v", w)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH")
	}
	cmd := exec.Command("go", "vet", ".")
	cmd.Dir = m.Dir(w.ID)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hello template does not build: %v\n%s", err, out)
	}
}

func TestCreateRefusesBadInputAndLeavesNothing(t *testing.T) {
	m, db, wsDir := newManager(t, 0)
	ctx := context.Background()
	cases := []struct {
		name string
		opts workspace.CreateOptions
		want error
	}{
		{"escaping path", workspace.CreateOptions{Files: map[string]string{"../x.go": "x"}}, workspace.ErrInvalidPath},
		{"absolute path", workspace.CreateOptions{Files: map[string]string{"/etc/x": "x"}}, workspace.ErrInvalidPath},
		{"root", workspace.CreateOptions{Files: map[string]string{"": "x"}}, workspace.ErrInvalidPath},
		{"unknown template", workspace.CreateOptions{Template: "nope"}, workspace.ErrTemplate},
		{"control in name", workspace.CreateOptions{Name: "a\nb"}, workspace.ErrInvalidName},
		{"long name", workspace.CreateOptions{Name: strings.Repeat("x", 101)}, workspace.ErrInvalidName},
		{"file and dir clash", workspace.CreateOptions{Files: map[string]string{"a": "x", "a/b": "y"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Create(ctx, alice, tc.opts)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Create = %v, want %v", err, tc.want)
			}
		})
	}
	list, err := db.ListWorkspaces(alice.Tenant, alice.User)
	if err != nil || len(list) != 0 {
		t.Fatalf("records left: %v %v", list, err)
	}
	entries, _ := os.ReadDir(wsDir)
	if len(entries) != 0 {
		t.Fatalf("directories left: %v", entries)
	}
}

func TestOwnershipIsolation(t *testing.T) {
	m, _, _ := newManager(t, 0)
	ctx := context.Background()
	w, err := m.Create(ctx, alice, workspace.CreateOptions{Files: map[string]string{"a.txt": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func() error{
		"get":     func() error { _, err := m.Get(bob, w.ID); return err },
		"rename":  func() error { _, err := m.Rename(bob, w.ID, "x"); return err },
		"suspend": func() error { _, err := m.Suspend(ctx, bob, w.ID); return err },
		"resume":  func() error { _, err := m.Resume(bob, w.ID); return err },
		"delete":  func() error { return m.Delete(ctx, bob, w.ID) },
		"files": func() error {
			return m.WithFiles(bob, w.ID, func(*workspace.Files) error { return nil })
		},
		"state":    func() error { _, err := m.State(bob, w.ID); return err },
		"setstate": func() error { return m.SetState(bob, w.ID, []byte(`{}`)) },
	}
	for name, f := range checks {
		if err := f(); !errors.Is(err, workspace.ErrNotFound) {
			t.Errorf("%s by another tenant = %v, want ErrNotFound", name, err)
		}
	}
	if list, _ := m.List(bob); len(list) != 0 {
		t.Errorf("bob lists %v", list)
	}
	got, err := m.Get(alice, w.ID)
	if err != nil || got.Name != "untitled" || got.State != workspace.StateActive {
		t.Fatalf("alice's workspace changed: %+v %v", got, err)
	}
	if st, _ := m.State(alice, w.ID); st != nil {
		t.Fatalf("state was set: %s", st)
	}
}

func TestSuspendResumeDelete(t *testing.T) {
	m, db, _ := newManager(t, 0)
	ctx := context.Background()
	var stops atomic.Int32
	m.OnStop(func(ctx context.Context, id string) error { stops.Add(1); return nil })
	w, err := m.Create(ctx, alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if w, err = m.Suspend(ctx, alice, w.ID); err != nil || w.State != workspace.StateSuspended {
		t.Fatalf("suspend: %+v %v", w, err)
	}
	if stops.Load() != 1 {
		t.Fatalf("stop hooks ran %d times, want 1", stops.Load())
	}
	// Using files resumes.
	err = m.WithFiles(alice, w.ID, func(f *workspace.Files) error {
		_, _, err := f.ReadFile("main.go")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if w, _ = m.Get(alice, w.ID); w.State != workspace.StateActive {
		t.Fatalf("not resumed by use: %s", w.State)
	}
	if err := m.SetState(alice, w.ID, []byte(`{"tabs":["main.go"]}`)); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, alice, w.ID); err != nil {
		t.Fatal(err)
	}
	if stops.Load() != 2 {
		t.Fatalf("stop hooks ran %d times, want 2", stops.Load())
	}
	if _, err := os.Stat(m.Dir(w.ID)); !os.IsNotExist(err) {
		t.Fatalf("directory survives delete: %v", err)
	}
	if _, err := db.GetWorkspace(w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record survives delete: %v", err)
	}
	if _, err := db.GetWorkspaceState(w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("state survives delete: %v", err)
	}
}

func TestQuota(t *testing.T) {
	m, _, _ := newManager(t, 2)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := m.Create(ctx, alice, workspace.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Create(ctx, alice, workspace.CreateOptions{}); !errors.Is(err, workspace.ErrQuota) {
		t.Fatalf("third workspace: %v, want ErrQuota", err)
	}
	if _, err := m.Create(ctx, bob, workspace.CreateOptions{}); err != nil {
		t.Fatalf("another user is not limited by alice's quota: %v", err)
	}
}

func TestRemoveOrphanDirs(t *testing.T) {
	m, _, wsDir := newManager(t, 0)
	w, err := m.Create(context.Background(), alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(wsDir, "orphan", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	n, err := m.RemoveOrphanDirs()
	if err != nil || n != 1 {
		t.Fatalf("RemoveOrphanDirs = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(m.Dir(w.ID)); err != nil {
		t.Fatalf("a live workspace's directory was removed: %v", err)
	}
}

func TestProcessEnv(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(store.Options{Path: filepath.Join(dir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := workspace.NewManager(workspace.ManagerOptions{
		Store: db, Dir: filepath.Join(dir, "ws"), TenantsDir: filepath.Join(dir, "tenants"),
		Go: workspace.GoEnv{Root: "/usr/local/go", Proxy: "off", Flags: "-mod=mod"},
	})
	if err != nil {
		t.Fatal(err)
	}
	env, err := m.ProcessEnv(alice.Key(), "TERM=xterm-256color", "LANG=en_US.UTF-8")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("duplicate key %s", k)
		}
		got[k] = v
	}
	home := filepath.Join(dir, "tenants", "acme", "users", "alice", "home")
	want := map[string]string{
		"HOME":        home,
		"USER":        "alice",
		"GOPATH":      filepath.Join(home, "go"),
		"GOMODCACHE":  filepath.Join(home, "go", "pkg", "mod"),
		"GOCACHE":     filepath.Join(home, ".cache", "go-build"),
		"GOPROXY":     "off",
		"GOFLAGS":     "-mod=mod",
		"GOTOOLCHAIN": "local",
		"TERM":        "xterm-256color",
		"LANG":        "en_US.UTF-8",
		"PATH":        "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := os.Stat(got["GOCACHE"]); err != nil {
		t.Errorf("GOCACHE not created: %v", err)
	}
	// SBX-05: another user of the same tenant has a HOME of its own.
	other, _ := m.ProcessEnv(workspace.Owner{Tenant: "acme", User: "carol"}.Key())
	for _, kv := range other {
		if strings.Contains(kv, "/alice/") {
			t.Errorf("user acme/carol gets alice's %s", kv)
		}
	}
	// Malformed keys, a bare tenant (the per-tenant key of earlier
	// versions) and internal identities have no environment here.
	for _, bad := range []string{"", "..", ".", "acme", "acme/", "/alice", "acme/../x", "acme/alice/x", "../acme/alice", "Acme/alice", "@playground", "@selftest"} {
		if _, err := m.ProcessEnv(bad); err == nil {
			t.Errorf("ProcessEnv(%q) succeeded", bad)
		}
	}
}
