package auth_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ideserver/ideserver/auth"
)

// fakeClock is a settable clock for Now options.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const lspPath = "/api/v1/workspaces/ws1/lsp"

func issue(t *testing.T, tk *auth.Tickets, tenant, user, path string) string {
	t.Helper()
	tok, _, err := tk.Issue(tenant, user, path)
	if err != nil {
		t.Fatalf("Issue(%q, %q, %q): %v", tenant, user, path, err)
	}
	return tok
}

func wantInvalid(t *testing.T, tk *auth.Tickets, ticket, path string) {
	t.Helper()
	tenant, user, err := tk.Redeem(ticket, path)
	if !errors.Is(err, auth.ErrInvalidTicket) {
		t.Fatalf("Redeem(%q, %q) = %q, %q, %v; want ErrInvalidTicket", ticket, path, tenant, user, err)
	}
	if tenant != "" || user != "" {
		t.Fatalf("Redeem returned identity %q/%q with error", tenant, user)
	}
}

func TestTicketRedeemOnce(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: testNow}
	tk := auth.NewTickets(auth.TicketOptions{Now: clock.Now})
	tok, exp, err := tk.Issue("acme", "alice", lspPath)
	if err != nil {
		t.Fatal(err)
	}
	if !auth.HasSecretShape(tok, auth.PrefixTicket) {
		t.Errorf("ticket %q lacks the tkt_ shape", tok)
	}
	if want := testNow.Add(auth.DefaultTicketTTL); !exp.Equal(want) {
		t.Errorf("expires = %v, want %v", exp, want)
	}
	tenant, user, err := tk.Redeem(tok, lspPath)
	if err != nil || tenant != "acme" || user != "alice" {
		t.Fatalf("Redeem = %q, %q, %v; want acme, alice, nil", tenant, user, err)
	}
	wantInvalid(t, tk, tok, lspPath) // replay
	if n := tk.Len(); n != 0 {
		t.Errorf("Len() = %d after redeem, want 0", n)
	}
}

func TestTicketExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ttl   time.Duration
		after time.Duration
		ok    bool
	}{
		{"default ttl, just before", 0, 59 * time.Second, true},
		{"default ttl, at expiry", 0, 60 * time.Second, false},
		{"default ttl, after", 0, 61 * time.Second, false},
		{"custom ttl, before", 5 * time.Second, 4 * time.Second, true},
		{"custom ttl, after", 5 * time.Second, 6 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: testNow}
			tk := auth.NewTickets(auth.TicketOptions{TTL: tt.ttl, Now: clock.Now})
			tok := issue(t, tk, "acme", "alice", lspPath)
			clock.Advance(tt.after)
			_, _, err := tk.Redeem(tok, lspPath)
			if (err == nil) != tt.ok {
				t.Fatalf("Redeem after %v: err = %v, want ok=%v", tt.after, err, tt.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrInvalidTicket) {
				t.Fatalf("err %v does not wrap ErrInvalidTicket", err)
			}
			clock.Advance(-tt.after) // back in time: still consumed
			wantInvalid(t, tk, tok, lspPath)
		})
	}
}

func TestTicketWrongPathConsumes(t *testing.T) {
	t.Parallel()
	tk := auth.NewTickets(auth.TicketOptions{})
	tok := issue(t, tk, "acme", "alice", lspPath)
	for _, p := range []string{
		"/api/v1/workspaces/ws2/lsp", // another workspace
		"/api/v1/workspaces/ws1/dap", // another channel
		lspPath + "/",                // trailing slash
		"/API/v1/workspaces/ws1/lsp", // case
		"",
	} {
		wantInvalid(t, tk, tok, p)
	}
	wantInvalid(t, tk, tok, lspPath) // consumed by the first wrong try
}

func TestTicketBoundIdentity(t *testing.T) {
	t.Parallel()
	tk := auth.NewTickets(auth.TicketOptions{})
	alice := issue(t, tk, "acme", "alice", lspPath)
	bob := issue(t, tk, "beta", "bob", lspPath)
	// Whoever presents a ticket gets the identity it was issued to, never
	// another: Redeem takes no identity from the presenter.
	for _, tc := range []struct{ tok, tenant, user string }{
		{bob, "beta", "bob"},
		{alice, "acme", "alice"},
	} {
		tenant, user, err := tk.Redeem(tc.tok, lspPath)
		if err != nil || tenant != tc.tenant || user != tc.user {
			t.Errorf("Redeem = %q, %q, %v; want %q, %q", tenant, user, err, tc.tenant, tc.user)
		}
	}
}

func TestTicketRedeemGarbage(t *testing.T) {
	t.Parallel()
	tk := auth.NewTickets(auth.TicketOptions{})
	good := issue(t, tk, "acme", "alice", lspPath)
	for _, s := range []string{"", "tkt_", "garbage", good + "x", good[:len(good)-1], string(make([]byte, 300))} {
		wantInvalid(t, tk, s, lspPath)
	}
	if _, _, err := tk.Redeem(good, lspPath); err != nil {
		t.Errorf("good ticket refused after garbage presentations: %v", err)
	}
}

func TestTicketIssueValidation(t *testing.T) {
	t.Parallel()
	tk := auth.NewTickets(auth.TicketOptions{})
	tests := []struct {
		name, tenant, user, path string
		wantID                   bool
	}{
		{"bad tenant", "A", "alice", lspPath, true},
		{"bad user", "acme", "../x", lspPath, true},
		{"empty user", "acme", "", lspPath, true},
		{"relative path", "acme", "alice", "api/v1", false},
		{"empty path", "acme", "alice", "", false},
		{"newline in path", "acme", "alice", "/a\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tk.Issue(tt.tenant, tt.user, tt.path)
			if err == nil {
				t.Fatal("Issue succeeded, want error")
			}
			if got := errors.Is(err, auth.ErrInvalidID); got != tt.wantID {
				t.Errorf("errors.Is(%v, ErrInvalidID) = %v, want %v", err, got, tt.wantID)
			}
		})
	}
}

func TestTicketMaxPerUser(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: testNow}
	tk := auth.NewTickets(auth.TicketOptions{MaxPerUser: 3, TTL: 10 * time.Second, Now: clock.Now})
	var toks []string
	for range 3 {
		toks = append(toks, issue(t, tk, "acme", "alice", lspPath))
	}
	if _, _, err := tk.Issue("acme", "alice", lspPath); !errors.Is(err, auth.ErrTooManyTickets) {
		t.Fatalf("4th Issue err = %v, want ErrTooManyTickets", err)
	}
	// Other users, also the same user name in another tenant, are not affected.
	issue(t, tk, "acme", "bob", lspPath)
	issue(t, tk, "beta", "alice", lspPath)

	// Redeeming frees a slot.
	if _, _, err := tk.Redeem(toks[0], lspPath); err != nil {
		t.Fatal(err)
	}
	issue(t, tk, "acme", "alice", lspPath)
	if _, _, err := tk.Issue("acme", "alice", lspPath); !errors.Is(err, auth.ErrTooManyTickets) {
		t.Fatalf("Issue at limit err = %v, want ErrTooManyTickets", err)
	}

	// Expiry frees every slot, and expired tickets are pruned.
	clock.Advance(10 * time.Second)
	for range 3 {
		issue(t, tk, "acme", "alice", lspPath)
	}
	if n := tk.Len(); n != 3 {
		t.Errorf("Len() = %d after expiry and 3 new issues, want 3 (expired pruned)", n)
	}
}

func TestTicketConcurrentRedeem(t *testing.T) {
	t.Parallel()
	tk := auth.NewTickets(auth.TicketOptions{})
	tok := issue(t, tk, "acme", "alice", lspPath)
	const n = 100
	var wins, losses atomic.Int32
	var start, done sync.WaitGroup
	start.Add(1)
	for range n {
		done.Go(func() {
			start.Wait()
			_, _, err := tk.Redeem(tok, lspPath)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, auth.ErrInvalidTicket):
				losses.Add(1)
			}
		})
	}
	start.Done()
	done.Wait()
	if wins.Load() != 1 || losses.Load() != n-1 {
		t.Fatalf("wins = %d, losses = %d; want 1 and %d", wins.Load(), losses.Load(), n-1)
	}
}

func TestTicketConcurrentIssueRedeem(t *testing.T) {
	t.Parallel()
	tk := auth.NewTickets(auth.TicketOptions{MaxPerUser: 8})
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			user := fmt.Sprintf("u%d", g%4)
			for range 200 {
				tok, _, err := tk.Issue("acme", user, lspPath)
				if errors.Is(err, auth.ErrTooManyTickets) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				if _, u, err := tk.Redeem(tok, lspPath); err != nil || u != user {
					errc <- fmt.Errorf("redeem own ticket: user %q, err %v", u, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if n := tk.Len(); n != 0 {
		t.Errorf("Len() = %d, want 0", n)
	}
}

func BenchmarkTicketIssueRedeem(b *testing.B) {
	tk := auth.NewTickets(auth.TicketOptions{})
	b.ReportAllocs()
	for b.Loop() {
		tok, _, err := tk.Issue("acme", "alice", lspPath)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := tk.Redeem(tok, lspPath); err != nil {
			b.Fatal(err)
		}
	}
}
