// Package ratelimit limits the rate of events per client (an address, a
// client key), one golang.org/x/time/rate token bucket per key, with a
// bound on the keys tracked at once. Per-connection rates need no key:
// they use a *rate.Limiter directly.
//
// The package imports none of ideserver's packages.
package ratelimit

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Overflow is what Keyed does with a new key while it tracks MaxKeys keys
// already (after dropping the full ones).
type Overflow int

const (
	// Untracked keys are not limited: Allow reports true and Delay 0, and
	// nothing is stored. For counting failures, where an attacker who
	// commands that many addresses gains little and innocent clients must
	// not share a bucket with them.
	Untracked Overflow = iota
	// Shared keys share one limiter, so a flood from many clients is
	// limited as a whole rather than growing memory.
	Shared
)

// sweepEvery is how often full limiters are dropped; sweepFullEvery is
// how often at most while the bound is reached (each sweep visits every
// key).
const (
	sweepEvery     = time.Minute
	sweepFullEvery = time.Second
)

// Keyed is a token bucket per key: Burst tokens, refilled at Limit per
// second. A full bucket is the same as none, so a key is stored only
// while its bucket is not full: when a key is added, buckets that have
// refilled are dropped (at most once a minute, or once a second while
// the bound is reached). At most maxKeys keys are tracked; a new key
// beyond that is handled by the Overflow policy. Times are passed in
// (callers use time.Now or their clock). Safe for concurrent use.
type Keyed struct {
	limit    rate.Limit
	burst    int
	maxKeys  int
	overflow Overflow

	mu        sync.Mutex
	limiters  map[string]*rate.Limiter
	shared    *rate.Limiter // Shared: the overflow keys' limiter, created on first use
	lastSweep time.Time
}

// New returns a Keyed of burst tokens per key refilled at limit per
// second, tracking at most maxKeys keys (at least 1). limit must be
// positive and burst at least 1.
func New(limit rate.Limit, burst, maxKeys int, overflow Overflow) *Keyed {
	return &Keyed{
		limit: limit, burst: burst, maxKeys: max(1, maxKeys), overflow: overflow,
		limiters: make(map[string]*rate.Limiter),
	}
}

// Allow takes one token of key's bucket at now and reports whether there
// was one. A refused call takes nothing.
func (k *Keyed) Allow(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.limiterLocked(key, now)
	return l == nil || l.AllowN(now, 1)
}

// Delay reports how long from now until key's bucket holds a token: 0
// when it holds one now. It takes nothing and stores nothing.
func (k *Keyed) Delay(key string, now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.limiters[key]
	if l == nil && k.overflow == Shared && len(k.limiters) >= k.maxKeys {
		l = k.shared
	}
	if l == nil {
		return 0 // a full bucket, or an untracked key
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(k.limit) * float64(time.Second))
}

// limiterLocked returns key's limiter, adding one (full) if key has none;
// nil for an untracked key.
func (k *Keyed) limiterLocked(key string, now time.Time) *rate.Limiter {
	if l := k.limiters[key]; l != nil {
		return l
	}
	if since := now.Sub(k.lastSweep); since >= sweepEvery || (len(k.limiters) >= k.maxKeys && since >= sweepFullEvery) {
		k.sweepLocked(now)
	}
	if len(k.limiters) < k.maxKeys {
		l := rate.NewLimiter(k.limit, k.burst)
		k.limiters[key] = l
		return l
	}
	if k.overflow == Untracked {
		return nil
	}
	if k.shared == nil {
		k.shared = rate.NewLimiter(k.limit, k.burst)
	}
	return k.shared
}

// sweepLocked drops the limiters that have refilled.
func (k *Keyed) sweepLocked(now time.Time) {
	k.lastSweep = now
	for key, l := range k.limiters {
		if l.TokensAt(now) >= float64(k.burst) {
			delete(k.limiters, key)
		}
	}
	if k.shared != nil && k.shared.TokensAt(now) >= float64(k.burst) {
		k.shared = nil
	}
}

// RetryAfter formats d as a Retry-After header value: whole seconds,
// rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}
