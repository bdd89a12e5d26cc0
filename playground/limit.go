package playground

import (
	"context"
	"errors"
	"sync"
)

// ErrBusy is returned when a client already has as many requests queued as
// it may, or the global queue is full. Clients should retry later.
var ErrBusy = errors.New("playground: too many requests")

// limiter admits at most global runs at once and at most perClient per
// client key, in arrival order; waiting requests are queued (at most
// maxQueue in all and perClient*queueFactor per client).
type limiter struct {
	global, perClient, maxQueue, maxClientQueue int
	met                                         *serviceMetrics // pending and queued

	mu      sync.Mutex
	running int
	byKey   map[string]int // running per key
	queued  map[string]int // queued per key
	queue   []*waiter
}

type waiter struct {
	key   string
	ready chan struct{} // closed when admitted
}

func newLimiter(global, perClient, maxQueue int, met *serviceMetrics) *limiter {
	return &limiter{
		global: global, perClient: perClient, maxQueue: maxQueue,
		maxClientQueue: max(1, min(maxQueue, 4*perClient)),
		met:            met,
		byKey:          make(map[string]int), queued: make(map[string]int),
	}
}

// acquire blocks until key may run, ctx ends (its error) or the queue is
// full (ErrBusy). The returned func releases the slot; call it once.
func (l *limiter) acquire(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if len(l.queue) >= l.maxQueue || l.queued[key] >= l.maxClientQueue {
		l.mu.Unlock()
		return nil, ErrBusy
	}
	w := &waiter{key: key, ready: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.queued[key]++
	l.met.queued.Inc()
	l.met.pending.Inc()
	l.dispatchLocked()
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		l.met.pending.Dec()
		l.running--
		if l.byKey[key]--; l.byKey[key] <= 0 {
			delete(l.byKey, key)
		}
		l.dispatchLocked()
		l.mu.Unlock()
	}
	select {
	case <-w.ready:
		return sync.OnceFunc(release), nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	select {
	case <-w.ready: // admitted meanwhile: give the slot back
		l.mu.Unlock()
		release()
		return nil, ctx.Err()
	default:
	}
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			break
		}
	}
	l.dequeuedLocked(key)
	l.met.pending.Dec()
	l.mu.Unlock()
	return nil, ctx.Err()
}

// dispatchLocked admits queued waiters in order while slots are free.
func (l *limiter) dispatchLocked() {
	for i := 0; i < len(l.queue) && l.running < l.global; {
		w := l.queue[i]
		if l.byKey[w.key] >= l.perClient {
			i++
			continue
		}
		l.queue = append(l.queue[:i], l.queue[i+1:]...)
		l.dequeuedLocked(w.key)
		l.running++
		l.byKey[w.key]++
		close(w.ready)
	}
}

func (l *limiter) dequeuedLocked(key string) {
	if l.queued[key]--; l.queued[key] <= 0 {
		delete(l.queued, key)
	}
	l.met.queued.Dec()
}
