package auth

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrInvalidTicket is the one error Tickets.Redeem returns (possibly
// wrapped with a reason for the log) for every failure: unknown, already
// used, expired, or presented for another path.
var ErrInvalidTicket = errors.New("invalid ticket")

// ErrTooManyTickets is returned by Tickets.Issue when the user already holds
// the maximum number of live tickets.
var ErrTooManyTickets = errors.New("too many outstanding tickets")

// Ticket defaults.
const (
	DefaultTicketTTL        = 60 * time.Second
	DefaultTicketMaxPerUser = 64
	maxTicketPathLen        = 2048
)

// TicketOptions configures Tickets. Zero values select the defaults.
type TicketOptions struct {
	// TTL is how long a ticket may be redeemed after issue; 0 means 60s.
	TTL time.Duration
	// MaxPerUser bounds the live (unexpired, unredeemed) tickets of one
	// user of one tenant; 0 means 64.
	MaxPerUser int
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Tickets issues and redeems single-use WebSocket tickets (docs/api.md
// "Tickets for WebSockets"; AUTH-05 in docs/security.md). Tickets are held in memory by hash
// only, so a server restart invalidates them all, which is harmless for
// 60-second credentials. A Tickets is safe for concurrent use, starts no
// goroutine and needs no Close: expired tickets are pruned lazily on Issue
// and Redeem.
type Tickets struct {
	ttl        time.Duration
	maxPerUser int
	now        func() time.Time

	mu        sync.Mutex
	byHash    map[string]*ticketEntry         // key: string(HashSecret(ticket))
	byUser    map[userKey]map[string]struct{} // live ticket hashes per user
	nextSweep time.Time                       // when Issue next prunes all users
}

type userKey struct{ tenant, user string }

type ticketEntry struct {
	owner   userKey
	path    string
	expires time.Time
}

// NewTickets returns an empty ticket store configured by o. Negative TTL or
// MaxPerUser are treated as 0 (the defaults).
func NewTickets(o TicketOptions) *Tickets {
	t := &Tickets{
		ttl:        o.TTL,
		maxPerUser: o.MaxPerUser,
		now:        o.Now,
		byHash:     make(map[string]*ticketEntry),
		byUser:     make(map[userKey]map[string]struct{}),
	}
	if t.ttl <= 0 {
		t.ttl = DefaultTicketTTL
	}
	if t.maxPerUser <= 0 {
		t.maxPerUser = DefaultTicketMaxPerUser
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Issue creates a ticket (a PrefixTicket secret) that Redeem accepts once,
// before expires, for exactly path, and that then yields tenant and user.
// tenant and user must satisfy ValidID (else an error wrapping
// ErrInvalidID); path must start with "/" and hold no whitespace or control
// characters. It returns ErrTooManyTickets when the user already holds
// MaxPerUser live tickets. It does not block beyond a short lock.
func (t *Tickets) Issue(tenant, user, path string) (ticket string, expires time.Time, err error) {
	if !ValidID(tenant) {
		return "", time.Time{}, fmt.Errorf("issue ticket: tenant: %w", ErrInvalidID)
	}
	if !ValidID(user) {
		return "", time.Time{}, fmt.Errorf("issue ticket: user: %w", ErrInvalidID)
	}
	if !validTicketPath(path) {
		return "", time.Time{}, fmt.Errorf("issue ticket: invalid path %s", quoteShort(path))
	}
	ticket, hash, err := NewSecret(PrefixTicket)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue ticket: %w", err)
	}
	owner := userKey{tenant, user}

	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if !now.Before(t.nextSweep) {
		t.sweepLocked(now)
		t.nextSweep = now.Add(t.ttl)
	}
	live := t.byUser[owner]
	if len(live) >= t.maxPerUser {
		t.pruneUserLocked(owner, now) // the user's own expired ones first
		live = t.byUser[owner]
		if len(live) >= t.maxPerUser {
			return "", time.Time{}, fmt.Errorf("issue ticket: %w", ErrTooManyTickets)
		}
	}
	if live == nil {
		live = make(map[string]struct{})
		t.byUser[owner] = live
	}
	expires = now.Add(t.ttl)
	h := string(hash)
	t.byHash[h] = &ticketEntry{owner: owner, path: path, expires: expires}
	live[h] = struct{}{}
	return ticket, expires, nil
}

// Redeem consumes ticket and returns the tenant and user it was issued to.
// It succeeds at most once per ticket, only before the ticket's expiry and
// only when path equals the path the ticket was issued for. Any
// presentation of a known ticket — right or wrong path, expired or not —
// consumes it, so a mistaken or replayed ticket is never usable again.
// Lookup is by SHA-256 of the presented ticket, so its timing reveals
// nothing about stored tickets. Every failure wraps ErrInvalidTicket. It
// does not block beyond a short lock.
func (t *Tickets) Redeem(ticket, path string) (tenant, user string, err error) {
	if ticket == "" || len(ticket) > 256 {
		return "", "", fmt.Errorf("%w: malformed", ErrInvalidTicket)
	}
	h := string(HashSecret(ticket))

	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byHash[h]
	if !ok {
		return "", "", fmt.Errorf("%w: unknown or already used", ErrInvalidTicket)
	}
	t.removeLocked(h, e)
	if !t.now().Before(e.expires) {
		return "", "", fmt.Errorf("%w: expired", ErrInvalidTicket)
	}
	if path != e.path {
		return "", "", fmt.Errorf("%w: issued for another path", ErrInvalidTicket)
	}
	return e.owner.tenant, e.owner.user, nil
}

func (t *Tickets) removeLocked(h string, e *ticketEntry) {
	delete(t.byHash, h)
	if live := t.byUser[e.owner]; live != nil {
		delete(live, h)
		if len(live) == 0 {
			delete(t.byUser, e.owner)
		}
	}
}

func (t *Tickets) pruneUserLocked(owner userKey, now time.Time) {
	for h := range t.byUser[owner] {
		if e := t.byHash[h]; e != nil && !now.Before(e.expires) {
			t.removeLocked(h, e)
		}
	}
}

// sweepLocked removes every expired ticket. Issue calls it at most once per
// TTL, so its cost is amortised over the tickets issued in that time.
func (t *Tickets) sweepLocked(now time.Time) {
	for h, e := range t.byHash {
		if !now.Before(e.expires) {
			t.removeLocked(h, e)
		}
	}
}

// validTicketPath reports whether p is a plausible URL path to bind a
// ticket to: starts with "/", bounded, no whitespace or control bytes.
func validTicketPath(p string) bool {
	if !strings.HasPrefix(p, "/") || len(p) > maxTicketPathLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] == 0x7f {
			return false
		}
	}
	return true
}
