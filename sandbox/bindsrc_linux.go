package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errSymlinkSource is what opening a bind source answers when the path
// is, or passes through, a symbolic link.
var errSymlinkSource = errors.New("its source is or passes through a symbolic link")

// openSource opens the host path of a bind without following any symbolic
// link, as an O_PATH descriptor bubblewrap mounts (--bind-fd): what is
// mounted is the directory or file the runner opened, whatever a tenant
// process renames or replaces meanwhile. host must be absolute and clean.
// It resolves with openat2 and RESOLVE_NO_SYMLINKS, or, on a kernel
// without openat2, walks from / one component at a time with O_NOFOLLOW.
// A symbolic link anywhere in host fails with errSymlinkSource; only
// directories and regular files are accepted. Errors hold no path.
func openSource(host string) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, host, &how)
	for err == unix.EINTR || err == unix.EAGAIN {
		fd, err = unix.Openat2(unix.AT_FDCWD, host, &how)
	}
	if err == unix.ENOSYS {
		fd, err = openSourceWalk(host)
	}
	if err != nil {
		return nil, sourceErr(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return nil, sourceErr(err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR, unix.S_IFREG:
	case unix.S_IFLNK:
		_ = unix.Close(fd)
		return nil, errSymlinkSource
	default:
		_ = unix.Close(fd)
		return nil, errors.New("its source is neither a directory nor a regular file")
	}
	return os.NewFile(uintptr(fd), "bind-source"), nil
}

// openSourceWalk is openSource's resolution without openat2: from / it
// opens each component of host relative to the previous one with
// O_PATH|O_NOFOLLOW and refuses a symbolic link (which O_NOFOLLOW with
// O_PATH opens as itself).
func openSourceWalk(host string) (int, error) {
	if !strings.HasPrefix(host, "/") {
		return -1, unix.EINVAL
	}
	dir, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for name := range strings.SplitSeq(host[1:], "/") {
		if name == "" {
			continue
		}
		if name == "." || name == ".." {
			_ = unix.Close(dir)
			return -1, unix.EINVAL
		}
		fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		_ = unix.Close(dir)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			_ = unix.Close(fd)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			_ = unix.Close(fd)
			return -1, unix.ELOOP
		}
		dir = fd
	}
	return dir, nil
}

// sourceErr turns an errno from opening a bind source into an error
// without a path.
func sourceErr(err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return errSymlinkSource
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return errors.New("its source does not exist")
	case errors.Is(err, unix.EXDEV):
		return errors.New("its source cannot be resolved")
	}
	return fmt.Errorf("its source cannot be opened: %w", err)
}

// closeOnExec marks every descriptor of the server above stderr
// close-on-exec. Go opens its own that way, but one the server inherited
// without the flag (from a shell, a service manager or a CI runner) would
// otherwise pass through bubblewrap, which keeps what it does not know,
// into every sandbox: a directory descriptor there is a way out of the
// mount namespace. Called by New; the flag changes nothing for the server
// itself.
func closeOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
