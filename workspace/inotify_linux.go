//go:build linux

package workspace

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The watcher talks to inotify itself rather than through fsnotify, which
// adds watches by host path: inotify_add_watch follows symlinks in every
// component, so a tenant swapping a directory for a symlink at the right
// moment could make a path-based watch land outside the workspace. Here
// every watch is added on a directory already opened through the os.Root,
// by its /proc/self/fd link, so it is on that very inode.

// watchMask is what each directory watch reports.
const watchMask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// inotify is one inotify instance. add and remove are called from one
// goroutine at a time; read runs in its own and ends when close is called.
type inotify struct {
	file *os.File
}

func newInotify() (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		// EMFILE here means fs.inotify.max_user_instances is exhausted.
		return nil, fmt.Errorf("inotify init: %w", err)
	}
	// Non-blocking, so the runtime poller serves Read and Close unblocks it.
	return &inotify{file: os.NewFile(uintptr(fd), "inotify")}, nil
}

// add watches the open directory dir and returns the watch descriptor.
// Adding a directory already watched returns its existing descriptor.
func (in *inotify) add(dir *os.File) (int, error) {
	var wd int
	err := withFd(dir, func(dirfd int) error {
		return withFd(in.file, func(infd int) error {
			var err error
			wd, err = unix.InotifyAddWatch(infd, "/proc/self/fd/"+strconv.Itoa(dirfd), watchMask)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("inotify add watch: %w", err)
	}
	return wd, nil
}

// remove drops the watch wd; errors (it is already gone) are ignored.
func (in *inotify) remove(wd int) {
	_ = withFd(in.file, func(infd int) error {
		_, err := unix.InotifyRmWatch(infd, uint32(wd))
		return err
	})
}

// close ends read.
func (in *inotify) close() error { return in.file.Close() }

// read sends batches of decoded events to out until the instance is closed,
// a read fails or done is closed, then closes out.
func (in *inotify) read(out chan<- []rawEvent, done <-chan struct{}) {
	defer close(out)
	buf := make([]byte, 64<<10)
	for {
		n, err := in.file.Read(buf)
		if err != nil {
			// Closed, or something inotify never does: either way the
			// watch is over, and the loop ends its subscriptions.
			return
		}
		batch := decodeInotify(buf[:n])
		select {
		case out <- batch:
		case <-done:
			return
		}
	}
}

// decodeInotify decodes struct inotify_event records.
func decodeInotify(buf []byte) []rawEvent {
	var batch []rawEvent
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(buf[0:]))
		mask := binary.NativeEndian.Uint32(buf[4:])
		nameLen := int(binary.NativeEndian.Uint32(buf[12:]))
		buf = buf[unix.SizeofInotifyEvent:]
		if nameLen > len(buf) {
			break
		}
		name := buf[:nameLen]
		buf = buf[nameLen:]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		ev := rawEvent{wd: int(wd), name: string(name), dir: mask&unix.IN_ISDIR != 0}
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			ev.op = opOverflow
		case mask&(unix.IN_IGNORED|unix.IN_UNMOUNT) != 0:
			ev.op = opIgnored
		case mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
			ev.op = opCreate
		case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
			ev.op = opRemove
		case mask&(unix.IN_MODIFY|unix.IN_ATTRIB) != 0:
			ev.op = opWrite
		default:
			continue
		}
		batch = append(batch, ev)
	}
	return batch
}
