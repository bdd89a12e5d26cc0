package workspace

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dirWatch is the shared watch of one workspace directory.
type dirWatch struct {
	w     *Watchers
	key   string
	owner string // whose watch budget it draws on
	dir   string
	log   *slog.Logger
	ready chan struct{} // closed when start has returned
	stop  chan struct{} // closed when the watch must end
	// startErr is written before ready is closed.
	startErr error
	stopOnce sync.Once

	mu   sync.Mutex
	subs map[*Subscription]struct{}

	// Owned by start, then by the run goroutine.
	root      *os.Root
	in        *inotify
	events    chan []rawEvent
	dirs      map[int]string      // watch descriptor → directory ("" is the root)
	wds       map[string]int      // directory → watch descriptor
	known     map[string]struct{} // paths believed to exist, to tell created from changed
	pending   map[string]string   // path → event type not yet delivered
	order     []string            // pending paths in first-seen order (may repeat)
	warnedMax bool
	// polled are the directories without a watch: their last listing.
	polled map[string]map[string]pollStamp
	// polling is set while polled is not empty (read by Subscribe).
	polling atomic.Bool
}

func newDirWatch(w *Watchers, key, dir string) *dirWatch {
	owner := key
	if w.opts.Owner != nil {
		if o := w.opts.Owner(key); o != "" {
			owner = o
		}
	}
	return &dirWatch{
		w:     w,
		key:   key,
		owner: owner,
		dir:   dir,
		log:   w.opts.Logger.With("workspace_id", key),
		ready: make(chan struct{}),
		stop:  make(chan struct{}),
		subs:  make(map[*Subscription]struct{}),
	}
}

// start opens the directory and watches its whole tree.
func (dw *dirWatch) start() error {
	root, err := os.OpenRoot(dw.dir)
	if err != nil {
		return fmt.Errorf("watch: open workspace root: %w", err)
	}
	in, err := newInotify()
	if errors.Is(err, syscall.EMFILE) {
		// fs.inotify.max_user_instances is spent: poll everything.
		in, err = nil, nil
	}
	if err != nil {
		root.Close()
		return fmt.Errorf("watch: %w", err)
	}
	dw.root, dw.in = root, in
	dw.dirs = make(map[int]string)
	dw.wds = make(map[string]int)
	dw.known = make(map[string]struct{})
	dw.pending = make(map[string]string)
	dw.polled = make(map[string]map[string]pollStamp)
	d, err := root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err == nil {
		err = dw.watchTree(d, "", false)
	}
	if err != nil {
		if in != nil {
			in.close()
		}
		dw.release()
		root.Close()
		return fmt.Errorf("watch: %w", err)
	}
	if in != nil {
		dw.events = make(chan []rawEvent, 16)
		go in.read(dw.events, dw.stop)
	}
	return nil
}

// release returns the watch's budget and polled directories; the caller
// closes the inotify instance.
func (dw *dirWatch) release() {
	dw.w.budget.give(dw.owner, len(dw.dirs))
	dw.w.npolled.Add(-int64(len(dw.polled)))
	clear(dw.dirs)
	clear(dw.polled)
}

// run is the watch goroutine: it turns raw events into coalesced events
// and delivers them, until stop is closed or the inotify reader ends.
func (dw *dirWatch) run() {
	defer dw.w.wg.Done()
	var timer *time.Timer
	var flush <-chan time.Time
	var ticker *time.Ticker
	var pollC <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if ticker != nil {
			ticker.Stop()
		}
		if dw.in != nil {
			dw.in.close()
			for range dw.events { // until read has returned
			}
		}
		dw.release()
		dw.root.Close()
		dw.w.end(dw)
	}()
	for {
		switch {
		case len(dw.polled) > 0 && ticker == nil:
			ticker = time.NewTicker(dw.w.opts.PollInterval)
			pollC = ticker.C
		case len(dw.polled) == 0 && ticker != nil:
			ticker.Stop()
			ticker, pollC = nil, nil
		}
		select {
		case <-pollC:
			dw.poll()
			if len(dw.pending) > 0 && flush == nil {
				timer = time.NewTimer(dw.w.opts.Coalesce)
				flush = timer.C
			}
		case <-dw.stop:
			return
		case batch, ok := <-dw.events:
			if !ok {
				dw.log.Warn("watch ended: inotify read failed")
				return
			}
			for _, ev := range batch {
				dw.handle(ev)
			}
			if len(dw.pending) > 0 && flush == nil {
				timer = time.NewTimer(dw.w.opts.Coalesce)
				flush = timer.C
			}
		case <-flush:
			flush = nil
			dw.flush()
		}
	}
}

// rawEvent is one decoded inotify event.
type rawEvent struct {
	wd   int
	name string // one path component; "" for the watched directory itself
	op   rawOp
	dir  bool // the event is about a directory
}

type rawOp uint8

const (
	opCreate   rawOp = iota + 1 // created or moved in
	opRemove                    // deleted or moved away
	opWrite                     // content or attributes changed
	opOverflow                  // the kernel queue overflowed
	opIgnored                   // the watch is gone
)

func (dw *dirWatch) handle(ev rawEvent) {
	if ev.op == opOverflow {
		dw.resync()
		return
	}
	dir, ok := dw.dirs[ev.wd]
	if !ok {
		return
	}
	if ev.op == opIgnored {
		dw.forgetWatch(ev.wd)
		return
	}
	if ev.name == "" || strings.HasPrefix(ev.name, tempPrefix) {
		return
	}
	rel := path.Join(dir, ev.name)
	switch ev.op {
	case opCreate:
		kind := EventCreated
		if _, ok := dw.known[rel]; ok {
			kind = EventChanged
		}
		dw.known[rel] = struct{}{}
		dw.note(rel, kind)
		if ev.dir {
			dw.addTree(rel)
		}
	case opRemove:
		if ev.dir {
			dw.forgetTree(rel)
		}
		delete(dw.known, rel)
		dw.note(rel, EventDeleted)
	case opWrite:
		dw.known[rel] = struct{}{}
		dw.note(rel, EventChanged)
	}
}

// note records an event for rel, merged with any pending one.
func (dw *dirWatch) note(rel, kind string) {
	old, ok := dw.pending[rel]
	if !ok {
		dw.pending[rel] = kind
		dw.order = append(dw.order, rel)
		return
	}
	if merged := mergeEvents(old, kind); merged != "" {
		dw.pending[rel] = merged
	} else {
		delete(dw.pending, rel)
	}
}

// mergeEvents merges two events on one path in order; "" means none.
func mergeEvents(old, next string) string {
	switch {
	case old == EventCreated && next == EventDeleted:
		return "" // came and went
	case old == EventCreated:
		return EventCreated
	case next == EventDeleted:
		return EventDeleted
	default: // changed+created/changed, deleted+created/changed
		return EventChanged
	}
}

// flush delivers the pending events in first-seen order.
func (dw *dirWatch) flush() {
	evs := make([]Event, 0, len(dw.pending))
	for _, rel := range dw.order {
		if kind, ok := dw.pending[rel]; ok {
			evs = append(evs, Event{Type: kind, Path: rel})
			delete(dw.pending, rel)
		}
	}
	dw.order = dw.order[:0]
	dw.deliver(evs)
}

func (dw *dirWatch) deliver(evs []Event) {
	if len(evs) == 0 {
		return
	}
	dw.mu.Lock()
	defer dw.mu.Unlock()
	for sub := range dw.subs {
		for _, ev := range evs {
			sub.send(ev, dw.w.opts.Buffer)
		}
	}
}

// resync recovers from a kernel queue overflow: subscribers are told to
// list again, and the watches and the set of known paths are rebuilt.
func (dw *dirWatch) resync() {
	dw.log.Warn("watch queue overflowed; resyncing")
	clear(dw.pending)
	dw.order = dw.order[:0]
	dw.deliver([]Event{{Type: EventOverflow}})
	old := dw.dirs
	dw.w.budget.give(dw.owner, len(old)) // taken again as watchTree adds them
	dw.dirs = make(map[int]string)
	dw.wds = make(map[string]int)
	dw.w.npolled.Add(-int64(len(dw.polled)))
	clear(dw.polled)
	clear(dw.known)
	if d, err := dw.root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0); err == nil {
		_ = dw.watchTree(d, "", false)
	}
	for wd := range old {
		if _, ok := dw.dirs[wd]; !ok {
			dw.in.remove(wd)
		}
	}
}

// addTree watches the new directory rel and reports what it already holds.
func (dw *dirWatch) addTree(rel string) {
	parent, err := dw.root.OpenFile(osName(parentOf(rel)), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	d := openChildDir(parent, path.Base(rel), rel)
	parent.Close()
	if d == nil {
		return
	}
	if err := dw.watchTree(d, rel, true); err != nil {
		dw.log.Debug("watch new directory", "err", err)
	}
}

// watchTree watches the open directory d (at rel) and everything below it,
// and closes d. The watch is added before the directory is read, so an
// entry made meanwhile is seen by one or the other. With emit, entries
// found are reported as created. Children are opened relative to d without
// following symlinks.
func (dw *dirWatch) watchTree(d *os.File, rel string, emit bool) error {
	defer d.Close()
	if len(dw.dirs)+len(dw.polled) >= dw.w.opts.MaxDirs {
		if !dw.warnedMax {
			dw.warnedMax = true
			dw.log.Warn("too many directories to watch; some changes will not be reported", "max_dirs", dw.w.opts.MaxDirs)
		}
		return nil
	}
	watched, err := dw.addWatch(d, rel)
	if err != nil {
		return err
	}
	var names []string
	if watched {
		if names, err = d.Readdirnames(-1); err != nil {
			return nil // vanished or unreadable: its own events tell the rest
		}
	} else {
		ents, ok := dw.startPolling(d, rel)
		if !ok {
			return nil
		}
		for name := range ents {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		child := path.Join(rel, name)
		if _, ok := dw.known[child]; !ok {
			dw.known[child] = struct{}{}
			if emit {
				dw.note(child, EventCreated)
			}
		}
		cf := openChildDir(d, name, child)
		if cf == nil {
			continue
		}
		if err := dw.watchTree(cf, child, emit); err != nil {
			return err
		}
	}
	return nil
}

// forgetTree drops the watches and known paths at and below rel, which was
// deleted or moved away (a moved directory keeps its inotify watch, which
// must not report under the old name).
func (dw *dirWatch) forgetTree(rel string) {
	prefix := rel + "/"
	for dir, wd := range dw.wds {
		if dir == rel || strings.HasPrefix(dir, prefix) {
			dw.in.remove(wd)
			delete(dw.wds, dir)
			if _, ok := dw.dirs[wd]; ok {
				delete(dw.dirs, wd)
				dw.w.budget.give(dw.owner, 1)
			}
		}
	}
	for dir := range dw.polled {
		if dir == rel || strings.HasPrefix(dir, prefix) {
			dw.stopPolling(dir)
		}
	}
	for p := range dw.known {
		if strings.HasPrefix(p, prefix) {
			delete(dw.known, p)
		}
	}
}

func (dw *dirWatch) forgetWatch(wd int) {
	if dir, ok := dw.dirs[wd]; ok {
		delete(dw.dirs, wd)
		dw.w.budget.give(dw.owner, 1)
		if dw.wds[dir] == wd {
			delete(dw.wds, dir)
		}
	}
}

// openChildDir opens the directory name in dir without following
// symlinks, or returns nil if it is anything else.
func openChildDir(dir *os.File, name, rel string) *os.File {
	fd := -1
	var st unix.Stat_t
	_ = withFd(dir, func(dirfd int) error {
		fd = openChild(dirfd, name, &st)
		return nil
	})
	if fd < 0 {
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return nil
	}
	return newDirFile(fd, rel)
}
