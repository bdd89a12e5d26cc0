package playground

import (
	"errors"
	"time"

	"golang.org/x/time/rate"

	"github.com/ideserver/ideserver/internal/ratelimit"
)

// ErrRateLimited is returned by Share when client has shared too many new
// snippets lately. Clients should retry after ShareRetryAfter.
var ErrRateLimited = errors.New("playground: too many shares")

// DefaultShareRate is the default of Options.ShareRate: new snippets per
// minute per client.
const DefaultShareRate = 30

// maxShareClients bounds the clients tracked at once; beyond it the
// clients not yet tracked share one bucket, so a flood from many
// addresses is limited as a whole rather than growing memory.
const maxShareClients = 1 << 16

// shareLimiter is a token bucket per client: capacity perMinute, refilled
// at perMinute per minute (full buckets are dropped). Safe for concurrent
// use.
type shareLimiter struct {
	keyed *ratelimit.Keyed
	every time.Duration // the time one token takes to refill
	now   func() time.Time
}

func newShareLimiter(perMinute int, now func() time.Time) *shareLimiter {
	every := time.Minute / time.Duration(perMinute)
	return &shareLimiter{
		keyed: ratelimit.New(rate.Every(every), perMinute, maxShareClients, ratelimit.Shared),
		every: every, now: now,
	}
}

// allow takes a token of client's bucket and reports whether there was one.
func (l *shareLimiter) allow(client string) bool {
	return l.keyed.Allow(client, l.now())
}

// ShareRetryAfter is how long a client refused with ErrRateLimited should
// wait before it has a token again (at most a minute).
func (s *Service) ShareRetryAfter() time.Duration {
	if s.shares == nil {
		return 0
	}
	return s.shares.every
}
