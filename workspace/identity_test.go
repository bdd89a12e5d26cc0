package workspace_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// User uids of these tests: unused on the host, so a file owned by one
// was given to it by the code under test.
const (
	aliceUID = 61001
	bobUID   = 61002
	carolUID = 61003 // alice's tenant's other user
)

// carol is another user of alice's tenant.
var carol = workspace.Owner{Tenant: alice.Tenant, User: "carol"}

// testIdentity maps alice's, bob's and carol's owner keys to their uids.
func testIdentity(owner string) (int, error) {
	switch owner {
	case alice.Key():
		return aliceUID, nil
	case bob.Key():
		return bobUID, nil
	case carol.Key():
		return carolUID, nil
	}
	return 0, errors.New("no uid for this owner")
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
	for _, u := range []workspace.Owner{alice, bob, carol} {
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
	checkOwner(t, aliceUID, dir, filepath.Join(dir, "go.mod"), filepath.Join(dir, "main.go"),
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
	checkOwner(t, aliceUID,
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
	checkOwner(t, bobUID, m.Dir(w2.ID), filepath.Join(m.Dir(w2.ID), "a.go"))
}

// homePath is where HomeDirs puts o's HOME below tenants.
func homePath(tenants string, o workspace.Owner) string {
	return filepath.Join(tenants, o.Tenant, "users", o.User, "home")
}

func TestIdentityHomeDirs(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, testIdentity)
	d, err := m.HomeDirs(alice.Key())
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(e.tenantsDir, alice.Tenant)
	home := homePath(e.tenantsDir, alice)
	want := workspace.HomeDirs{
		Home:       home,
		GoPath:     filepath.Join(home, "go"),
		GoModCache: filepath.Join(home, "go", "pkg", "mod"),
		GoCache:    filepath.Join(home, ".cache", "go-build"),
	}
	if d != want {
		t.Fatalf("HomeDirs = %+v, want %+v", d, want)
	}
	all := []string{d.Home, d.GoPath, filepath.Join(d.GoPath, "pkg"), d.GoModCache, filepath.Join(d.Home, ".cache"), d.GoCache}
	checkOwner(t, aliceUID, all...)
	for _, p := range all {
		checkPerm(t, p, 0o700)
	}
	// SBX-01: every directory above HOME, the bind source, is the
	// server's: no user's process can rename or replace a component of
	// its path.
	for _, p := range []string{base, filepath.Join(base, "users"), filepath.Dir(home)} {
		checkOwner(t, 0, p)
		checkPerm(t, p, 0o711)
	}
	// SBX-05: another user of the same tenant has its own HOME, uid.
	dc, err := m.HomeDirs(carol.Key())
	if err != nil {
		t.Fatal(err)
	}
	if dc.Home != homePath(e.tenantsDir, carol) {
		t.Errorf("carol's HOME = %s", dc.Home)
	}
	checkOwner(t, carolUID, dc.Home, dc.GoModCache, dc.GoCache)
	checkPerm(t, dc.Home, 0o700)
	// A directory the user lost (or never had) is recreated, owned.
	if err := os.RemoveAll(filepath.Join(d.Home, ".cache")); err != nil {
		t.Fatal(err)
	}
	// Directories chmodded by hand are closed again.
	for _, p := range []string{base, d.Home} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.HomeDirs(alice.Key()); err != nil {
		t.Fatal(err)
	}
	checkOwner(t, aliceUID, filepath.Join(d.Home, ".cache"), d.GoCache)
	checkPerm(t, base, 0o711)
	checkPerm(t, d.Home, 0o700)
	// Internal identities and malformed keys have no HOME, and nothing is
	// created for them.
	for _, key := range []string{"@playground", "@selftest", "acme", "acme/", "/alice", "acme/alice/x", "../acme/alice"} {
		if _, err := m.HomeDirs(key); !errors.Is(err, workspace.ErrInvalidPath) {
			t.Errorf("HomeDirs(%q) = %v; want ErrInvalidPath", key, err)
		}
	}
	if got := listTree(t, e.tenantsDir); slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, "@") }) {
		t.Errorf("a directory was made for an internal identity: %q", got)
	}
}

// SBX-05: the per-tenant HOME of an earlier version (shared by the
// tenant's users, owned by the tenant's uid) migrates to per-user homes
// without losing a file: it is set aside, root's and closed, and kept; each
// user who existed then starts with a copy owned by its own uid (caches
// excepted, symlinks recreated, never followed); a user created later
// starts empty; a workspace of the tenant's old uid is given to its user's.
func TestIdentityMigratesLegacyTenantHome(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	const legacyUID = 61009 // the tenant's uid of the earlier version
	base := filepath.Join(e.tenantsDir, alice.Tenant)
	legacy := filepath.Join(base, "home")
	// The old tree, as the earlier version and the tenant's processes
	// left it.
	writeHost(t, legacy, ".bashrc", "# rc\n")
	writeHost(t, legacy, ".profile", "# profile\n")
	writeHost(t, legacy, ".config/go/env", "GOFLAGS=-mod=mod\n")
	writeHost(t, legacy, "notes/todo.txt", "todo\n")
	writeHost(t, legacy, "go/bin/tool", "#!/bin/sh\n")
	writeHost(t, legacy, "go/src/example.com/x/x.go", "package x\n")
	writeHost(t, legacy, "go/pkg/mod/example.com/m@v1.0.0/m.go", "package m\n")
	writeHost(t, legacy, ".cache/go-build/00/abc-d", "obj")
	writeHost(t, base, "cache/go-build/01/old", "obj") // an older layout's cache beside HOME
	if err := os.Chmod(filepath.Join(legacy, "go", "bin", "tool"), 0o4755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(e.data, "outside")
	writeHost(t, outside, "secret", outsideSecret)
	symlink(t, filepath.Join(outside, "secret"), filepath.Join(legacy, "to-secret"))
	symlink(t, outside, filepath.Join(legacy, "to-outside-dir"))
	symlink(t, "notes/todo.txt", filepath.Join(legacy, "todo"))
	if err := isotestChown(base, legacyUID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, legacy)
	// A workspace of the old layout: the tenant's uid owns it.
	old := e.manager(t, nil)
	w, err := old.Create(t.Context(), alice, workspace.CreateOptions{Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := isotestChown(old.Dir(w.ID), legacyUID); err != nil {
		t.Fatal(err)
	}

	var logs strings.Builder
	m, err := workspace.NewManager(workspace.ManagerOptions{
		Store: e.db, Dir: e.wsDir, TenantsDir: e.tenantsDir, Identity: testIdentity,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	d, err := m.HomeDirs(alice.Key())
	if err != nil {
		t.Fatal(err)
	}

	// The shared HOME is set aside whole, the server's and closed.
	kept := filepath.Join(base, "home.legacy")
	if got := listTree(t, kept); !slices.Equal(got, before) {
		t.Errorf("home.legacy holds %q\nwant %q", got, before)
	}
	checkOwner(t, 0, kept)
	checkPerm(t, kept, 0o700)
	checkOwner(t, legacyUID, filepath.Join(kept, ".bashrc")) // contents as they were
	if _, err := os.Lstat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the shared HOME is still bound where it was: %v", err)
	}
	checkOwner(t, 0, base)
	checkPerm(t, base, 0o711)

	// alice's new HOME is a copy, caches excepted, all hers.
	wantCopy := []string{
		".bashrc", ".cache/", ".cache/go-build/", ".config/", ".config/go/", ".config/go/env",
		".profile", "go/", "go/bin/", "go/bin/tool", "go/pkg/", "go/pkg/mod/", "go/src/",
		"go/src/example.com/", "go/src/example.com/x/", "go/src/example.com/x/x.go",
		"notes/", "notes/todo.txt", "to-outside-dir", "to-secret", "todo",
	}
	if got := listTree(t, d.Home); !slices.Equal(got, wantCopy) {
		t.Errorf("alice's HOME holds %q\nwant %q", got, wantCopy)
	}
	for _, p := range wantCopy {
		checkOwner(t, aliceUID, filepath.Join(d.Home, filepath.FromSlash(strings.TrimSuffix(p, "/"))))
	}
	checkOwner(t, aliceUID, d.Home)
	checkPerm(t, d.Home, 0o700)
	if got := readHost(t, filepath.Join(d.Home, "notes", "todo.txt")); got != "todo\n" {
		t.Errorf("todo.txt = %q", got)
	}
	checkPerm(t, filepath.Join(d.Home, "go", "bin", "tool"), 0o755) // never set-id
	if fi, _ := os.Lstat(filepath.Join(d.Home, "go", "bin", "tool")); fi.Mode()&os.ModeSetuid != 0 {
		t.Error("the set-uid bit was copied")
	}
	for link, target := range map[string]string{"to-secret": filepath.Join(outside, "secret"), "to-outside-dir": outside, "todo": "notes/todo.txt"} {
		got, err := os.Readlink(filepath.Join(d.Home, link))
		if err != nil || got != target {
			t.Errorf("%s -> %q, %v; want the same symlink -> %q", link, got, err, target)
		}
	}
	checkOwner(t, 0, outside, filepath.Join(outside, "secret")) // never followed

	// carol existed too: her HOME is a copy of her own, hers.
	dc, err := m.HomeDirs(carol.Key())
	if err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, dc.Home); !slices.Equal(got, wantCopy) {
		t.Errorf("carol's HOME holds %q", got)
	}
	checkOwner(t, carolUID, dc.Home, filepath.Join(dc.Home, ".bashrc"), filepath.Join(dc.Home, "notes", "todo.txt"))

	// dave joins after the migration: he never used the shared HOME.
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(kept, hour, hour); err != nil {
		t.Fatal(err)
	}
	dave := workspace.Owner{Tenant: alice.Tenant, User: "dave"}
	if _, err := e.db.EnsureUser(dave.Tenant, dave.User); err != nil {
		t.Fatal(err)
	}
	m2, err := workspace.NewManager(workspace.ManagerOptions{Store: e.db, Dir: e.wsDir, TenantsDir: e.tenantsDir,
		Identity: func(string) (int, error) { return 61004, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m2.Close(context.Background()) })
	dd, err := m2.HomeDirs(dave.Key())
	if err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, dd.Home); !slices.Equal(got, []string{".cache/", ".cache/go-build/", "go/", "go/pkg/", "go/pkg/mod/"}) {
		t.Errorf("dave's HOME holds %q; want only empty caches", got)
	}

	// The old workspace is given to its user's uid at first use.
	if _, err := m.View(alice.Key(), w.ID); err != nil {
		t.Fatal(err)
	}
	checkOwner(t, aliceUID, m.Dir(w.ID), filepath.Join(m.Dir(w.ID), "main.go"))

	// Again: nothing changes, and the migration was logged once.
	if _, err := m.HomeDirs(alice.Key()); err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, kept); !slices.Equal(got, before) {
		t.Errorf("home.legacy changed: %q", got)
	}
	if n := strings.Count(logs.String(), "set aside"); n != 1 {
		t.Errorf("the setting aside was logged %d times:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "starts as a copy"); n != 2 {
		t.Errorf("the copies were logged %d times, want 2 (alice, carol):\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), e.data) {
		t.Errorf("the log names host paths:\n%s", logs.String())
	}
}

// SBX-05: an interrupted copy is redone, not left half-made.
func TestIdentityNewHomeRedoesInterruptedCopy(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	base := filepath.Join(e.tenantsDir, alice.Tenant)
	writeHost(t, base, "home/.bashrc", "# rc\n")
	m := e.manager(t, testIdentity)
	if _, err := m.HomeDirs(carol.Key()); err != nil { // sets the shared HOME aside
		t.Fatal(err)
	}
	// A crash in the middle of alice's copy left home.new.
	half := filepath.Join(base, "users", alice.User, "home.new")
	writeHost(t, half, "partial", "x")
	d, err := m.HomeDirs(alice.Key())
	if err != nil {
		t.Fatal(err)
	}
	if got := readHost(t, filepath.Join(d.Home, ".bashrc")); got != "# rc\n" {
		t.Errorf(".bashrc = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(d.Home, "partial")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the half-made copy survived: %v", err)
	}
	if _, err := os.Lstat(half); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home.new is left: %v", err)
	}
}

// isotestChown gives root and everything below it to uid, not following
// symlinks.
func isotestChown(root string, uid int) error {
	return filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestIdentityRefusesTenantSymlinks(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, testIdentity)
	d, err := m.HomeDirs(alice.Key())
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(e.data, "outside")
	writeHost(t, outside, "secret", outsideSecret)
	for _, target := range []string{outside, "../../../../../../outside", "../.cache"} {
		// The user owns its HOME and replaces its module cache (or its
		// parent) with a symlink.
		for _, victim := range []string{d.GoModCache, filepath.Join(d.GoPath, "pkg")} {
			if err := os.RemoveAll(victim); err != nil {
				t.Fatal(err)
			}
			symlink(t, target, victim)
			if _, err := m.HomeDirs(alice.Key()); err == nil {
				t.Errorf("HomeDirs with %s -> %s succeeded", filepath.Base(victim), target)
			} else if strings.Contains(err.Error(), e.data) {
				t.Errorf("error names a host path: %v", err)
			}
			if _, err := m.View(alice.Key(), ""); err == nil {
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
			if _, err := m.HomeDirs(alice.Key()); err != nil {
				t.Fatal(err)
			}
			checkOwner(t, aliceUID, d.GoModCache)
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
	if _, err := m.View(alice.Key(), w2.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{w.ID, w2.ID} {
		dir := m.Dir(id)
		checkOwner(t, aliceUID, dir, filepath.Join(dir, "main.go"), filepath.Join(dir, "go.mod"),
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
	d, err := m.HomeDirs(alice.Key())
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
	d2, err := neg.HomeDirs(bob.Key())
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
	if _, err := m.HomeDirs(alice.Key()); !errors.Is(err, store.ErrNoUIDs) {
		t.Errorf("HomeDirs = %v; want ErrNoUIDs", err)
	}
	if _, err := m.View(alice.Key(), ""); !errors.Is(err, store.ErrNoUIDs) {
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
	d, err := m.HomeDirs(alice.Key())
	if err != nil {
		t.Fatal(err)
	}
	home := sandbox.Bind{Host: d.Home, Target: workspace.SandboxHome}
	goroot := sandbox.Bind{Host: "/usr/local/go", Target: workspace.SandboxGoRoot, ReadOnly: true}

	// SBX-01: HOME is the only bind of the user's directories: the module
	// and build caches are inside it, with no bind of their own.
	got, err := m.View(alice.Key(), w.ID)
	want := []sandbox.Bind{{Host: m.Dir(w.ID), Target: workspace.SandboxWorkspace}, home, goroot}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("View(alice, ws) = %+v, %v\nwant %+v", got, err, want)
	}
	got, err = m.View(alice.Key(), "")
	if want := []sandbox.Bind{home, goroot}; err != nil || !slices.Equal(got, want) {
		t.Errorf("View(alice, \"\") = %+v, %v\nwant %+v", got, err, want)
	}
	for i, a := range got {
		for j, b := range got {
			if i != j && !b.ReadOnly && strings.HasPrefix(a.Host+"/", b.Host+"/") {
				t.Errorf("bind %s lies inside the writable bind %s", a.Host, b.Host)
			}
		}
	}
	// Another tenant's workspace, another user's of the same tenant
	// (SBX-05), an unknown one, a path: not found, and the message holds
	// only what the caller passed.
	for _, tt := range []struct{ owner, ws string }{{bob.Key(), w.ID}, {carol.Key(), w.ID}, {alice.Key(), "nosuchworkspace"}, {alice.Key(), "../" + w.ID}} {
		_, err := m.View(tt.owner, tt.ws)
		if !errors.Is(err, workspace.ErrNotFound) || strings.Contains(err.Error(), e.data) {
			t.Errorf("View(%q, %q) = %v; want ErrNotFound without host paths", tt.owner, tt.ws, err)
		}
	}
	// An internal identity gets GOROOT and nothing else: no HOME (none is
	// made for it), no workspace.
	for _, key := range []string{workspace.PlaygroundOwner, workspace.PlaygroundCacheOwner, workspace.SelfTestOwner} {
		if got, err := m.View(key, ""); err != nil || !slices.Equal(got, []sandbox.Bind{goroot}) {
			t.Errorf("View(%q) = %+v, %v; want GOROOT only", key, got, err)
		}
		if _, err := m.View(key, w.ID); !errors.Is(err, workspace.ErrNotFound) {
			t.Errorf("View(%q, ws) = %v; want ErrNotFound", key, err)
		}
	}
	if got := m.InternalBinds(); !slices.Equal(got, []sandbox.Bind{goroot}) {
		t.Errorf("InternalBinds = %+v; want GOROOT only", got)
	}
	if got := listTree(t, e.tenantsDir); slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, "@") }) {
		t.Errorf("a directory was made for an internal identity: %q", got)
	}
	// A workspace whose directory is gone.
	if err := os.RemoveAll(m.Dir(w.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.View(alice.Key(), w.ID); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("View of a workspace without directory = %v; want ErrNotFound", err)
	}
	for _, bad := range []string{"acme", "a/b/c", "", "@", "@Play"} {
		if _, err := m.View(bad, ""); !errors.Is(err, workspace.ErrInvalidPath) {
			t.Errorf("View(%q) = %v; want ErrInvalidPath", bad, err)
		}
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
	d, err := m.HomeDirs(alice.Key())
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
	sh.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: aliceUID, Gid: aliceUID}}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("tenant shell: %v\n%s", err, out)
	}
	if got := readHost(t, filepath.Join(m.Dir(w.ID), "main.go")); !strings.HasSuffix(got, "edited\n") {
		t.Errorf("main.go = %q", got)
	}
	// What the tenant made is the tenant's, and the server can still
	// write over it.
	checkOwner(t, aliceUID, filepath.Join(m.Dir(w.ID), "new", "dir"), filepath.Join(d.GoCache, "entry"))
	if err := m.WithFiles(alice, w.ID, func(f *workspace.Files) error {
		_, err := f.WriteFile("new/dir/f.go", strings.NewReader("package dir\n"), "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	checkOwner(t, aliceUID, filepath.Join(m.Dir(w.ID), "new", "dir", "f.go"))
}

// SBX-05, SBX-06: a deleted user's HOME goes with them; the same id
// created again starts empty, under the same uid.
func TestIdentityRemoveHome(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newIdentityEnv(t)
	m := e.manager(t, testIdentity)
	d, err := m.HomeDirs(alice.Key())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Home, ".bashrc"), []byte("echo planted\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveHome(alice); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(d.Home)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the user's directory is still there: %v", err)
	}
	if err := m.RemoveHome(alice); err != nil {
		t.Errorf("removing again: %v", err)
	}
	d, err = m.HomeDirs(alice.Key())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Home, ".bashrc")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a user created again sees the deleted one's files: %v", err)
	}
	checkOwner(t, aliceUID, d.Home)
}
