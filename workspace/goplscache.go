package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/sandbox"
)

// The users' shared gopls cache.
//
// gopls keeps a file cache of its own (type-checked export data, analysis
// facts, indexes) in $HOME/.cache/gopls/<version>/, <version> being a
// digest of the gopls executable. It has no read-only layer to share, so
// the prebuild fills one the way a user's gopls would and each user's
// cache starts as hard links to it:
//
//   - PrepareBuildCache runs one gopls session (BuildCache.Gopls) on its
//     program as BuildCacheOwner, whose scratch HOME receives the cache;
//     the server then makes every file of it 0444 (readable, writable by
//     no one but root; the bug reports gopls files there are dropped) and
//     moves it into BuildCache.GoplsDir, replacing what an earlier
//     prebuild put there.
//   - When a user's HOME lacks that <version> directory, the server builds
//     it beside, as directories of the user's own (so gopls adds its own
//     entries there) holding hard links to the shared files, and renames
//     it into place (seedGoplsCache), renewing the shared files' times
//     first when they are a day old (refreshTimes).
//
// This is sound because of how gopls (v0.23.0, internal/filecache) treats
// its cache: Get verifies the content file against the digest the index
// names (a changed or truncated file is a miss), and refreshes times with
// Chtimes, whose error it ignores; Set rewrites a content file only when
// its content differs from the value (never, for a sound one) and opens an
// index file with O_WRONLY|O_CREATE, which on a shared file fails (0444
// refuses even its owner, and under isolation the user is not its owner),
// and then removes the entry: the user's link goes, the shared file stays,
// and the next Set writes a file of the user's own. gopls's collector
// removes links (its own directory entries) only. A user may unlink,
// rename or replace their links, all in directories of their own; under
// bubblewrap, where users and BuildCacheOwner are different uids, the
// shared inodes' content, mode, owner and times are out of their reach
// (SBX-13), and the shared directory itself is in no sandbox's view.

// GoplsPrebuilder runs the gopls session of the users' prebuild
// (lsp.Manager does).
type GoplsPrebuilder interface {
	// PrebuildCache runs one gopls session on the prebuild's program
	// through p: it opens p.Files as the browser's editor does, waits for
	// their diagnostics and p.Settled, and stops gopls.
	PrebuildCache(ctx context.Context, p GoplsPrebuild) error
	// GoplsBinary returns the host path of the gopls PrebuildCache runs
	// (the shared gopls cache's stamp holds its buildcache.FileIdentity).
	GoplsBinary(ctx context.Context) (string, error)
}

// GoplsPrebuild is what GoplsPrebuilder.PrebuildCache gets to run one
// gopls session on the prebuild's program.
type GoplsPrebuild struct {
	// Start starts gopls (cmd.Path, with cmd's stdio) in the prebuild's
	// sandbox: as BuildCacheOwner, with the prebuild's environment
	// (its scratch HOME holds the file cache gopls fills), in the
	// program's directory, without a network.
	Start func(ctx context.Context, cmd sandbox.Cmd) (*sandbox.Process, error)
	// Dir is the program's directory as gopls sees it (a process path).
	Dir string
	// Files are the program's Go files: names in Dir and their content.
	Files map[string]string
	// Settled returns once gopls's file cache has stopped growing (gopls
	// writes it in the background after it answers), or ctx ends. Call it
	// before gopls is stopped.
	Settled func(ctx context.Context) error
}

// goplsCacheLock orders publishing the shared gopls cache and seeding
// users' caches from it.
const goplsCacheLock = "@gopls-cache"

// prebuildGopls runs c.Gopls on the prebuild's program in src (with the
// prebuild's env and binds; its HOME is home) and publishes the file cache
// gopls wrote into c.GoplsDir. A no-op without c.Gopls or c.GoplsDir. With
// buildKey (the build cache's stamp key), the published cache gets a stamp
// of its own, and a session whose stamp is there already is not run.
func (m *Manager) prebuildGopls(ctx context.Context, c *BuildCache, src string, home HomeDirs, env []string, binds []sandbox.Bind, buildKey string) error {
	if c.Gopls == nil || c.GoplsDir == "" {
		return nil
	}
	var key string
	stamp := buildcache.Stamp(c.GoplsDir)
	if buildKey != "" {
		bin, err := c.Gopls.GoplsBinary(ctx)
		if err != nil {
			return fmt.Errorf("prebuild gopls: %w", err)
		}
		id, err := buildcache.FileIdentity(bin)
		if err != nil {
			return fmt.Errorf("prebuild gopls: %w", stripPath(err))
		}
		key = buildcache.Key("gopls prebuild v1", buildKey, id)
		if _, ok := buildcache.ReadStamp(stamp, key); ok {
			if v, err := cacheVersions(c.GoplsDir); err == nil && len(v) > 0 {
				m.logger.Info("users' gopls cache up to date")
				return nil
			}
		}
	}
	if err := buildcache.RemoveStamp(stamp); err != nil {
		return fmt.Errorf("prebuild gopls: %w", err)
	}
	dir := src
	if m.isolated() {
		dir = SandboxWorkspace
	}
	cacheDir := filepath.Join(home.Home, ".cache", "gopls")
	files := map[string]string{}
	for _, name := range []string{"main.go", "main_test.go"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return fmt.Errorf("prebuild gopls: %w", stripPath(err))
		}
		files[name] = string(b)
	}
	p := GoplsPrebuild{
		Dir:   dir,
		Files: files,
		Start: func(ctx context.Context, cmd sandbox.Cmd) (*sandbox.Process, error) {
			if cmd.Kind == "" {
				cmd.Kind = "gopls"
			}
			cmd.Owner, cmd.Env, cmd.Dir, cmd.Network = BuildCacheOwner, env, src, sandbox.NetworkNone
			cmd.Binds = append(slices.Clone(binds), cmd.Binds...)
			return m.opts.Runner.Start(ctx, cmd)
		},
		Settled: func(ctx context.Context) error { return settled(ctx, cacheDir, time.Second) },
	}
	if err := c.Gopls.PrebuildCache(ctx, p); err != nil {
		return fmt.Errorf("prebuild gopls: %w", err)
	}
	if err := m.publishGoplsCache(cacheDir, c.GoplsDir); err != nil {
		return err
	}
	if key == "" {
		return nil
	}
	return buildcache.WriteStamp(stamp, key, 0)
}

// settled returns once no file has been added below dir for quiet (or
// ctx ends).
func settled(ctx context.Context, dir string, quiet time.Duration) error {
	last, since := -1, time.Now()
	for {
		n := 0
		_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(quiet / 5):
		}
	}
}

// publishGoplsCache makes the gopls cache from (gopls's "gopls" directory:
// one directory per gopls version) shareable and moves its versions into
// to, in place of everything there: directories 0755, files 0444 (bug
// reports and anything but directories and regular files removed). It
// works through an os.Root, so nothing in from leads it elsewhere.
func (m *Manager) publishGoplsCache(from, to string) error {
	root, err := os.OpenRoot(from)
	if err != nil {
		return fmt.Errorf("publish gopls cache: %w", stripPath(err))
	}
	defer root.Close()
	var drop []string
	files := 0
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return root.Chmod(p, 0o755)
		case d.Type().IsRegular() && !strings.HasSuffix(p, "-bug"):
			files++
			return root.Chmod(p, 0o444)
		}
		drop = append(drop, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish gopls cache: %w", stripPath(err))
	}
	for _, p := range drop {
		if err := root.Remove(p); err != nil {
			return fmt.Errorf("publish gopls cache: %w", stripPath(err))
		}
	}
	versions, err := cacheVersions(from)
	if err != nil || len(versions) == 0 {
		return fmt.Errorf("publish gopls cache: gopls wrote no cache (%v)", err)
	}
	unlock := m.ownLock(goplsCacheLock)
	defer unlock()
	old, err := os.ReadDir(to)
	if err != nil {
		return fmt.Errorf("publish gopls cache: %w", stripPath(err))
	}
	for _, e := range old {
		// Users' links keep the files they name.
		if err := os.RemoveAll(filepath.Join(to, e.Name())); err != nil {
			return fmt.Errorf("publish gopls cache: %w", stripPath(err))
		}
	}
	for _, v := range versions {
		if err := os.Rename(filepath.Join(from, v), filepath.Join(to, v)); err != nil {
			return fmt.Errorf("publish gopls cache: %w", stripPath(err))
		}
	}
	m.logger.Info("users' gopls cache prepared", "files", files)
	return nil
}

// cacheVersions returns the names of the version directories in a gopls
// cache directory.
func cacheVersions(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// goplsCacheRel is where gopls keeps its file cache in a HOME (without
// GOPLSCACHE or XDG_CACHE_HOME, which users' processes do not get).
const goplsCacheRel = ".cache/gopls"

// seedGoplsCache gives the user whose HOME is home (uid, or noOwner) the
// shared gopls cache: each version directory of BuildCache.GoplsDir that
// the user's cache lacks is made beside it (".seed-<version>") as
// directories of uid holding hard links to the shared files, then renamed
// into place. A user whose gopls already made that directory keeps their
// own. Errors leave the user's cache as it was (a seed half made is
// removed): gopls then fills it itself, only slower.
func (m *Manager) seedGoplsCache(home *os.Root, uid int) error {
	c := m.opts.BuildCache
	if c == nil || c.GoplsDir == "" {
		return nil
	}
	unlock := m.ownLock(goplsCacheLock)
	defer unlock()
	versions, err := cacheVersions(c.GoplsDir)
	if err != nil || len(versions) == 0 {
		return nil // not prepared (yet)
	}
	var missing []string
	for _, v := range versions {
		if _, err := home.Lstat(path.Join(goplsCacheRel, v)); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, v)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := mkdirOwned(home, goplsCacheRel, uid); err != nil {
		return err
	}
	shared, err := os.OpenRoot(c.GoplsDir)
	if err != nil {
		return fmt.Errorf("seed gopls cache: %w", stripPath(err))
	}
	defer shared.Close()
	for _, v := range missing {
		start := time.Now()
		if err := refreshTimes(shared, v, start); err != nil {
			return fmt.Errorf("seed gopls cache: %w", stripPath(err))
		}
		tmp := path.Join(goplsCacheRel, ".seed-"+v)
		if err := home.RemoveAll(tmp); err != nil {
			return fmt.Errorf("seed gopls cache: %w", stripPath(err))
		}
		n, err := linkTree(shared, v, home, tmp, uid)
		if err == nil {
			err = home.Rename(tmp, path.Join(goplsCacheRel, v))
		}
		if err != nil {
			_ = home.RemoveAll(tmp)
			return fmt.Errorf("seed gopls cache: %w", stripPath(err))
		}
		m.logger.Debug("gopls cache seeded", "files", n, "duration", time.Since(start).Round(time.Microsecond))
	}
	return nil
}

// refreshAge is how old the shared gopls cache's times may grow before a
// seed renews them: gopls's collector removes entries unused for five days
// by their modification time, which a user's gopls cannot renew on a file
// it does not own, so seeds of a server running for days would be
// collected minutes after they are made.
const refreshAge = 24 * time.Hour

// refreshTimes sets the times of dir in r and of everything below it to
// now when dir's are older than refreshAge.
func refreshTimes(r *os.Root, dir string, now time.Time) error {
	fi, err := r.Stat(dir)
	if err != nil || now.Sub(fi.ModTime()) < refreshAge {
		return err
	}
	err = fs.WalkDir(r.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir || !(d.IsDir() || d.Type().IsRegular()) {
			return err
		}
		return r.Chtimes(p, now, now)
	})
	if err != nil {
		return err
	}
	return r.Chtimes(dir, now, now) // last: a walk cut short is done again
}

// mkdirOwned makes the directory rel in r (0700), or finds it there, and
// gives it to uid (unless noOwner). A non-directory there is an error.
func mkdirOwned(r *os.Root, rel string, uid int) error {
	if err := r.Mkdir(rel, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", rel, stripPath(err))
	}
	fi, err := r.Lstat(rel)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", rel)
	}
	if uid != noOwner && ownerOf(fi) != uid {
		if err := r.Lchown(rel, uid, uid); err != nil {
			return fmt.Errorf("chown %s: %w", rel, stripPath(err))
		}
	}
	return nil
}

// linkTree recreates the directory src of from as dst in to: each
// directory made anew for uid, each regular file a hard link, all through
// directory descriptors (*at calls, no symlink followed), so neither side's
// names are resolved again and a seed takes a few syscalls per entry. It
// returns the number of files linked.
func linkTree(from *os.Root, src string, to *os.Root, dst string, uid int) (int, error) {
	if err := mkdirOwned(to, dst, uid); err != nil {
		return 0, err
	}
	sd, err := from.Open(src)
	if err != nil {
		return 0, err
	}
	defer sd.Close()
	dd, err := to.Open(dst)
	if err != nil {
		return 0, err
	}
	defer dd.Close()
	if fi, err := dd.Stat(); err != nil || !fi.IsDir() {
		return 0, errors.New("the seed directory changed")
	}
	return linkDir(sd, int(dd.Fd()), uid, 0)
}

// maxSeedDepth bounds linkDir's recursion: gopls's layout is
// <version>/<two hex digits>/<entry>.
const maxSeedDepth = 4

// linkDir links the regular files of the directory sd into the directory
// dfd and recreates its directories there for uid, recursively.
func linkDir(sd *os.File, dfd, uid, depth int) (int, error) {
	if depth > maxSeedDepth {
		return 0, errors.New("the shared gopls cache is deeper than gopls makes it")
	}
	ents, err := sd.ReadDir(-1)
	if err != nil {
		return 0, err
	}
	sfd := int(sd.Fd())
	n := 0
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir():
			if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
				return n, fmt.Errorf("mkdir: %w", err)
			}
			if uid != noOwner {
				if err := unix.Fchownat(dfd, name, uid, uid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					return n, fmt.Errorf("chown: %w", err)
				}
			}
			k, err := linkSubdir(sfd, dfd, name, uid, depth)
			n += k
			if err != nil {
				return n, err
			}
		case e.Type().IsRegular():
			if err := unix.Linkat(sfd, name, dfd, name, 0); err != nil {
				return n, fmt.Errorf("link: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// linkSubdir is linkDir of the directories name below sfd and dfd.
func linkSubdir(sfd, dfd int, name string, uid, depth int) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	s, err := unix.Openat(sfd, name, flags, 0)
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	sub := os.NewFile(uintptr(s), name)
	defer sub.Close()
	d, err := unix.Openat(dfd, name, flags, 0)
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	defer unix.Close(d)
	return linkDir(sub, d, uid, depth+1)
}
