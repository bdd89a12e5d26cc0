package workspace

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// Inotify watch budgets (SBX-10). Every watched directory costs one of
// fs.inotify.max_user_watches, a per-uid kernel limit: the server adds all
// watches as its own uid, so without a budget one tenant's large
// workspaces would use up the limit for every tenant and for everything
// else the server's uid runs. Watchers therefore hold a server-wide budget
// and a per-tenant one; a directory that gets no watch (over either
// budget, or refused by the kernel) is polled instead, so its changes
// still arrive, later, and subscribers are told with EventPolling.

// watchBudget counts the inotify watches of all dirWatches, in total and
// per owner (tenant). Safe for concurrent use.
type watchBudget struct {
	max, perOwner int

	mu      sync.Mutex
	used    int
	byOwner map[string]int
}

func newWatchBudget(max, perOwner int) *watchBudget {
	return &watchBudget{max: max, perOwner: perOwner, byOwner: make(map[string]int)}
}

// take reserves one watch for owner, or reports false when the server or
// the owner is at its budget.
func (b *watchBudget) take(owner string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used >= b.max || b.byOwner[owner] >= b.perOwner {
		return false
	}
	b.used++
	b.byOwner[owner]++
	return true
}

// give returns n watches of owner.
func (b *watchBudget) give(owner string, n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.byOwner[owner] -= n; b.byOwner[owner] <= 0 {
		delete(b.byOwner, owner)
	}
}

// inUse returns the watches held in total and by owner.
func (b *watchBudget) inUse(owner string) (total, byOwner int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.byOwner[owner]
}

// kernelMaxWatches is fs.inotify.max_user_watches, or 0 when it cannot be
// read.
func kernelMaxWatches() int {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_watches")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// DefaultMaxWatches is WatcherOptions.MaxWatches when it is 0: half of the
// kernel's fs.inotify.max_user_watches (the rest stays for everything else
// the server's uid runs), or 8192 when that cannot be read.
func DefaultMaxWatches() int {
	if n := kernelMaxWatches() / 2; n > 0 {
		return n
	}
	return 8192
}

// WatchStats is the use of the watch budget (Watchers.Stats).
type WatchStats struct {
	Watches int // inotify watches held, all tenants
	Polled  int // directories polled instead
}
