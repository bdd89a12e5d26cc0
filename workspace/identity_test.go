package workspace_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// Tenant uids of these tests: unused on the host, so a file owned by one
// was given to it by the code under test.
const (
	acmeUID   = 61001
	globexUID = 61002
)

// testIdentity maps alice's and bob's tenants to their uids.
func testIdentity(tenant string) (int, error) {
	switch tenant {
	case alice.Tenant:
		return acmeUID, nil
	case bob.Tenant:
		return globexUID, nil
	}
	return 0, errors.New("no uid for this tenant")
}

// requireRoot skips tests that chown to other uids.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chown to tenant uids needs root")
	}
}

// identityEnv is a data directory with a store and the paths of a Manager.
type identityEnv struct {
	data, wsDir, tenantsDir string
	db                      *store.DB
}

func newIdentityEnv(t *testing.T) *identityEnv {
	t.Helper()
	e := &identityEnv{data: t.TempDir()}
	e.wsDir = filepath.Join(e.data, "workspaces")
	e.tenantsDir = filepath.Join(e.data, "tenants")
	db, err := store.Open(store.Options{Path: filepath.Join(e.data, "ideserver.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range []workspace.Owner{alice, bob} {
		if _, err := db.EnsureUser(u.Tenant, u.User); err != nil {
			t.Fatal(err)
		}
	}
	e.db = db
	return e
}

// manager returns a Manager over e with identity (nil: none).
func (e *identityEnv) manager(t *testing.T, identity func(string) (int, error)) *workspace.Manager {
	t.Helper()
	m, err := workspace.NewManager(workspace.ManagerOptions{
		Store: e.db, Dir: e.wsDir, TenantsDir: e.tenantsDir, Identity: identity,
		Go: workspace.GoEnv{Root: "/usr/local/go"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// stat returns the owner uid, gid and permission bits of p, not following
// a symlink.
func stat(t *testing.T, p string) (uid, gid int, perm os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), fi.Mode().Perm()
}

// checkOwner fails unless every path belongs to uid and gid uid.
func checkOwner(t *testing.T, uid int, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if u, g, _ := stat(t, p); u != uid || g != uid {
			t.Errorf("%s belongs to %d:%d, want %d:%d", p, u, g, uid, uid)
		}
	}
}

func checkPerm(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	if _, _, perm := stat(t, p); perm != want {
		t.Errorf("%s has mode %v, want %v", p, perm, want)
	}
}

func TestIdentityCreateAndWrite(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, testIdentity)
	checkPerm(t, e.wsDir, 0o711)
	checkPerm(t, e.tenantsDir, 0o711)

	w, err := m.Create(t.Context(), alice, workspace.CreateOptions{
		Template: "hello", Files: map[string]string{"cmd/tool/main.go": "package main\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := m.Dir(w.ID)
	checkPerm(t, dir, 0o700)
	checkOwner(t, acmeUID, dir, filepath.Join(dir, "go.mod"), filepath.Join(dir, "main.go"),
		filepath.Join(dir, "cmd"), filepath.Join(dir, "cmd", "tool"), filepath.Join(dir, "cmd", "tool", "main.go"))

	// A file the server (or a tenant before isolation) left behind.
	writeHost(t, dir, "legacy.txt", "old")
	if err := os.Lchown(filepath.Join(dir, "legacy.txt"), 0, 0); err != nil {
		t.Fatal(err)
	}
	err = m.WithFiles(alice, w.ID, func(f *workspace.Files) error {
		for _, p := range []string{"new/deep/x.go", "legacy.txt", "main.go"} {
			if _, err := f.WriteFile(p, strings.NewReader("package x\n"), ""); err != nil {
				return err
			}
		}
		if err := f.Mkdir("m/n"); err != nil {
			return err
		}
		return f.Rename("go.mod", "moved/here/go.mod")
	})
	if err != nil {
		t.Fatal(err)
	}
	checkOwner(t, acmeUID,
		filepath.Join(dir, "new"), filepath.Join(dir, "new", "deep"), filepath.Join(dir, "new", "deep", "x.go"),
		filepath.Join(dir, "legacy.txt"), filepath.Join(dir, "main.go"),
		filepath.Join(dir, "m"), filepath.Join(dir, "m", "n"),
		filepath.Join(dir, "moved"), filepath.Join(dir, "moved", "here"), filepath.Join(dir, "moved", "here", "go.mod"))
	if got := readHost(t, filepath.Join(dir, "legacy.txt")); got != "package x\n" {
		t.Errorf("legacy.txt = %q", got)
	}
	// No temporary file is left over.
	for _, p := range listTree(t, dir) {
		if strings.Contains(p, ".ideserver-tmp-") {
			t.Errorf("left %s", p)
		}
	}

	// Another tenant's workspace belongs to its own uid.
	w2, err := m.Create(t.Context(), bob, workspace.CreateOptions{Files: map[string]string{"a.go": "package a\n"}})
	if err != nil {
		t.Fatal(err)
	}
	checkOwner(t, globexUID, m.Dir(w2.ID), filepath.Join(m.Dir(w2.ID), "a.go"))
}

func TestIdentityTenantDirs(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, testIdentity)
	d, err := m.TenantDirs(alice.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(e.tenantsDir, alice.Tenant)
	want := workspace.TenantDirs{
		Home:       filepath.Join(base, "home"),
		GoPath:     filepath.Join(base, "home", "go"),
		GoModCache: filepath.Join(base, "home", "go", "pkg", "mod"),
		GoCache:    filepath.Join(base, "home", ".cache", "go-build"),
	}
	if d != want {
		t.Fatalf("TenantDirs = %+v, want %+v", d, want)
	}
	all := []string{base, d.Home, d.GoPath, filepath.Join(d.GoPath, "pkg"), d.GoModCache, filepath.Join(d.Home, ".cache"), d.GoCache}
	checkOwner(t, acmeUID, all...)
	for _, p := range all {
		checkPerm(t, p, 0o700)
	}
	// A directory the tenant lost (or never had) is recreated, owned.
	if err := os.RemoveAll(filepath.Join(d.Home, ".cache")); err != nil {
		t.Fatal(err)
	}
	// A base directory chmodded by hand is closed again.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TenantDirs(alice.Tenant); err != nil {
		t.Fatal(err)
	}
	checkOwner(t, acmeUID, filepath.Join(d.Home, ".cache"), d.GoCache)
	checkPerm(t, base, 0o700)
}

func TestIdentityAdoptsOldTenantTree(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	base := filepath.Join(e.tenantsDir, alice.Tenant)
	// The earlier layout, written by the server as root: a module cache
	// with read-only files and directories, a build cache, a home.
	writeHost(t, base, "go/pkg/mod/example.com/m@v1.0.0/m.go", "package m\n")
	writeHost(t, base, "cache/go-build/00/abc-d", "obj")
	writeHost(t, base, "home/.bashrc", "# rc\n")
	for _, p := range []string{"go/pkg/mod/example.com/m@v1.0.0/m.go", "go/pkg/mod/example.com/m@v1.0.0"} {
		if err := os.Chmod(filepath.Join(base, p), 0o555); err != nil {
			t.Fatal(err)
		}
	}
	// Things outside the tree that the tree points at: root's, and must
	// stay root's.
	outside := filepath.Join(e.data, "outside")
	writeHost(t, outside, "secret", outsideSecret)
	writeHost(t, outside, "linked", outsideSecret)
	secret := filepath.Join(outside, "secret")
	symlink(t, secret, filepath.Join(base, "home", "to-secret"))
	symlink(t, outside, filepath.Join(base, "home", "to-outside-dir"))
	if err := os.Link(filepath.Join(outside, "linked"), filepath.Join(base, "home", "hardlink")); err != nil {
		t.Fatal(err)
	}

	m := e.manager(t, testIdentity)
	d, err := m.TenantDirs(alice.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(d.GoModCache, "example.com", "m@v1.0.0")
	if got := readHost(t, filepath.Join(mod, "m.go")); got != "package m\n" {
		t.Errorf("module cache not moved under HOME: %q", got)
	}
	if got := readHost(t, filepath.Join(d.GoCache, "00", "abc-d")); got != "obj" {
		t.Errorf("build cache not moved under HOME: %q", got)
	}
	for _, gone := range []string{"go", "cache"} {
		if _, err := os.Lstat(filepath.Join(base, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old %s/ still there: %v", gone, err)
		}
	}
	checkOwner(t, acmeUID, base, d.Home, filepath.Join(d.Home, ".bashrc"), d.GoModCache, mod,
		filepath.Join(mod, "m.go"), d.GoCache, filepath.Join(d.GoCache, "00", "abc-d"),
		filepath.Join(d.Home, "to-secret"), filepath.Join(d.Home, "to-outside-dir"))
	checkPerm(t, filepath.Join(mod, "m.go"), 0o555) // modes are left alone
	// Symlinks were changed themselves, not followed; a hard link to a file
	// outside was skipped.
	checkOwner(t, 0, outside, secret, filepath.Join(outside, "linked"), filepath.Join(d.Home, "hardlink"))
}

func TestIdentityRefusesTenantSymlinks(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, testIdentity)
	d, err := m.TenantDirs(alice.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(e.data, "outside")
	writeHost(t, outside, "secret", outsideSecret)
	for _, target := range []string{outside, "../../../../outside", "../.cache"} {
		// The tenant owns its HOME and replaces its module cache (or its
		// parent) with a symlink.
		for _, victim := range []string{d.GoModCache, filepath.Join(d.GoPath, "pkg")} {
			if err := os.RemoveAll(victim); err != nil {
				t.Fatal(err)
			}
			symlink(t, target, victim)
			if _, err := m.TenantDirs(alice.Tenant); err == nil {
				t.Errorf("TenantDirs with %s -> %s succeeded", filepath.Base(victim), target)
			} else if strings.Contains(err.Error(), e.data) {
				t.Errorf("error names a host path: %v", err)
			}
			if _, err := m.View(alice.Tenant, ""); err == nil {
				t.Errorf("View with %s -> %s succeeded", filepath.Base(victim), target)
			}
			checkOwner(t, 0, outside, filepath.Join(outside, "secret"))
			if got := listTree(t, outside); !slices.Equal(got, []string{"secret"}) {
				t.Errorf("outside now holds %q", got)
			}
			// Once the symlink is gone the directories come back.
			if err := os.Remove(victim); err != nil {
				t.Fatal(err)
			}
			if _, err := m.TenantDirs(alice.Tenant); err != nil {
				t.Fatal(err)
			}
			checkOwner(t, acmeUID, d.GoModCache)
		}
	}
}

func TestIdentityAdoptsOldWorkspace(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	old := e.manager(t, nil)
	w, err := old.Create(t.Context(), alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := old.Create(t.Context(), alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(e.data, "outside")
	writeHost(t, outside, "secret", outsideSecret)
	for _, id := range []string{w.ID, w2.ID} {
		dir := old.Dir(id)
		writeHost(t, dir, "pkg/util.go", "package pkg\n")
		symlink(t, filepath.Join(outside, "secret"), filepath.Join(dir, "pkg", "escape"))
		symlink(t, outside, filepath.Join(dir, "outdir"))
		checkOwner(t, 0, dir, filepath.Join(dir, "main.go"))
	}

	m := e.manager(t, testIdentity) // the restart with isolation on
	// First access through files adopts the tree ...
	if err := m.WithFiles(alice, w.ID, func(f *workspace.Files) error {
		_, _, err := f.ReadFile("main.go")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// ... and so does a process start (View) before any file access.
	if _, err := m.View(alice.Tenant, w2.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{w.ID, w2.ID} {
		dir := m.Dir(id)
		checkOwner(t, acmeUID, dir, filepath.Join(dir, "main.go"), filepath.Join(dir, "go.mod"),
			filepath.Join(dir, "pkg"), filepath.Join(dir, "pkg", "util.go"),
			filepath.Join(dir, "pkg", "escape"), filepath.Join(dir, "outdir"))
	}
	checkOwner(t, 0, outside, filepath.Join(outside, "secret"))
}

func TestIdentityNilChangesNoOwnership(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, nil)
	checkPerm(t, e.wsDir, 0o700)
	checkPerm(t, e.tenantsDir, 0o700)
	w, err := m.Create(t.Context(), alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	dir := m.Dir(w.ID)
	if err := m.WithFiles(alice, w.ID, func(f *workspace.Files) error {
		_, err := f.WriteFile("a/b/c.go", strings.NewReader("package b\n"), "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, err := m.TenantDirs(alice.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	me := os.Geteuid()
	checkOwner(t, me, dir, filepath.Join(dir, "main.go"), filepath.Join(dir, "a", "b"), filepath.Join(dir, "a", "b", "c.go"),
		filepath.Join(e.tenantsDir, alice.Tenant), d.Home, d.GoModCache, d.GoCache)

	// A negative uid from Identity means the same.
	neg := e.manager(t, func(string) (int, error) { return -1, nil })
	w2, err := neg.Create(t.Context(), bob, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := neg.TenantDirs(bob.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	checkOwner(t, me, neg.Dir(w2.ID), filepath.Join(neg.Dir(w2.ID), "main.go"), d2.Home, d2.GoCache)
}

func TestIdentityErrorFailsCleanly(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, func(string) (int, error) { return 0, store.ErrNoUIDs })
	if _, err := m.Create(t.Context(), alice, workspace.CreateOptions{Template: "hello"}); !errors.Is(err, store.ErrNoUIDs) {
		t.Errorf("Create = %v; want ErrNoUIDs", err)
	}
	if got := listTree(t, e.wsDir); len(got) != 0 {
		t.Errorf("Create left %q", got)
	}
	if list, _ := e.db.ListWorkspaces(alice.Tenant, alice.User); len(list) != 0 {
		t.Errorf("Create left records %+v", list)
	}
	if _, err := m.TenantDirs(alice.Tenant); !errors.Is(err, store.ErrNoUIDs) {
		t.Errorf("TenantDirs = %v; want ErrNoUIDs", err)
	}
	if _, err := m.View(alice.Tenant, ""); !errors.Is(err, store.ErrNoUIDs) {
		t.Errorf("View = %v; want ErrNoUIDs", err)
	}
}

func TestView(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, nil)
	w, err := m.Create(t.Context(), alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.TenantDirs(alice.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	home := sandbox.Bind{Host: d.Home, Target: workspace.SandboxHome}
	modcache := sandbox.Bind{Host: d.GoModCache, Target: workspace.SandboxGoModCache}
	goroot := sandbox.Bind{Host: "/usr/local/go", Target: workspace.SandboxGoRoot, ReadOnly: true}

	got, err := m.View(alice.Tenant, w.ID)
	want := []sandbox.Bind{{Host: m.Dir(w.ID), Target: workspace.SandboxWorkspace}, home, modcache, goroot}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("View(acme, ws) = %+v, %v\nwant %+v", got, err, want)
	}
	got, err = m.View(alice.Tenant, "")
	if want := []sandbox.Bind{home, modcache, goroot}; err != nil || !slices.Equal(got, want) {
		t.Errorf("View(acme, \"\") = %+v, %v\nwant %+v", got, err, want)
	}
	// Another tenant's workspace, an unknown one, a path: not found, and
	// the message holds only what the caller passed.
	for _, tt := range []struct{ tenant, ws string }{{bob.Tenant, w.ID}, {alice.Tenant, "nosuchworkspace"}, {alice.Tenant, "../" + w.ID}} {
		_, err := m.View(tt.tenant, tt.ws)
		if !errors.Is(err, workspace.ErrNotFound) || strings.Contains(err.Error(), e.data) {
			t.Errorf("View(%q, %q) = %v; want ErrNotFound without host paths", tt.tenant, tt.ws, err)
		}
	}
	// A workspace whose directory is gone.
	if err := os.RemoveAll(m.Dir(w.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.View(alice.Tenant, w.ID); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("View of a workspace without directory = %v; want ErrNotFound", err)
	}
	if _, err := m.View("a/b", ""); !errors.Is(err, workspace.ErrInvalidPath) {
		t.Errorf("View(a/b) = %v; want ErrInvalidPath", err)
	}
}

// TestIdentityTenantProcessCanWrite runs a process as the tenant's uid, as
// bubblewrap will, and checks it can change its workspace and caches and
// traverse the data directory, but not read another tenant's.
func TestIdentityTenantProcessCanWrite(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, testIdentity)
	// The data directory and its parents (t.TempDir's are 0700) must be
	// traversable, as cmd/ideserver makes the data directory.
	for p := e.data; p != filepath.Dir(os.TempDir()) && p != "/"; p = filepath.Dir(p) {
		if _, _, perm := stat(t, p); perm&0o001 == 0 {
			if err := os.Chmod(p, perm|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
	w, err := m.Create(t.Context(), alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	wb, err := m.Create(t.Context(), bob, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.TenantDirs(alice.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	sh := exec.CommandContext(testContext(t), "/bin/sh", "-ec", `
		echo edited >> "$WS/main.go"
		mkdir -p "$WS/new/dir" "$HOME/.cache/gopls" "$GOMODCACHE/cache/download"
		echo x > "$GOCACHE/entry"
		rm "$WS/go.mod"
		if cat "$OTHER/main.go" 2>/dev/null; then echo read another tenant; exit 1; fi
		if ls "$WSROOT" 2>/dev/null; then echo listed workspaces; exit 1; fi
	`)
	sh.Env = []string{"WS=" + m.Dir(w.ID), "HOME=" + d.Home, "GOMODCACHE=" + d.GoModCache, "GOCACHE=" + d.GoCache,
		"OTHER=" + m.Dir(wb.ID), "WSROOT=" + e.wsDir, "PATH=/usr/bin:/bin"}
	sh.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: acmeUID, Gid: acmeUID}}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("tenant shell: %v\n%s", err, out)
	}
	if got := readHost(t, filepath.Join(m.Dir(w.ID), "main.go")); !strings.HasSuffix(got, "edited\n") {
		t.Errorf("main.go = %q", got)
	}
	// What the tenant made is the tenant's, and the server can still
	// write over it.
	checkOwner(t, acmeUID, filepath.Join(m.Dir(w.ID), "new", "dir"), filepath.Join(d.GoCache, "entry"))
	if err := m.WithFiles(alice, w.ID, func(f *workspace.Files) error {
		_, err := f.WriteFile("new/dir/f.go", strings.NewReader("package dir\n"), "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	checkOwner(t, acmeUID, filepath.Join(m.Dir(w.ID), "new", "dir", "f.go"))
}
