package dap

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// tenantUID is a uid no account has, for files given to "a tenant".
const tenantUID = 200123

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (files given to another uid)")
	}
}

func owner(t *testing.T, p string) (uid uint32, mode uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Mode & 0o7777
}

// TestSessionDirOwnedByFd (SBX-12): the session directory is made in the
// server's run directory and given to the tenant through a descriptor;
// the socket is given only while it is still the socket the server made:
// a symlink a tenant puts in its place (to a file of root's) or a socket
// of the tenant's own is refused and the target keeps its owner. A chown
// by path (the old os.Chown of the socket path) gave the symlink's target
// to the tenant.
func TestSessionDirOwnedByFd(t *testing.T) {
	requireRoot(t)
	runDir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runDir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := checkRunDir(runDir); err != nil {
		t.Fatal(err)
	}
	dir, err := makeSessionDir(runDir, tenantUID)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != runDir {
		t.Fatalf("session directory %s not in the run directory", dir)
	}
	if uid, mode := owner(t, dir); uid != tenantUID || mode != 0o700 {
		t.Errorf("session directory uid %d mode %04o, want %d 0700", uid, mode, tenantUID)
	}
	if uid, mode := owner(t, runDir); uid != 0 || mode != 0o711 {
		t.Errorf("run directory uid %d mode %04o, want 0 0711", uid, mode)
	}

	listen := func(name string) *net.UnixListener {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, name), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	listen("ok.sock")
	if err := chownSocket(dir, "ok.sock", tenantUID); err != nil {
		t.Fatal(err)
	}
	if uid, _ := owner(t, filepath.Join(dir, "ok.sock")); uid != tenantUID {
		t.Errorf("socket uid %d, want %d", uid, tenantUID)
	}

	// The tenant swaps the socket for a symlink to a file of root's.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("root's"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen("swapped.sock")
	sock := filepath.Join(dir, "swapped.sock")
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, sock); err != nil {
		t.Fatal(err)
	}
	if err := chownSocket(dir, "swapped.sock", tenantUID); err == nil {
		t.Error("chownSocket accepted a symlink in place of the socket")
	}
	if uid, _ := owner(t, victim); uid != 0 {
		t.Errorf("the symlink's target was given to uid %d", uid)
	}

	// A socket the tenant made itself is not the server's.
	listen("tenant.sock")
	if err := os.Lchown(filepath.Join(dir, "tenant.sock"), tenantUID, tenantUID); err != nil {
		t.Fatal(err)
	}
	if err := chownSocket(dir, "tenant.sock", tenantUID); err == nil {
		t.Error("chownSocket accepted a socket it did not make")
	}
	if err := removeLeftovers(runDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("removing the session directory removed the symlink's target: %v", err)
	}
	if ents, _ := os.ReadDir(runDir); len(ents) != 0 {
		t.Errorf("leftovers not removed: %v", ents)
	}
}

// TestCheckRunDir (SBX-12): a run directory a tenant could write to or
// that is a symlink is refused.
func TestCheckRunDir(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	mk := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good", 0o711, 0)
	if err := checkRunDir(good); err != nil {
		t.Errorf("good: %v", err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{mk("writable", 0o1777, 0), mk("tenants", 0o700, tenantUID), link, filepath.Join(base, "missing")} {
		if err := checkRunDir(bad); err == nil {
			t.Errorf("%s accepted", filepath.Base(bad))
		}
	}
}

// TestServerRealPath (SBX-12): the server's own symlinks are resolved;
// a link a tenant owns, or any link in a directory a tenant owns, is not
// followed, whether its target exists or not.
func TestServerRealPath(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	real := filepath.Join(base, "real")
	tenant := filepath.Join(base, "tenant")
	for _, d := range []string{filepath.Join(real, "sub"), filepath.Join(tenant, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(tenant, tenantUID, tenantUID); err != nil {
		t.Fatal(err)
	}
	symlink := func(target, p string, uid int) {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	symlink(real, filepath.Join(base, "abs"), 0)
	symlink("real/sub/../sub", filepath.Join(base, "rel"), 0)
	symlink(real, filepath.Join(base, "tenants-link"), tenantUID)
	symlink(real, filepath.Join(tenant, "roots-link"), 0)
	symlink("/nonexistent", filepath.Join(tenant, "missing"), 0)
	for in, want := range map[string]string{
		filepath.Join(base, "abs", "sub"):              filepath.Join(real, "sub"),
		filepath.Join(base, "rel"):                     filepath.Join(real, "sub"),
		filepath.Join(base, "real", "..", "real"):      real,
		filepath.Join(tenant, "sub"):                   filepath.Join(tenant, "sub"),
		filepath.Join(base, "tenants-link", "sub"):     "",
		filepath.Join(tenant, "roots-link"):            "",
		filepath.Join(tenant, "missing"):               "",
		filepath.Join(base, "nothing-here"):            "",
		filepath.Join(base, "abs", "sub", "..", "sub"): filepath.Join(real, "sub"),
	} {
		got, ok := serverRealPath(in)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("serverRealPath(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestResolveInNoOracle (SBX-12): a symlink out of the workspace gives the
// same error whether its target exists on the host or not; links inside
// resolve to their target.
func TestResolveInNoOracle(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	workspaceDir := filepath.Join(base, "workspaceDir")
	if err := os.MkdirAll(filepath.Join(workspaceDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	exists := filepath.Join(base, "exists")
	if err := os.WriteFile(exists, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(workspaceDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, target := range []string{exists, "/nonexistent", "../exists", "../nonexistent", "sub/../../exists", "/"} {
		link := filepath.Join(workspaceDir, "link")
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if _, _, err := resolveIn(root, workspaceDir, "link"); !errors.Is(err, errEscapes) {
			t.Errorf("link to %s: %v, want errEscapes", target, err)
		}
	}
	if err := os.Symlink("sub", filepath.Join(workspaceDir, "in")); err != nil {
		t.Fatal(err)
	}
	if p, fi, err := resolveIn(root, workspaceDir, "in"); err != nil || p != filepath.Join(workspaceDir, "sub") || !fi.IsDir() {
		t.Errorf("link inside: %q, %v", p, err)
	}
	if _, _, err := resolveIn(root, workspaceDir, "absent"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
