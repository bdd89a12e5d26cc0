package workspace

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMaxFileSize is the largest file Files reads or writes when
// FilesOptions.MaxFileSize is 0.
const DefaultMaxFileSize = 32 << 20

// Entry types as Entry.Type reports them.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	// TypeOther is a fifo, socket or device. Files never reads or writes
	// through one.
	TypeOther = "other"
)

// Entry describes one file system entry of a workspace, as the files API
// shows it. Size is the byte length of a file or of a symlink's target
// text, and 0 for directories.
type Entry struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"` // TypeFile, TypeDir, TypeSymlink or TypeOther
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

// FilesOptions configures a Files.
type FilesOptions struct {
	// MaxFileSize is the largest file ReadFile and WriteFile accept;
	// 0 means DefaultMaxFileSize (32 MiB).
	MaxFileSize int64
}

// Files gives rooted access to one workspace directory: every path is a
// client path checked by [CleanPath] and resolved through an [os.Root], so
// no operation reaches outside the directory, whatever symlinks the tenant
// makes (symlinks inside the workspace that point inside it are followed
// where noted). Errors wrap the sentinels of errors.go and hold only the
// client's path.
//
// A Files is safe for concurrent use. Namespace changes that check before
// they act (WriteFile's If-Match, Rename's "target must not exist", Mkdir)
// are serialised per Files, so callers that must not race share one Files
// per workspace. Changes made by other processes (a tenant's shell) are not
// serialised with them.
//
// Entries a Files creates belong to the server's uid, except in the Files
// of [Manager.WithFiles] with ManagerOptions.Identity: there every file
// written and directory made belongs to the tenant's uid and gid (a written
// file is chowned before it is renamed into place).
type Files struct {
	root    *os.Root
	maxSize int64
	owner   int // uid and gid of entries Files creates; noOwner: the server's

	// mu serialises check-then-act namespace changes: WriteFile's parent
	// creation, precondition check and rename, Mkdir, Rename, and the
	// removal of parents a failed call created.
	mu sync.Mutex
}

// openOwnedFiles opens rooted access to the workspace directory dir, which
// must exist, giving every entry Files creates (files written,
// directories made) to uid and gid owner, unless owner is noOwner. The
// Manager opens its workspaces' Files with the tenant's uid.
func openOwnedFiles(dir string, opts FilesOptions, owner int) (*Files, error) {
	if opts.MaxFileSize < 0 {
		return nil, fmt.Errorf("open workspace files: negative MaxFileSize %d", opts.MaxFileSize)
	}
	if opts.MaxFileSize == 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open workspace root: %w", err)
	}
	return &Files{root: root, maxSize: opts.MaxFileSize, owner: owner}, nil
}

// Close releases the directory. Calls in progress finish; later calls fail.
// It does not wait for anything.
func (f *Files) Close() error {
	return f.root.Close()
}

// MaxFileSize reports the largest file ReadFile and WriteFile accept.
func (f *Files) MaxFileSize() int64 { return f.maxSize }

// Stat describes rel with Lstat semantics: a symlink is described itself,
// never its target. rel "" is the root, whose Name is "".
func (f *Files) Stat(rel string) (Entry, error) {
	rel, err := CleanPath(rel)
	if err != nil {
		return Entry{}, err
	}
	fi, err := f.root.Lstat(osName(rel))
	if err != nil {
		return Entry{}, fsError("stat", rel, err)
	}
	name := ""
	if rel != "" {
		name = path.Base(rel)
	}
	return entryOf(name, fi.Mode(), fi.Size(), fi.ModTime()), nil
}

// ReadDir lists the directory rel ("" is the root), sorted by name. A
// symlink to a directory inside the workspace is followed; entries are
// described with Lstat semantics. It fails with ErrNotDir when rel is not a
// directory. Entries removed while listing are left out.
func (f *Files) ReadDir(rel string) ([]Entry, error) {
	rel, err := CleanPath(rel)
	if err != nil {
		return nil, err
	}
	// O_DIRECTORY fails at once on anything else, so a fifo swapped in is
	// never opened (opening one for reading blocks).
	d, err := f.root.OpenFile(osName(rel), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fsError("read dir", rel, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fsError("read dir", rel, err)
	}
	slices.Sort(names)
	entries := make([]Entry, 0, len(names))
	err = withFd(d, func(fd int) error {
		for _, name := range names {
			var st unix.Stat_t
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if err == unix.ENOENT {
					continue
				}
				return err
			}
			entries = append(entries, entryOfStat(name, &st))
		}
		return nil
	})
	if err != nil {
		return nil, fsError("read dir", rel, err)
	}
	return entries, nil
}

// ReadFile returns the content of the regular file rel and its ETag.
// A symlink inside the workspace to a file inside it is followed. It fails
// with ErrIsDir for a directory, ErrTooLarge above MaxFileSize, and
// ErrInvalidPath for anything that is not a regular file (fifo, device,
// socket) or a symlink leading outside the workspace; such files are never
// read, and at most opened non-blocking.
func (f *Files) ReadFile(rel string) (data []byte, etag string, err error) {
	rel, err = CleanPath(rel)
	if err != nil {
		return nil, "", err
	}
	data, err = f.readRegular(rel)
	if err != nil {
		return nil, "", err
	}
	return data, ETag(data), nil
}

// readRegular reads the regular file at the canonical path rel.
func (f *Files) readRegular(rel string) ([]byte, error) {
	if rel == "" {
		return nil, fmt.Errorf("%w: %q", ErrIsDir, rel)
	}
	// Check the type before opening, so a device is never opened ...
	fi, err := f.root.Stat(rel)
	if err != nil {
		return nil, fsError("read", rel, err)
	}
	if err := f.checkReadable(rel, fi); err != nil {
		return nil, err
	}
	// ... and again after, on what was opened: a tenant may swap the name
	// in between. O_NONBLOCK keeps a fifo swapped in from blocking the open.
	file, err := f.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fsError("read", rel, err)
	}
	defer file.Close()
	fi, err = file.Stat()
	if err != nil {
		return nil, fsError("read", rel, err)
	}
	if err := f.checkReadable(rel, fi); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(file, f.maxSize+1)); err != nil {
		return nil, fsError("read", rel, err)
	}
	if int64(buf.Len()) > f.maxSize {
		return nil, fmt.Errorf("%w: %q: larger than %d bytes", ErrTooLarge, rel, f.maxSize)
	}
	return buf.Bytes(), nil
}

func (f *Files) checkReadable(rel string, fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		return fmt.Errorf("%w: %q", ErrIsDir, rel)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %q: not a regular file", ErrInvalidPath, rel)
	case fi.Size() > f.maxSize:
		return fmt.Errorf("%w: %q: larger than %d bytes", ErrTooLarge, rel, f.maxSize)
	}
	return nil
}

// Remove removes rel. A non-empty directory needs recursive, else the error
// is ErrNotEmpty. A symlink is removed itself, never its target. Removing
// the root ("") is ErrInvalidPath.
func (f *Files) Remove(rel string, recursive bool) error {
	rel, err := CleanPath(rel)
	if err != nil {
		return err
	}
	if rel == "" {
		return fmt.Errorf("%w: %q: the workspace root", ErrInvalidPath, rel)
	}
	fi, err := f.root.Lstat(rel)
	if err != nil {
		return fsError("remove", rel, err)
	}
	if fi.IsDir() && recursive {
		if err := f.root.RemoveAll(rel); err != nil {
			return fsError("remove", rel, err)
		}
		return nil
	}
	err = f.root.Remove(rel)
	if fi.IsDir() && (errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)) {
		return fmt.Errorf("%w: %q", ErrNotEmpty, rel)
	}
	return fsError("remove", rel, err)
}

// Mkdir creates the directory rel and any missing parents (mode 0755 before
// umask). It fails with ErrExists if anything exists at rel, including the
// root.
func (f *Files) Mkdir(rel string) error {
	rel, err := CleanPath(rel)
	if err != nil {
		return err
	}
	if rel == "" {
		return fmt.Errorf("%w: %q", ErrExists, rel)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	created, err := f.mkdirAll(rel)
	if err != nil {
		f.removeCreated(created)
		return err
	}
	if len(created) == 0 || created[len(created)-1] != rel {
		return fmt.Errorf("%w: %q", ErrExists, rel)
	}
	return nil
}

// Rename moves from to to, creating to's missing parents. It never
// overwrites: if anything exists at to the error is ErrExists. A missing
// from is ErrNotFound; moving a directory into itself or renaming the root
// is ErrInvalidPath. A symlink is moved itself.
func (f *Files) Rename(from, to string) error {
	from, err := CleanPath(from)
	if err != nil {
		return err
	}
	to, err = CleanPath(to)
	if err != nil {
		return err
	}
	if from == "" || to == "" {
		return fmt.Errorf("%w: the workspace root cannot be renamed", ErrInvalidPath)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.root.Lstat(from); err != nil {
		return fsError("rename", from, err)
	}
	if _, err := f.root.Lstat(to); err == nil {
		return fmt.Errorf("%w: %q", ErrExists, to)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fsError("rename", to, err)
	}
	created, err := f.mkdirAll(parentOf(to))
	if err == nil {
		err = f.root.Rename(from, to)
		if err != nil {
			err = fsError("rename", from, err)
		}
	}
	if err != nil {
		f.removeCreated(created)
	}
	return err
}

// mkdirAll creates dir ("" is the root) and its missing parents one by one
// through the root, and returns the ones it created, outermost first. An
// existing component that is not a directory makes a later step fail with
// ErrNotDir; one that is a symlink leading out makes it fail with
// ErrInvalidPath. Callers hold f.mu.
func (f *Files) mkdirAll(dir string) (created []string, err error) {
	if dir == "" {
		return nil, nil
	}
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		p := dir[:i]
		err := f.root.Mkdir(p, 0o755)
		switch {
		case err == nil:
			created = append(created, p)
			if f.owner != noOwner {
				// Lchown: a tenant may swap p for a symlink meanwhile.
				if err := f.root.Lchown(p, f.owner, f.owner); err != nil {
					return created, fsError("mkdir", p, err)
				}
			}
		case errors.Is(err, fs.ErrExist):
			// A directory, a file or a symlink: the next step through it,
			// or the caller's use of it, resolves it inside the root.
		default:
			return created, fsError("mkdir", p, err)
		}
	}
	return created, nil
}

// removeCreated undoes mkdirAll, innermost first, leaving directories that
// someone filled meanwhile. Callers hold f.mu.
func (f *Files) removeCreated(created []string) {
	for _, dir := range slices.Backward(created) {
		_ = f.root.Remove(dir)
	}
}

// ETag returns the strong entity tag of content data, as ReadFile and
// WriteFile report it and WriteFile's ifMatch expects: the first 128 bits
// of the SHA-256 of data in hex, quoted, e.g. "\"9f86d081884c7d659a2feaa0c55ad015\"".
func ETag(data []byte) string {
	sum := sha256.Sum256(data)
	return etagOf(sum[:])
}

func etagOf(sum []byte) string {
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

func parentOf(rel string) string {
	dir := path.Dir(rel)
	if dir == "." {
		return ""
	}
	return dir
}

func entryOf(name string, mode fs.FileMode, size int64, mtime time.Time) Entry {
	e := Entry{Name: name, Size: size, ModTime: mtime}
	switch {
	case mode.IsDir():
		e.Type, e.Size = TypeDir, 0
	case mode&fs.ModeSymlink != 0:
		e.Type = TypeSymlink
	case mode.IsRegular():
		e.Type = TypeFile
	default:
		e.Type, e.Size = TypeOther, 0
	}
	return e
}

func entryOfStat(name string, st *unix.Stat_t) Entry {
	var mode fs.FileMode
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		mode = fs.ModeDir
	case unix.S_IFLNK:
		mode = fs.ModeSymlink
	case unix.S_IFREG:
	default:
		mode = fs.ModeIrregular
	}
	return entryOf(name, mode, st.Size, time.Unix(st.Mtim.Unix()))
}

// withFd runs fn with the descriptor of file, keeping file open meanwhile.
func withFd(file *os.File, fn func(fd int) error) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
