package dap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The server runs as root, and a path it resolves on the host is an
// oracle (an error or a mapping that differs with what exists there) and a
// lever (a tenant swapping a component for a symlink while root follows
// it). So the package never resolves a path by name on the host: a path a
// client names is resolved inside the workspace's os.Root (resolveIn),
// and the server's own directories are resolved by descriptors, following
// only symlinks no tenant can have made or swapped (serverRealPath).

// maxLinks bounds the symlinks serverRealPath follows (as the kernel does).
const maxLinks = 40

// serverRealPath returns the absolute path p with its symbolic links
// resolved, and true; it follows only links the server controls: links
// owned by root or the server's effective uid, in a directory owned by
// either that no one else may rename entries in (not writable by group or
// others, or sticky). It walks by descriptors (openat O_PATH|O_NOFOLLOW,
// one component at a time), never by name, and gives up (false) at a link
// it does not trust, at a missing component, and on any error. It is for
// aliases of the server's own directories (the data directory, GOROOT):
// nothing below a tenant's directory is followed, so what it returns
// cannot depend on where a tenant's symlinks point.
func serverRealPath(p string) (string, bool) {
	if !filepath.IsAbs(p) {
		return "", false
	}
	euid := uint32(os.Geteuid())
	trusted := func(uid uint32) bool { return uid == 0 || uid == euid }
	dir, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer func() { unix.Close(dir) }()
	cur := "/"           // the resolved path of dir
	rest := splitPath(p) // components still to resolve
	var prefix []string  // cur's components, to walk again after ".."
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(prefix) == 0 {
				continue
			}
			prefix = prefix[:len(prefix)-1]
			fd, ok := walkDirs(prefix)
			if !ok {
				return "", false
			}
			unix.Close(dir)
			dir, cur = fd, "/"+strings.Join(prefix, "/")
			continue
		}
		fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", false
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return "", false
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			var pst unix.Stat_t
			ok := links < maxLinks && trusted(st.Uid) &&
				unix.Fstat(dir, &pst) == nil && trusted(pst.Uid) &&
				(pst.Mode&0o022 == 0 || pst.Mode&unix.S_ISVTX != 0)
			var target string
			if ok {
				target, err = readlinkFd(fd)
				ok = err == nil && target != ""
			}
			unix.Close(fd)
			if !ok {
				return "", false
			}
			links++
			rest = append(splitPath(target), rest...)
			if strings.HasPrefix(target, "/") {
				root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
				if err != nil {
					return "", false
				}
				unix.Close(dir)
				dir, cur, prefix = root, "/", nil
			}
		case unix.S_IFDIR:
			unix.Close(dir)
			dir, cur = fd, filepath.Join(cur, name)
			prefix = append(prefix, name)
		default:
			unix.Close(fd)
			if len(rest) > 0 {
				return "", false // not a directory, yet more follows
			}
			cur = filepath.Join(cur, name)
			prefix = append(prefix, name)
		}
	}
	return cur, true
}

// walkDirs opens the directory "/"+strings.Join(names, "/") component by
// component without following symlinks.
func walkDirs(names []string) (int, bool) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false
	}
	for _, n := range names {
		next, err := unix.Openat(fd, n, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, false
		}
		fd = next
	}
	return fd, true
}

// readlinkFd reads the target of the symlink opened (O_PATH|O_NOFOLLOW)
// as fd.
func readlinkFd(fd int) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		if len(buf) >= 1<<16 {
			return "", errors.New("symlink target too long")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func splitPath(p string) []string {
	return strings.Split(p, "/")
}

// errEscapes is how resolveIn reports a path that leads outside its root.
var errEscapes = errors.New("leads outside the workspace")

// resolveIn resolves rel (relative, slash or host separated) inside root
// (whose host directory is rootDir, symlinks resolved): symlinks are
// followed inside root only, and one that leads out of it gives
// errEscapes without anything outside being looked at, so the answer
// never depends on what exists on the host. It returns the host path of
// what rel names, symlinks resolved, and its FileInfo. A missing file is
// an error wrapping os.ErrNotExist.
func resolveIn(root *os.Root, rootDir, rel string) (string, os.FileInfo, error) {
	// O_NONBLOCK: a FIFO does not block the open; O_NOCTTY: nor does a
	// terminal become the server's.
	f, err := root.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return "", nil, os.ErrNotExist
		case strings.Contains(err.Error(), "escapes from parent"): // os.Root's refusal
			return "", nil, errEscapes
		}
		return "", nil, fmt.Errorf("resolve in the workspace: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("resolve in the workspace: %w", err)
	}
	// The kernel's name for the open file: rel with every symlink
	// resolved, all of it inside root.
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return "", nil, fmt.Errorf("resolve in the workspace: %w", err)
	}
	if !within(rootDir, real) {
		// Moved out since it was opened, or root's directory is known
		// by another name: either way, not a path in the workspace.
		return "", nil, errEscapes
	}
	return real, fi, nil
}
