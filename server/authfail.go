package server

import (
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/ideserver/ideserver/internal/ratelimit"
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
	authFailMaxKeys = 100_000 // addresses tracked at most; see authFailures
)

// errTooManyFailures answers an address whose bucket is empty.
var errTooManyFailures = errorf(http.StatusTooManyRequests, "too_many_failures", "Too many requests with an invalid credential from your address; wait a moment, then sign in again.")

// authFailures counts bad credentials per client address; safe for
// concurrent use. Beyond authFailMaxKeys addresses (once full buckets are
// dropped), new addresses are not tracked: memory stays bounded, and an
// attacker with that many addresses gains little.
type authFailures struct {
	keyed *ratelimit.Keyed
}

func newAuthFailures(burst int) *authFailures {
	if burst <= 0 {
		burst = authFailBurst
	}
	return &authFailures{keyed: ratelimit.New(rate.Every(authFailRefill), burst, authFailMaxKeys, ratelimit.Untracked)}
}

// blocked reports whether addr has no failures left, and if so how long
// until it has one.
func (a *authFailures) blocked(addr string, now time.Time) (time.Duration, bool) {
	d := a.keyed.Delay(addr, now)
	return d, d > 0
}

// fail takes one failure from addr's bucket.
func (a *authFailures) fail(addr string, now time.Time) {
	a.keyed.Allow(addr, now)
}

// retryAfter sets Retry-After to d rounded up to whole seconds (at
// least 1).
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", ratelimit.RetryAfter(d))
}
