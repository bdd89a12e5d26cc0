package bridge

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// Session is what a Registry keeps: something a bridge runs for one
// workspace and bridges clients to (an LSP session, a debug session, a
// terminal, or a WebSocket itself). Stop asks it to end, with a cause
// that says why (ErrWorkspaceStopped, ErrShuttingDown); Done is closed
// once it has ended and everything it started is gone. Sessions are
// compared by identity (use pointers).
type Session interface {
	comparable
	Stop(cause error)
	Done() <-chan struct{}
}

// Key says whose a session is: the owner's tenant, the owner key
// (workspace.Owner.Key) and the workspace. Fields may be empty where a
// registry does not count by them.
type Key struct {
	Tenant      string
	Owner       string
	WorkspaceID string
}

// Limits bounds the sessions of a Registry; 0 means no limit.
type Limits struct {
	PerWorkspace int // per Key.WorkspaceID
	PerTenant    int // per Key.Tenant
	PerOwner     int // per Key.Owner
}

// Registry keeps the running sessions of one bridge: it enforces the
// limits when a session is added, finds sessions by owner and workspace,
// stops a workspace's sessions, and stops all of them at shutdown. It is
// safe for concurrent use.
type Registry[S Session] struct {
	limits Limits

	mu       sync.Mutex
	closed   bool
	seq      uint64
	entries  map[S]entry
	byID     map[string]S
	perWS    map[string]int
	perTen   map[string]int
	perOwner map[string]int
}

type entry struct {
	key Key
	id  string
	seq uint64
}

// NewRegistry returns an empty Registry with limits.
func NewRegistry[S Session](limits Limits) *Registry[S] {
	return &Registry[S]{
		limits:   limits,
		entries:  make(map[S]entry),
		byID:     make(map[string]S),
		perWS:    make(map[string]int),
		perTen:   make(map[string]int),
		perOwner: make(map[string]int),
	}
}

// Add registers s under k, findable by id when id is not empty (ids are
// unique in a registry). It fails with an error wrapping ErrLimit when k's
// workspace, tenant or owner is at its limit, and with ErrClosed once
// Close has begun. The caller calls Remove when s has ended.
func (r *Registry[S]) Add(k Key, id string, s S) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch l := r.limits; {
	case r.closed:
		return ErrClosed
	case l.PerWorkspace > 0 && r.perWS[k.WorkspaceID] >= l.PerWorkspace:
		return fmt.Errorf("%w: %d in this workspace", ErrLimit, l.PerWorkspace)
	case l.PerTenant > 0 && r.perTen[k.Tenant] >= l.PerTenant:
		return fmt.Errorf("%w: %d in this tenant", ErrLimit, l.PerTenant)
	case l.PerOwner > 0 && r.perOwner[k.Owner] >= l.PerOwner:
		return fmt.Errorf("%w: %d for this user", ErrLimit, l.PerOwner)
	}
	if _, ok := r.entries[s]; ok {
		return fmt.Errorf("bridge: session added twice")
	}
	if id != "" {
		if _, ok := r.byID[id]; ok {
			return fmt.Errorf("bridge: session id %q in use", id)
		}
		r.byID[id] = s
	}
	r.seq++
	r.entries[s] = entry{key: k, id: id, seq: r.seq}
	r.perWS[k.WorkspaceID]++
	r.perTen[k.Tenant]++
	r.perOwner[k.Owner]++
	return nil
}

// Remove forgets s and frees its slot. It is idempotent.
func (r *Registry[S]) Remove(s S) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[s]
	if !ok {
		return
	}
	delete(r.entries, s)
	if e.id != "" {
		delete(r.byID, e.id)
	}
	dec(r.perWS, e.key.WorkspaceID)
	dec(r.perTen, e.key.Tenant)
	dec(r.perOwner, e.key.Owner)
}

func dec(m map[string]int, k string) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// Get returns the session with id when it belongs to k's owner and
// workspace: another owner's id is not found.
func (r *Registry[S]) Get(k Key, id string) (S, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	if !ok || !sameOwner(r.entries[s].key, k) {
		var zero S
		return zero, false
	}
	return s, true
}

func sameOwner(a, b Key) bool { return a.Owner == b.Owner && a.WorkspaceID == b.WorkspaceID }

// List returns the sessions of k's owner and workspace in the order they
// were added.
func (r *Registry[S]) List(k Key) []S {
	return r.where(func(e entry) bool { return sameOwner(e.key, k) })
}

// All returns every session in the order they were added.
func (r *Registry[S]) All() []S {
	return r.where(func(entry) bool { return true })
}

// Len returns how many sessions are registered.
func (r *Registry[S]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// where returns the matching sessions in the order they were added.
func (r *Registry[S]) where(match func(entry) bool) []S {
	r.mu.Lock()
	defer r.mu.Unlock()
	type item struct {
		s   S
		seq uint64
	}
	items := make([]item, 0, len(r.entries))
	for s, e := range r.entries {
		if match(e) {
			items = append(items, item{s, e.seq})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]S, len(items))
	for i, it := range items {
		out[i] = it.s
	}
	return out
}

// Stop stops every session of the workspace with ErrWorkspaceStopped and
// waits until each has ended or ctx ends.
func (r *Registry[S]) Stop(ctx context.Context, workspaceID string) error {
	return stopAll(ctx, r.where(func(e entry) bool { return e.key.WorkspaceID == workspaceID }), ErrWorkspaceStopped)
}

// Close makes later Adds fail with ErrClosed, stops every session with
// ErrShuttingDown, and waits until each has ended or ctx ends. It may be
// called more than once.
func (r *Registry[S]) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return stopAll(ctx, r.All(), ErrShuttingDown)
}

// stopAll stops ss with cause, all at once, then waits for each.
func stopAll[S Session](ctx context.Context, ss []S, cause error) error {
	for _, s := range ss {
		s.Stop(cause)
	}
	for _, s := range ss {
		if err := WaitClosed(ctx, s.Done()); err != nil {
			return err
		}
	}
	return nil
}
