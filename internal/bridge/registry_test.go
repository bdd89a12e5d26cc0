package bridge_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
)

// fakeSession records how it was stopped.
type fakeSession struct {
	mu    sync.Mutex
	cause error
	done  chan struct{}
	once  sync.Once
	hang  bool // Stop does not end it
}

func newFake() *fakeSession { return &fakeSession{done: make(chan struct{})} }

func (f *fakeSession) Stop(cause error) {
	f.mu.Lock()
	f.cause = cause
	f.mu.Unlock()
	if !f.hang {
		f.once.Do(func() { close(f.done) })
	}
}

func (f *fakeSession) Done() <-chan struct{} { return f.done }

func (f *fakeSession) stoppedWith() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cause
}

func TestRegistryLimits(t *testing.T) {
	r := bridge.NewRegistry[*fakeSession](bridge.Limits{PerWorkspace: 2, PerTenant: 3, PerOwner: 3})
	k := func(tenant, owner, ws string) bridge.Key {
		return bridge.Key{Tenant: tenant, Owner: owner, WorkspaceID: ws}
	}
	a, b, c := newFake(), newFake(), newFake()
	if err := r.Add(k("t", "t/u", "w1"), "", a); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(k("t", "t/u", "w1"), "", b); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(k("t", "t/u", "w1"), "", c); !errors.Is(err, bridge.ErrLimit) {
		t.Fatalf("third in a workspace: %v, want ErrLimit", err)
	}
	if err := r.Add(k("t", "t/v", "w2"), "", c); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(k("t", "t/w", "w3"), "", newFake()); !errors.Is(err, bridge.ErrLimit) {
		t.Fatalf("fourth in a tenant: %v, want ErrLimit", err)
	}
	if err := r.Add(k("s", "s/u", "w4"), "", newFake()); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	r.Remove(a)
	r.Remove(a) // idempotent: frees one slot only
	if err := r.Add(k("t", "t/u", "w1"), "", a); err != nil {
		t.Fatalf("after Remove: %v", err)
	}
	if err := r.Add(k("t", "t/u", "w1"), "", newFake()); !errors.Is(err, bridge.ErrLimit) {
		t.Fatalf("double Remove freed two slots: %v", err)
	}
}

// TTY-11: a session is found by id only by its own owner and workspace.
func TestRegistryGetIsPerOwner(t *testing.T) {
	r := bridge.NewRegistry[*fakeSession](bridge.Limits{})
	mine := bridge.Key{Tenant: "t", Owner: "t/u", WorkspaceID: "w1"}
	s := newFake()
	if err := r.Add(mine, "term1", s); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(mine, "term1", newFake()); err == nil {
		t.Fatal("a duplicate id was accepted")
	}
	if got, ok := r.Get(mine, "term1"); !ok || got != s {
		t.Fatal("own session not found")
	}
	for _, other := range []bridge.Key{
		{Tenant: "t", Owner: "t/v", WorkspaceID: "w1"},
		{Tenant: "t", Owner: "t/u", WorkspaceID: "w2"},
		{Tenant: "x", Owner: "x/u", WorkspaceID: "w1"},
	} {
		if _, ok := r.Get(other, "term1"); ok {
			t.Errorf("%+v found another owner's session", other)
		}
		if l := r.List(other); len(l) != 0 {
			t.Errorf("%+v lists another owner's sessions", other)
		}
	}
	second := newFake()
	_ = r.Add(mine, "term2", second)
	if l := r.List(mine); len(l) != 2 || l[0] != s || l[1] != second {
		t.Fatalf("List = %v, want both in Add order", l)
	}
	r.Remove(s)
	if _, ok := r.Get(mine, "term1"); ok {
		t.Fatal("removed session still found")
	}
}

func TestRegistryStopAndClose(t *testing.T) {
	r := bridge.NewRegistry[*fakeSession](bridge.Limits{})
	w1a, w1b, w2 := newFake(), newFake(), newFake()
	_ = r.Add(bridge.Key{WorkspaceID: "w1"}, "", w1a)
	_ = r.Add(bridge.Key{WorkspaceID: "w1"}, "", w1b)
	_ = r.Add(bridge.Key{WorkspaceID: "w2"}, "", w2)
	if err := r.Stop(context.Background(), "w1"); err != nil {
		t.Fatal(err)
	}
	if w1a.stoppedWith() != bridge.ErrWorkspaceStopped || w1b.stoppedWith() != bridge.ErrWorkspaceStopped {
		t.Fatal("w1's sessions were not stopped with ErrWorkspaceStopped")
	}
	if w2.stoppedWith() != nil {
		t.Fatal("Stop of w1 stopped w2's session")
	}
	hung := newFake()
	hung.hang = true
	_ = r.Add(bridge.Key{WorkspaceID: "w3"}, "", hung)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a session that does not end: %v, want the context's error", err)
	}
	if w2.stoppedWith() != bridge.ErrShuttingDown {
		t.Fatal("Close did not stop w2's session with ErrShuttingDown")
	}
	if err := r.Add(bridge.Key{WorkspaceID: "w4"}, "", newFake()); !errors.Is(err, bridge.ErrClosed) {
		t.Fatalf("Add after Close: %v, want ErrClosed", err)
	}
}
