package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Credential guessing (AUTH-06). Every credential is a 256-bit secret or a
// signed JWT, so guessing one is hopeless; still, a client address that
// keeps presenting bad credentials is slowed down, so that no endpoint is
// an unlimited oracle and logs are not flooded. There is no per-account
// limit because no credential names an account: a token or cookie is the
// whole secret (no user name and password pair to lock).
//
// Each client address (IPv4, or IPv6 /64; behind trusted proxies, the
// client) has a bucket of Options.AuthFailureBurst failures (default
// authFailBurst), refilled at one per
// authFailRefill. While it is empty, every request of that address that
// presents a credential is answered 429 with Retry-After before the
// credential is looked at, good credentials included (an attacker must not
// learn that a guess was right). Requests without a credential are not
// affected.
const (
	authFailBurst   = 30
	authFailRefill  = 2 * time.Second
	authFailMaxKeys = 100_000 // addresses tracked at most; see note
)

// errTooManyFailures answers an address whose bucket is empty.
var errTooManyFailures = errorf(http.StatusTooManyRequests, "too_many_failures", "Too many requests with an invalid credential from your address; wait a moment, then sign in again.")

// authFailures counts bad credentials per client address; safe for
// concurrent use.
type authFailures struct {
	burst     float64
	mu        sync.Mutex
	buckets   map[string]failBucket
	nextSweep time.Time
}

// failBucket is a token bucket stored lazily: tokens as of at.
type failBucket struct {
	tokens float64
	at     time.Time
}

func newAuthFailures(burst int) *authFailures {
	if burst <= 0 {
		burst = authFailBurst
	}
	return &authFailures{burst: float64(burst), buckets: make(map[string]failBucket)}
}

// level returns the bucket of addr refilled to now.
func (a *authFailures) level(addr string, now time.Time) failBucket {
	b, ok := a.buckets[addr]
	if !ok {
		return failBucket{tokens: a.burst, at: now}
	}
	b.tokens = min(a.burst, b.tokens+float64(now.Sub(b.at))/float64(authFailRefill))
	b.at = now
	return b
}

// blocked reports whether addr has no failures left, and if so how long
// until it has one.
func (a *authFailures) blocked(addr string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.level(addr, now)
	if b.tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(authFailRefill)), true
}

// fail takes one failure from addr's bucket.
func (a *authFailures) fail(addr string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.buckets) >= authFailMaxKeys || !now.Before(a.nextSweep) {
		// Full buckets carry no information: drop them. Past the bound
		// after that, new addresses are not tracked (memory stays
		// bounded; an attacker with that many addresses gains little).
		for k := range a.buckets {
			if a.level(k, now).tokens >= a.burst {
				delete(a.buckets, k)
			}
		}
		a.nextSweep = now.Add(time.Minute)
	}
	if _, ok := a.buckets[addr]; !ok && len(a.buckets) >= authFailMaxKeys {
		return
	}
	b := a.level(addr, now)
	b.tokens = max(0, b.tokens-1)
	a.buckets[addr] = b
}

// presentsCredential reports whether r carries something authenticate
// would check.
func (s *Server) presentsCredential(r *http.Request, upgrade bool) bool {
	if r.Header.Get("Authorization") != "" || (upgrade && r.URL.Query().Has("ticket")) {
		return true
	}
	c, err := r.Cookie(s.cookieName())
	return err == nil && c.Value != ""
}

// retryAfter sets Retry-After to d rounded up to whole seconds.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}
