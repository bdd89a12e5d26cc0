package workspace

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
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
