package workspace

import (
	"errors"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// pollStamp is what polling compares of one directory entry.
type pollStamp struct {
	kind         uint32 // S_IFMT bits
	ino          uint64
	size         int64
	mtime, ctime int64 // nanoseconds
}

// listDir lists the open directory d (name → stamp) without following
// symlinks, skipping Files' temporary files. It consumes d's directory
// stream.
func listDir(d *os.File) (map[string]pollStamp, error) {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make(map[string]pollStamp, len(names))
	err = withFd(d, func(fd int) error {
		var st unix.Stat_t
		for _, name := range names {
			if strings.HasPrefix(name, tempPrefix) {
				continue
			}
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				continue // gone meanwhile
			}
			out[name] = pollStamp{
				kind: st.Mode & unix.S_IFMT, ino: st.Ino, size: st.Size,
				mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
			}
		}
		return nil
	})
	return out, err
}

// addWatch puts an inotify watch on the open directory d (at rel) if the
// budgets allow; false means d must be polled (over the server's or the
// owner's budget, no inotify instance, or the kernel's limit reached).
func (dw *dirWatch) addWatch(d *os.File, rel string) (bool, error) {
	if dw.in == nil || !dw.w.budget.take(dw.owner) {
		return false, nil
	}
	wd, err := dw.in.add(d)
	if err != nil {
		dw.w.budget.give(dw.owner, 1)
		if errors.Is(err, syscall.ENOSPC) { // max_user_watches reached
			return false, nil
		}
		return false, err
	}
	if _, dup := dw.dirs[wd]; dup {
		dw.w.budget.give(dw.owner, 1) // that inode was watched already
	}
	dw.dirs[wd] = rel
	dw.wds[rel] = wd
	return true, nil
}

// startPolling records the listing of the open directory d (at rel), which
// is polled from now on, and returns it. Subscribers are told the first
// time the watch polls anything.
func (dw *dirWatch) startPolling(d *os.File, rel string) (map[string]pollStamp, bool) {
	ents, err := listDir(d)
	if err != nil {
		return nil, false // vanished or unreadable: its parent tells the rest
	}
	if _, ok := dw.polled[rel]; !ok {
		dw.w.npolled.Add(1)
	}
	dw.polled[rel] = ents
	if !dw.polling.Load() {
		dw.polling.Store(true)
		total, mine := dw.w.budget.inUse(dw.owner)
		dw.log.Warn("inotify watch budget spent: polling directories instead",
			"owner_watches", mine, "max_tenant_watches", dw.w.budget.perOwner,
			"server_watches", total, "max_watches", dw.w.budget.max, "instance", dw.in != nil)
		dw.deliver([]Event{{Type: EventPolling}})
	}
	return ents, true
}

// stopPolling forgets the polled directory rel.
func (dw *dirWatch) stopPolling(rel string) {
	if _, ok := dw.polled[rel]; ok {
		delete(dw.polled, rel)
		dw.w.npolled.Add(-1)
	}
}

// openDir opens the workspace directory rel without following a symlink
// in its last component, or returns nil.
func (dw *dirWatch) openDir(rel string) *os.File {
	if rel == "" {
		d, err := dw.root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			return nil
		}
		return d
	}
	parent, err := dw.root.OpenFile(osName(parentOf(rel)), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	defer parent.Close()
	return openChildDir(parent, path.Base(rel), rel)
}

// poll scans every polled directory and notes what changed since the last
// scan. A polled directory gets a watch as soon as the budgets allow: the
// watch is added before the last listing, so nothing falls between.
func (dw *dirWatch) poll() {
	rels := make([]string, 0, len(dw.polled))
	for rel := range dw.polled {
		rels = append(rels, rel)
	}
	slices.Sort(rels)
	for _, rel := range rels {
		old, ok := dw.polled[rel]
		if !ok {
			continue // forgotten with a removed parent meanwhile
		}
		d := dw.openDir(rel)
		if d == nil {
			dw.stopPolling(rel) // gone: its parent reports it
			continue
		}
		watched, err := dw.addWatch(d, rel)
		if err != nil {
			dw.log.Debug("watch polled directory", "err", err)
		}
		cur, err := listDir(d)
		d.Close()
		if err != nil {
			continue
		}
		if watched {
			dw.stopPolling(rel)
		} else {
			dw.polled[rel] = cur
		}
		dw.diff(rel, old, cur)
	}
	if len(dw.polled) == 0 && dw.polling.Load() {
		dw.polling.Store(false)
		dw.log.Info("every directory is watched again")
	}
}

// diff notes the changes between two listings of the directory rel.
func (dw *dirWatch) diff(rel string, old, cur map[string]pollStamp) {
	names := make([]string, 0, len(cur)+len(old))
	for n := range cur {
		names = append(names, n)
	}
	for n := range old {
		if _, ok := cur[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		child := path.Join(rel, name)
		o, had := old[name]
		c, has := cur[name]
		switch {
		case had && has && o == c:
		case had && has && o.kind == c.kind && c.kind == unix.S_IFDIR && o.ino == c.ino:
			// A directory's own stamp changes with its entries; they are
			// reported by its own watch or poll.
		case !has:
			if o.kind == unix.S_IFDIR {
				dw.forgetTree(child)
			}
			delete(dw.known, child)
			dw.note(child, EventDeleted)
		default: // new, changed, or replaced by another kind of file
			if had && o.kind == unix.S_IFDIR {
				dw.forgetTree(child)
			}
			kind := EventCreated
			if _, ok := dw.known[child]; ok {
				kind = EventChanged
			}
			dw.known[child] = struct{}{}
			dw.note(child, kind)
			if c.kind == unix.S_IFDIR && (!had || o.kind != unix.S_IFDIR || o.ino != c.ino) {
				dw.addTree(child)
			}
		}
	}
}
