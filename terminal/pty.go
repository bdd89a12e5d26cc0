package terminal

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// pollablePTY returns a duplicate of the PTY master ptmx in non-blocking
// mode, which the Go runtime's poller serves: a reader waiting on it
// parks its goroutine instead of holding an OS thread in read(2), as a
// read of ptmx itself does (creack/pty puts the master in blocking mode).
// For an idle terminal that thread and its stacks were most of its
// memory, and its wake-up (leaving the system call, taking a P back) sat
// in every echo. The terminal reads, writes and resizes through the
// duplicate only, and never through ptmx's Fd, which would make the
// shared file description blocking again.
func pollablePTY(ptmx *os.File) (*os.File, error) {
	rc, err := ptmx.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("pty: %w", err)
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("pty: %w", err)
	}
	if derr != nil {
		return nil, fmt.Errorf("pty: dup: %w", derr)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		_ = unix.Close(nfd)
		return nil, fmt.Errorf("pty: non-blocking: %w", err)
	}
	// A non-blocking descriptor makes NewFile register it with the poller.
	return os.NewFile(uintptr(nfd), "ptmx"), nil
}

// setWinsize sets f's window size (TIOCSWINSZ; the foreground process
// group gets SIGWINCH), without f.Fd.
func setWinsize(f *os.File, cols, rows int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
	}); err != nil {
		return err
	}
	return ierr
}
