package workspace

import (
	"context"
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

// Event types.
const (
	EventCreated = "created"
	EventChanged = "changed"
	EventDeleted = "deleted"
	// EventOverflow (with Path "") says events were lost, because the
	// subscriber fell behind or the kernel queue overflowed: the client
	// should list the workspace again.
	EventOverflow = "overflow"
	// EventPolling (with Path "") says some directories of the workspace
	// are polled instead of watched, because the server's or the tenant's
	// budget of inotify watches is spent (WatcherOptions.MaxWatches,
	// MaxTenantWatches): changes there still arrive, within
	// WatcherOptions.PollInterval.
	EventPolling = "polling"
)

// Event is one change in a watched workspace, as the /watch WebSocket
// sends it.
type Event struct {
	Type string `json:"type"` // EventCreated, EventChanged, EventDeleted, EventOverflow or EventPolling
	// Path is slash-separated and relative to the workspace root.
	Path string `json:"path"`
}

// WatcherOptions configures Watchers.
type WatcherOptions struct {
	Logger *slog.Logger // nil: discard
	// Coalesce is the window in which changes to one path are merged into
	// one event; 0 means 50ms.
	Coalesce time.Duration
	// Buffer is each subscriber's queue length; 0 means 256.
	Buffer int
	// MaxDirs bounds how many directories of one workspace are followed,
	// watched or polled; 0 means 8192. Directories beyond it are not
	// followed, and that is logged.
	MaxDirs int
	// MaxWatches bounds the inotify watches of all workspaces together
	// (each watched directory costs one of the kernel's
	// fs.inotify.max_user_watches, which is per uid: the server's uid
	// shares it with everything else it runs); 0 means
	// DefaultMaxWatches(), half the kernel's limit. MaxTenantWatches
	// bounds those of one tenant's workspaces together (Owner); 0 means
	// a quarter of MaxWatches. Directories over either budget are polled
	// (SBX-10).
	MaxWatches       int
	MaxTenantWatches int
	// Owner returns the tenant whose budget the watch of key (a
	// workspace id) draws on; nil, or "" returned: the key itself.
	Owner func(key string) string
	// PollInterval is how often polled directories are scanned; 0 means
	// 2s.
	PollInterval time.Duration
}

// Watchers reports file changes in workspace directories, from any source
// (Files, a tenant's shell, tools). Subscribers of one key share one
// recursive watch, which holds one inotify instance (a scarce kernel
// resource) and starts with the first subscriber and stops with the last.
//
// A watch covers the directory tree: directories created later are watched
// too, and whatever they already hold when the watch reaches them is
// reported as created (so "mkdir -p a/b/c && echo x > a/b/c/f" yields
// events down to a/b/c/f). Symlinks are never followed and no watch is ever
// placed outside the directory. Files' temporary files are not reported;
// an atomic replace shows as "changed" of the final name (or "created" if it
// was new).
//
// Changes to one path within the Coalesce window are merged: any number of
// writes give one "changed"; created then changed gives "created"; deleted
// then created gives "changed"; created then deleted within the window gives
// nothing at all. Deleting or moving away a directory reports the directory;
// its contents may or may not be reported one by one.
//
// A subscriber that falls Buffer events behind gets one "overflow" and
// loses events until it has read everything queued; it never slows the
// watch or other subscribers.
//
// Each watched directory costs a kernel inotify watch, drawn from a
// server-wide and a per-tenant budget (WatcherOptions.MaxWatches,
// MaxTenantWatches). A directory that gets none is polled instead: its
// changes are found by listing it every PollInterval, reported the same
// way, and subscribers get one EventPolling. A polled directory is watched
// again when the budgets allow. So one tenant's large workspaces never make
// another's watches fail.
//
// Watchers is safe for concurrent use. Only Linux is supported; elsewhere
// Subscribe fails.
type Watchers struct {
	opts    WatcherOptions
	budget  *watchBudget
	npolled atomic.Int64 // directories polled, all watches

	mu      sync.Mutex
	watches map[string]*dirWatch // key → running watch
	closed  bool
	wg      sync.WaitGroup // one per dirWatch until its goroutines end
}

// NewWatchers returns an empty set of watches. The caller must Close it.
func NewWatchers(opts WatcherOptions) *Watchers {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Coalesce <= 0 {
		opts.Coalesce = 50 * time.Millisecond
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 256
	}
	if opts.MaxDirs <= 0 {
		opts.MaxDirs = 8192
	}
	if opts.MaxWatches <= 0 {
		opts.MaxWatches = DefaultMaxWatches()
	}
	if opts.MaxTenantWatches <= 0 {
		opts.MaxTenantWatches = max(1, opts.MaxWatches/4)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	return &Watchers{
		opts: opts, watches: make(map[string]*dirWatch),
		budget: newWatchBudget(opts.MaxWatches, opts.MaxTenantWatches),
	}
}

// Stats returns the inotify watches held and the directories polled
// instead, over all workspaces.
func (w *Watchers) Stats() WatchStats {
	total, _ := w.budget.inUse("")
	return WatchStats{Watches: total, Polled: int(w.npolled.Load())}
}

// Subscribe starts, or joins, the watch of the workspace directory dir for
// key (the workspace id). Every subscriber of one key must pass the same
// dir. It blocks until the watch is set up (a walk of the tree), so every
// change after it returns is reported. The subscription delivers events
// until Close, ctx's end, Stop(key) or Close of the Watchers; then its
// Events channel is closed. Errors may name dir: they are for the
// server's log, not for a client.
func (w *Watchers) Subscribe(ctx context.Context, key, dir string) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, fmt.Errorf("watch: %w", ErrClosed)
	}
	dw, ok := w.watches[key]
	if ok && dw.dir != dir {
		w.mu.Unlock()
		return nil, fmt.Errorf("watch %q: already watching another directory", key)
	}
	if !ok {
		dw = newDirWatch(w, key, dir)
		w.watches[key] = dw
		w.wg.Add(1)
	}
	sub := &Subscription{dw: dw, ch: make(chan Event, w.opts.Buffer+1)}
	dw.mu.Lock()
	dw.subs[sub] = struct{}{}
	dw.mu.Unlock()
	w.mu.Unlock()

	if !ok {
		dw.startErr = dw.start()
		close(dw.ready)
		if dw.startErr != nil {
			w.end(dw)
			w.wg.Done()
			return nil, dw.startErr
		}
		go dw.run()
	} else {
		select {
		case <-dw.ready:
		case <-ctx.Done():
			sub.Close()
			return nil, fmt.Errorf("watch: %w", ctx.Err())
		}
		if dw.startErr != nil {
			return nil, dw.startErr
		}
		if dw.polling.Load() {
			dw.mu.Lock()
			sub.send(Event{Type: EventPolling}, w.opts.Buffer)
			dw.mu.Unlock()
		}
	}

	stop := context.AfterFunc(ctx, sub.Close)
	dw.mu.Lock()
	if sub.closed {
		dw.mu.Unlock()
		stop()
	} else {
		sub.stopCtx = stop
		dw.mu.Unlock()
	}
	return sub, nil
}

// Stop ends every subscription of key (the workspace was deleted or
// suspended) and stops its watch. It does not wait for the watch's
// goroutine; Close does.
func (w *Watchers) Stop(key string) {
	w.mu.Lock()
	dw := w.watches[key]
	w.mu.Unlock()
	if dw != nil {
		w.end(dw)
	}
}

// Close ends every subscription, stops every watch and waits for their
// goroutines. Later Subscribe calls fail with ErrClosed.
func (w *Watchers) Close() error {
	w.mu.Lock()
	w.closed = true
	all := make([]*dirWatch, 0, len(w.watches))
	for _, dw := range w.watches {
		all = append(all, dw)
	}
	w.mu.Unlock()
	for _, dw := range all {
		w.end(dw)
	}
	w.wg.Wait()
	return nil
}

// end forgets dw, closes its subscriptions and tells its goroutine to stop.
func (w *Watchers) end(dw *dirWatch) {
	w.mu.Lock()
	if w.watches[dw.key] == dw {
		delete(w.watches, dw.key)
	}
	w.mu.Unlock()
	dw.mu.Lock()
	var stops []func() bool
	for sub := range dw.subs {
		if s := sub.closeLocked(); s != nil {
			stops = append(stops, s)
		}
	}
	dw.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	dw.stopOnce.Do(func() { close(dw.stop) })
}

// Subscription is one subscriber's share of a watch: its own event
// stream.
type Subscription struct {
	dw *dirWatch
	ch chan Event // capacity Buffer+1: the last slot holds the overflow notice

	// Guarded by dw.mu.
	dropping bool // sent an overflow notice; dropping until ch is drained
	closed   bool
	stopCtx  func() bool
}

// Events delivers the subscription's events in order. It is closed when the
// subscription ends.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Close ends the subscription and closes Events; the watch stops when its
// last subscriber leaves. It does not block and may be called many times.
func (s *Subscription) Close() {
	w := s.dw.w
	w.mu.Lock()
	dw := s.dw
	dw.mu.Lock()
	stop := s.closeLocked()
	last := len(dw.subs) == 0
	if last && w.watches[dw.key] == dw {
		delete(w.watches, dw.key)
	}
	dw.mu.Unlock()
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
	if last {
		dw.stopOnce.Do(func() { close(dw.stop) })
	}
}

// closeLocked removes s from its watch and closes its channel. It returns
// the function that unregisters the context callback. Callers hold dw.mu.
func (s *Subscription) closeLocked() func() bool {
	if s.closed {
		return nil
	}
	s.closed = true
	delete(s.dw.subs, s)
	close(s.ch)
	return s.stopCtx
}

// send queues ev without ever blocking. Only the watch goroutine sends,
// under dw.mu, so len(ch) cannot grow behind its back.
func (s *Subscription) send(ev Event, buffer int) {
	if s.closed {
		return
	}
	if s.dropping {
		if len(s.ch) > 0 {
			return
		}
		s.dropping = false
	}
	if ev.Type != EventOverflow && len(s.ch) < buffer {
		s.ch <- ev
		return
	}
	s.ch <- Event{Type: EventOverflow}
	s.dropping = true
}

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
