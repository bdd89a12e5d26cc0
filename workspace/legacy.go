package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Earlier versions gave each tenant one HOME (<tenant>/home, owned by the
// tenant's uid), shared by all its users; older ones kept GOPATH beside it
// (<tenant>/go). Now each user has its own (home.go). The shared HOME is
// migrated without losing a file:
//
//   - On the first HomeDirs call for any user of the tenant, <tenant>/home
//     (with an older <tenant>/go moved into it first) is renamed to
//     <tenant>/home.legacy, given to the server's uid and closed (0700), and
//     its modification time set to that moment. Nothing binds it any more;
//     it is kept until an operator removes it.
//   - A user's HOME that does not exist yet is built as <user>/home.new and
//     renamed to <user>/home when complete, so an interrupted copy is
//     redone. When home.legacy exists and the user's record was created
//     before it was set aside (the user may have used the shared HOME), the
//     new HOME starts as a copy of it: directories, regular files (contents
//     and permission bits, never set-id bits) and symlinks (as symlinks,
//     never followed), all owned by the user's uid. The module cache
//     (go/pkg/mod) and .cache (the build cache, gopls's) are not copied:
//     they are caches and refill. Other file types (sockets, fifos, devices)
//     are skipped. Users created later start empty.
//
// Both steps log once, at Info.
const (
	legacyHome = "home.legacy"
	newHomeDir = "home.new"
)

// legacySkip are the paths of a legacy HOME not copied: caches.
var legacySkip = map[string]bool{"go/pkg/mod": true, ".cache": true}

// setAsideLegacyHome moves tenant's shared HOME of an earlier version out of
// the way (see above). Failures are logged and leave it where it is: it is
// not bound anywhere, so nothing depends on the move but the copy into new
// homes. Callers hold the tenant's ownLock.
func (m *Manager) setAsideLegacyHome(tenant string, base *os.Root) {
	if fi, err := base.Lstat("go"); err == nil && fi.IsDir() {
		// The layout before HOME held GOPATH: put it where the copy
		// looks for it.
		if err := base.Mkdir(homeDir, 0o700); err == nil || errors.Is(err, fs.ErrExist) {
			moveLegacy(base, "go", homeDir+"/go")
		}
	}
	fi, err := base.Lstat(homeDir)
	if err != nil {
		return // nothing to migrate: the common case
	}
	if !fi.IsDir() {
		m.logger.Warn("the tenant's home of an earlier version is not a directory; left where it is", "tenant_id", tenant)
		return
	}
	to := legacyHome
	if _, err := base.Lstat(legacyHome); err == nil {
		// One was set aside before (an earlier version ran again since):
		// keep both.
		to = legacyHome + "-" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	if err := base.Rename(homeDir, to); err != nil {
		m.logger.Warn("cannot set aside the tenant's home of an earlier version", "tenant_id", tenant, "err", stripPath(err))
		return
	}
	if me := os.Geteuid(); ownerOf(fi) != me {
		if err := base.Lchown(to, me, os.Getegid()); err != nil {
			m.logger.Warn("cannot take back the tenant's home of an earlier version", "tenant_id", tenant, "err", stripPath(err))
		}
	}
	if err := base.Chmod(to, 0o700); err != nil {
		m.logger.Warn("cannot close the tenant's home of an earlier version", "tenant_id", tenant, "err", stripPath(err))
	}
	now := time.Now()
	if err := base.Chtimes(to, now, now); err != nil {
		m.logger.Warn("cannot date the tenant's home of an earlier version", "tenant_id", tenant, "err", stripPath(err))
	}
	m.logger.Info("the tenant's shared home of an earlier version is set aside; its users' new homes start as copies of it",
		"tenant_id", tenant, "kept_as", to)
}

// newHome makes o's HOME in user (the directory <tenant>/users/<user>),
// starting as a copy of the tenant's legacy HOME when o may have used it,
// and gives it to uid. Callers hold the tenant's ownLock.
func (m *Manager) newHome(o Owner, base, user *os.Root, uid int) error {
	if err := user.RemoveAll(newHomeDir); err != nil { // an interrupted copy
		return fmt.Errorf("remove an unfinished home: %w", stripPath(err))
	}
	if err := user.Mkdir(newHomeDir, 0o700); err != nil {
		return fmt.Errorf("create home: %w", stripPath(err))
	}
	n, skipped, seeded, err := m.seedHome(o, base, user, uid)
	if err != nil {
		_ = user.RemoveAll(newHomeDir)
		return fmt.Errorf("copy the tenant's home of an earlier version: %w", stripPath(err))
	}
	if uid != noOwner {
		if err := user.Lchown(newHomeDir, uid, uid); err != nil {
			return fmt.Errorf("chown home: %w", stripPath(err))
		}
	}
	if err := user.Rename(newHomeDir, homeDir); err != nil {
		return fmt.Errorf("create home: %w", stripPath(err))
	}
	if seeded {
		m.logger.Info("the user's new home starts as a copy of the tenant's home of an earlier version",
			"tenant_id", o.Tenant, "user_id", o.User, "entries", n, "skipped_special_files", skipped)
	}
	return nil
}

// seedHome copies the tenant's legacy HOME into user/home.new when there is
// one and o's record predates its setting aside. seeded reports whether it
// copied.
func (m *Manager) seedHome(o Owner, base, user *os.Root, uid int) (n, skipped int, seeded bool, err error) {
	fi, err := base.Lstat(legacyHome)
	if err != nil || !fi.IsDir() {
		return 0, 0, false, nil
	}
	u, err := m.opts.Store.GetUser(o.Tenant, o.User)
	if err != nil || u.CreatedAt.After(fi.ModTime()) {
		return 0, 0, false, nil // unknown, or created after the shared HOME was gone
	}
	src, err := base.OpenRoot(legacyHome)
	if err != nil {
		return 0, 0, false, err
	}
	defer src.Close()
	dst, err := user.OpenRoot(newHomeDir)
	if err != nil {
		return 0, 0, false, err
	}
	defer dst.Close()
	n, skipped, err = copyTree(src, dst, uid)
	return n, skipped, true, err
}

// copyTree copies what src holds into the empty dst, except legacySkip:
// directories, regular files and symlinks (recreated, never followed), new
// entries owned by uid unless noOwner. Other file types are counted in
// skipped. Both roots keep every operation inside them.
func copyTree(src, dst *os.Root, uid int) (n, skipped int, err error) {
	err = fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p == ".":
			return nil
		case legacySkip[p]:
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		switch t := d.Type(); {
		case t.IsDir():
			if err := dst.Mkdir(p, 0o700); err != nil {
				return err
			}
			if err := dst.Chmod(p, perm); err != nil {
				return err
			}
		case t.IsRegular():
			if err := copyFile(src, dst, p, perm); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			target, err := src.Readlink(p)
			if err != nil {
				return err
			}
			if err := dst.Symlink(target, p); err != nil {
				return err
			}
		default:
			skipped++
			return nil
		}
		if uid != noOwner {
			if err := dst.Lchown(p, uid, uid); err != nil {
				return err
			}
		}
		n++
		return nil
	})
	return n, skipped, err
}

// copyFile copies the regular file p of src to a new file p of dst with
// permission bits perm.
func copyFile(src, dst *os.Root, p string, perm fs.FileMode) error {
	in, err := src.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", fs.ErrInvalid)
	}
	out, err := dst.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return dst.Chmod(p, perm)
}

// moveLegacy renames old to rel inside root when rel does not exist and old
// is a directory. Failures leave the old directory where it is.
func moveLegacy(root *os.Root, old, rel string) {
	if _, err := root.Lstat(rel); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	if fi, err := root.Lstat(old); err != nil || !fi.IsDir() {
		return
	}
	_ = root.Rename(old, rel)
}
