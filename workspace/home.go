package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// HomeDirs are a user's own host directories, all inside Home: GoPath is
// Home/go, GoModCache Home/go/pkg/mod, GoCache Home/.cache/go-build. Only
// Home is bound into a sandbox (at SandboxHome), so no bind source lies
// inside another: the caches are plain directories of HOME. Caches are per
// user, never shared: a shared Go build cache, or a shared HOME, lets one
// user poison another's builds and shells.
type HomeDirs struct {
	Home       string // HOME
	GoPath     string // GOPATH
	GoModCache string // GOMODCACHE
	GoCache    string // GOCACHE
}

// The layout below ManagerOptions.TenantsDir:
//
//	<tenant>/                  the server's (0711 with Identity, else 0700)
//	<tenant>/users/            the server's, same mode
//	<tenant>/users/<user>/     the server's, same mode
//	<tenant>/users/<user>/home the user's uid, 0700: HOME and Go caches
//	<tenant>/home.legacy/      the server's, 0700: the tenant's shared HOME
//	                           of earlier versions, set aside (legacy.go)
//
// Every directory above a bind source belongs to the server, so no process
// of any user can rename or replace a component of the path bubblewrap
// resolves when it mounts HOME.
const (
	usersDir = "users"
	homeDir  = "home"
)

// homeSubdirs are the directories HomeDirs prepares inside HOME, parents
// first.
var homeSubdirs = []string{"go", "go/pkg", "go/pkg/mod", ".cache", ".cache/go-build"}

// HomeDirs returns the directories of owner, a user's owner key ("<tenant>/<user>",
// see [Owner.Key]), below ManagerOptions.TenantsDir/<tenant>/users/<user>,
// creating them (0700) when missing. The server's internal identities
// ("@<name>") have none: their key is an error wrapping ErrInvalidPath, as
// is a malformed one.
//
// With ManagerOptions.Identity, HOME and every directory in it belong to
// the user's uid and gid; a HOME owned by another uid (from before
// isolation) is given to the user's uid with everything in it, once, never
// following symlinks. A directory the user replaced with a symlink or a file
// is an error. A new HOME of a user who existed when the tenant's shared
// HOME of an earlier version was set aside starts as a copy of it (see
// legacy.go). gopls's cache there (.cache/gopls) starts as hard links to
// the users' shared gopls cache, files no user may change (seedGoplsCache).
//
// The paths are host paths for process starters only; they never reach a
// client. It is called for every process start, is cheap once the
// directories exist, and is safe for concurrent use.
func (m *Manager) HomeDirs(owner string) (HomeDirs, error) {
	if m.opts.TenantsDir == "" {
		return HomeDirs{}, errors.New("workspace: ManagerOptions.TenantsDir is not set")
	}
	if IsInternalOwner(owner) {
		return HomeDirs{}, fmt.Errorf("%w: internal identity %q has no home", ErrInvalidPath, owner)
	}
	o, err := ParseOwnerKey(owner)
	if err != nil {
		return HomeDirs{}, err
	}
	uid, err := m.ownerUID(owner)
	if err != nil {
		return HomeDirs{}, err
	}
	home := filepath.Join(m.opts.TenantsDir, o.Tenant, usersDir, o.User, homeDir)
	d := HomeDirs{
		Home:       home,
		GoPath:     filepath.Join(home, "go"),
		GoModCache: filepath.Join(home, "go", "pkg", "mod"),
		GoCache:    filepath.Join(home, ".cache", "go-build"),
	}
	unlock := m.ownLock("tenant/" + o.Tenant)
	defer unlock()
	if err := m.prepareHome(o, uid); err != nil {
		return HomeDirs{}, fmt.Errorf("prepare home of %q: %w", owner, err)
	}
	return d, nil
}

// prepareHome creates o's directories and, unless uid is noOwner, gives
// HOME and what is in it to uid. Errors name paths relative to the tenant's
// directory only. Callers hold the tenant's ownLock.
func (m *Manager) prepareHome(o Owner, uid int) error {
	if err := os.MkdirAll(m.opts.TenantsDir, m.dataDirMode()); err != nil {
		return errors.New("create tenants directory")
	}
	tenants, err := os.OpenRoot(m.opts.TenantsDir)
	if err != nil {
		return errors.New("open tenants directory")
	}
	defer tenants.Close()
	base, err := m.serverDir(tenants, o.Tenant)
	if err != nil {
		return err
	}
	defer base.Close()
	m.setAsideLegacyHome(o.Tenant, base)
	users, err := m.serverDir(base, usersDir)
	if err != nil {
		return err
	}
	defer users.Close()
	user, err := m.serverDir(users, o.User)
	if err != nil {
		return err
	}
	defer user.Close()
	if _, err := user.Lstat(homeDir); errors.Is(err, fs.ErrNotExist) {
		if err := m.newHome(o, base, user, uid); err != nil {
			return err
		}
	}
	fi, err := user.Lstat(homeDir)
	if err != nil || !fi.IsDir() {
		return errors.New("home is not a directory")
	}
	if uid != noOwner && ownerOf(fi) != uid {
		n, skipped, err := adoptTree(filepath.Join(user.Name(), homeDir), uid)
		if err != nil {
			return fmt.Errorf("give home to the user's uid: %w", stripPath(err))
		}
		m.logger.Info("home given to user uid", "tenant_id", o.Tenant, "user_id", o.User, "uid", uid, "entries", n)
		if skipped > 0 {
			m.logger.Warn("hard-linked files left to their owner", "tenant_id", o.Tenant, "user_id", o.User, "files", skipped)
		}
	}
	if fi.Mode().Perm() != 0o700 {
		if err := user.Chmod(homeDir, 0o700); err != nil {
			return errors.New("chmod home")
		}
	}
	home, err := user.OpenRoot(homeDir)
	if err != nil {
		return errors.New("open home")
	}
	defer home.Close()
	for _, rel := range homeSubdirs {
		if err := home.Mkdir(rel, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create home/%s: %w", rel, stripPath(err))
		}
		fi, err := home.Lstat(rel)
		if err != nil {
			return fmt.Errorf("stat home/%s: %w", rel, stripPath(err))
		}
		if !fi.IsDir() {
			return fmt.Errorf("home/%s is not a directory", rel)
		}
		if uid != noOwner && ownerOf(fi) != uid {
			if err := home.Lchown(rel, uid, uid); err != nil {
				return fmt.Errorf("chown home/%s: %w", rel, stripPath(err))
			}
		}
	}
	// gopls's own cache starts as links to the users' shared one
	// (goplscache.go); without it gopls fills it itself, only slower.
	if err := m.seedGoplsCache(home, uid); err != nil {
		m.logger.Warn("seed the user's gopls cache", "tenant_id", o.Tenant, "user_id", o.User, "err", err)
	}
	return nil
}

// serverDir opens name in parent as a directory of the server's own,
// creating it when missing: owned by the server's uid (a directory an
// earlier version gave to a tenant's uid is taken back) and of mode
// dataDirMode, so users' uids can traverse it and none can change it. A
// symlink or a file there is an error.
func (m *Manager) serverDir(parent *os.Root, name string) (*os.Root, error) {
	mode := m.dataDirMode()
	if err := parent.Mkdir(name, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create directory: %w", stripPath(err))
	}
	fi, err := parent.Lstat(name)
	if err != nil || !fi.IsDir() {
		return nil, errors.New("a server directory is not a directory")
	}
	if me := os.Geteuid(); m.opts.Identity != nil && ownerOf(fi) != me {
		if err := parent.Lchown(name, me, os.Getegid()); err != nil {
			return nil, fmt.Errorf("chown server directory: %w", stripPath(err))
		}
	}
	if fi.Mode().Perm() != mode {
		if err := parent.Chmod(name, mode); err != nil {
			return nil, fmt.Errorf("chmod server directory: %w", stripPath(err))
		}
	}
	r, err := parent.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("open server directory: %w", stripPath(err))
	}
	// Opened after the checks: check again that what is open is a
	// directory of the server's.
	if fi, err := r.Stat("."); err != nil || !fi.IsDir() || (m.opts.Identity != nil && ownerOf(fi) != os.Geteuid()) {
		r.Close()
		return nil, errors.New("a server directory changed while it was prepared")
	}
	return r, nil
}

// RemoveHome deletes the HOME of user o and the directory holding it. It
// is for a user who has been deleted and whose workspaces, with every
// process of theirs, are gone: a user created again under the same id
// starts with a new, empty HOME rather than what the deleted one left
// (SBX-06). The user's uid stays recorded, since uids are never handed to
// anyone else. Removing what does not exist is not an error; the removal
// never follows a symbolic link (os.RemoveAll works by descriptors).
func (m *Manager) RemoveHome(o Owner) error {
	if m.opts.TenantsDir == "" {
		return nil
	}
	if _, err := ParseOwnerKey(o.Key()); err != nil {
		return err
	}
	unlock := m.ownLock("tenant/" + o.Tenant)
	defer unlock()
	if err := os.RemoveAll(filepath.Join(m.opts.TenantsDir, o.Tenant, usersDir, o.User)); err != nil {
		return fmt.Errorf("remove home of %q: %w", o.Key(), stripPath(err))
	}
	return nil
}
