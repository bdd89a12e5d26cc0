package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// Sentinel errors returned by this package. Match them with [errors.Is]; the
// text after the sentinel is the client's own path (quoted), never a host
// path.
var (
	// ErrInvalidPath: the path is malformed (see [CleanPath]), names the
	// workspace root where that is not allowed, or resolves outside the
	// workspace (a symlink escaping it, a symlink loop) or to something that
	// is not a regular file, directory or symlink (fifo, device, socket).
	ErrInvalidPath = errors.New("invalid path")
	// ErrNotFound: nothing exists at the path.
	ErrNotFound = errors.New("not found")
	// ErrExists: something already exists at the path.
	ErrExists = errors.New("already exists")
	// ErrNotEmpty: a directory to remove is not empty and recursive was not set.
	ErrNotEmpty = errors.New("directory not empty")
	// ErrIsDir: the path is a directory where a file was expected.
	ErrIsDir = errors.New("is a directory")
	// ErrNotDir: the path, or one of its parents, is not a directory.
	ErrNotDir = errors.New("not a directory")
	// ErrPrecondition: an If-Match condition did not hold.
	ErrPrecondition = errors.New("precondition failed")
	// ErrTooLarge: a file is larger than the configured limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidQuery: a search query is empty, too long or not a valid
	// regular expression.
	ErrInvalidQuery = errors.New("invalid query")
	// ErrClosed: the Files or Watchers was closed.
	ErrClosed = errors.New("closed")
)

// fsError maps an error from an os.Root operation on the client path rel to
// one of the sentinels, or to a plain error that holds rel and the bare
// system error. It never returns the host path that os.File errors carry.
func fsError(op, rel string, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		switch errno {
		case syscall.ENOENT:
			return fmt.Errorf("%w: %q", ErrNotFound, rel)
		case syscall.EEXIST:
			return fmt.Errorf("%w: %q", ErrExists, rel)
		case syscall.ENOTEMPTY:
			return fmt.Errorf("%w: %q", ErrNotEmpty, rel)
		case syscall.EISDIR:
			return fmt.Errorf("%w: %q", ErrIsDir, rel)
		case syscall.ENOTDIR:
			return fmt.Errorf("%w: %q", ErrNotDir, rel)
		case syscall.ELOOP, syscall.ENAMETOOLONG, syscall.EINVAL:
			return fmt.Errorf("%w: %q", ErrInvalidPath, rel)
		}
		return fmt.Errorf("%s %q: %w", op, rel, errno)
	case errors.Is(err, fs.ErrClosed):
		return fmt.Errorf("%s %q: %w", op, rel, ErrClosed)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %q", ErrNotFound, rel)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: %q", ErrExists, rel)
	}
	// os.Root reports escapes ("path escapes from parent") and a few other
	// validation failures with errors that are not system errors. They are
	// all refusals to resolve the path.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %q", ErrInvalidPath, rel)
	}
	return fmt.Errorf("%s %q: %w", op, rel, err)
}
