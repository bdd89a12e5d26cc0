package playground

import (
	"errors"
	"sync"
	"time"
)

// ErrRateLimited is returned by Share when client has shared too many new
// snippets lately. Clients should retry after ShareRetryAfter.
var ErrRateLimited = errors.New("playground: too many shares")

// DefaultShareRate is the default of Options.ShareRate: new snippets per
// minute per client.
const DefaultShareRate = 30

// maxShareBuckets bounds the clients tracked at once; beyond it the
// clients not yet tracked share one bucket, so a flood from many
// addresses is limited as a whole rather than growing memory.
const maxShareBuckets = 1 << 16

// overflowKey is the shared bucket of clients beyond maxShareBuckets.
const overflowKey = "\x00overflow"

// shareLimiter is a token bucket per client: capacity rate, refilled at
// rate per minute. A full bucket is the same as none, so buckets that have
// refilled are dropped on a sweep. Safe for concurrent use.
type shareLimiter struct {
	rate  float64 // tokens per minute, also the capacity
	every time.Duration
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

func newShareLimiter(perMinute int, now func() time.Time) *shareLimiter {
	return &shareLimiter{
		rate: float64(perMinute), every: time.Minute / time.Duration(perMinute),
		now: now, buckets: make(map[string]*bucket),
	}
}

// allow takes a token of client's bucket and reports whether there was one.
func (l *shareLimiter) allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) >= time.Minute {
		l.sweepLocked(now)
	}
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= maxShareBuckets {
			client = overflowKey
			b = l.buckets[client]
		}
		if b == nil {
			b = &bucket{tokens: l.rate, at: now}
			l.buckets[client] = b
		}
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *shareLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.rate, b.tokens+l.rate*d.Minutes())
		b.at = now
	}
}

// sweepLocked drops the buckets that have refilled.
func (l *shareLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.rate {
			delete(l.buckets, k)
		}
	}
}

// ShareRetryAfter is how long a client refused with ErrRateLimited should
// wait before it has a token again (at most a minute).
func (s *Service) ShareRetryAfter() time.Duration {
	if s.shares == nil {
		return 0
	}
	return s.shares.every
}
