package dap

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Session directories (SBX-12). Each session's private directory (the
// sockets dlv dials, the debug binary it builds) is made in
// Options.RunDir, a directory of the server's that no tenant can write to,
// so no tenant can rename a session directory or put a symlink in its
// place; the server acts on it and on what is in it through descriptors
// only: the directory is made with mkdirat and given to the tenant's uid
// with fchown, a socket is given with fchownat on a descriptor opened
// without following symlinks after checking it is the socket the server
// made. Removal (os.RemoveAll) works by descriptors as well and never
// follows a symlink.

// sessionTarget is where a session's directory appears inside the sandbox
// under bubblewrap isolation (proxy.binds). Without isolation dlv sees the
// host directory.
const sessionTarget = "/ideserver-dap"

// sessionDirPrefix starts the name of every session directory in RunDir.
const sessionDirPrefix = "dap-"

// checkRunDir checks that dir is a directory owned by the server (or
// root) that no one else may create or rename entries in.
func checkRunDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("dap: run directory: %w", err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("dap: run directory %s is not a directory", dir)
	case st.Uid != 0 && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("dap: run directory %s is not owned by the server", dir)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("dap: run directory %s is writable by others (mode %04o)", dir, st.Mode&0o7777)
	}
	return nil
}

// makeRunDir makes a run directory in os.TempDir(): 0711, so a tenant's
// uid may pass it to reach its session directory.
func makeRunDir() (string, error) {
	dir, err := os.MkdirTemp("", "ideserver-dap-")
	if err == nil {
		err = os.Chmod(dir, 0o711) // a new directory of the server's in a sticky /tmp
	}
	if err != nil {
		return "", fmt.Errorf("dap: run directory: %w", err)
	}
	return dir, nil
}

// removeLeftovers removes session directories an earlier run left in dir.
func removeLeftovers(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dap: run directory: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), sessionDirPrefix) {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// ownerUID returns the host uid dlv runs as, and whether it is a uid of
// its own (Runner.OwnerUID); without one, dlv runs as the server.
func (p *proxy) ownerUID() (int, bool, error) {
	return p.m.opts.Runner.OwnerUID(p.owner)
}

// makeSessionDir creates a new private directory (mode 0700) in RunDir,
// owned by the uid dlv runs as, and returns its host path.
func (p *proxy) makeSessionDir() (string, error) {
	uid, mapped, err := p.ownerUID()
	if err != nil {
		return "", err
	}
	if !mapped {
		uid = -1
	}
	return makeSessionDir(p.m.opts.RunDir, uid)
}

// makeSessionDir creates a new directory (mode 0700) in runDir, given to
// uid unless that is -1, and returns its path.
func makeSessionDir(runDir string, uid int) (string, error) {
	parent, err := unix.Open(runDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open run directory: %w", err)
	}
	defer unix.Close(parent)
	var name string
	for range 10 {
		name = sessionDirPrefix + randomHex(6) // short: dlv dials a socket inside, and socket paths hold 107 bytes
		if err = unix.Mkdirat(parent, name, 0o700); err != unix.EEXIST {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("create session directory: %w", err)
	}
	dir := filepath.Join(runDir, name)
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(fd)
		err = unix.Fchmod(fd, 0o700)
	}
	if err == nil && uid >= 0 {
		// dlv runs as the tenant's uid: it dials the sockets and writes
		// the debug binary here.
		err = unix.Fchown(fd, uid, uid)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("session directory: %w", err)
	}
	return dir, nil
}

// chownSocket gives the socket name, which the server has just made in the
// session directory, to the uid dlv runs as (connecting needs write
// permission on it); without a uid of its own it does nothing.
func (p *proxy) chownSocket(name string) error {
	uid, mapped, err := p.ownerUID()
	if err != nil || !mapped {
		return err
	}
	return chownSocket(p.dir, name, uid)
}

// chownSocket gives the socket name in dir to uid. dir may be the
// tenant's by now, so the socket is opened without following symlinks and
// must still be a socket the server owns: whatever a tenant put in its
// place is refused and left alone.
func chownSocket(dir, name string, uid int) error {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open session directory: %w", err)
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open socket: %w", err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || int(st.Uid) != os.Geteuid() {
		return errors.New("the socket was replaced")
	}
	if err := unix.Fchownat(fd, "", uid, uid, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("socket owner: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
