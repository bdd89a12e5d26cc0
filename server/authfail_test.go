package server_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/ideserver/ideserver/server"
)

// TestCredentialGuessing is AUTH-06: a client address that presents too
// many bad credentials gets 429 with Retry-After, for good credentials too
// (a right guess must not show), while other addresses and requests
// without a credential are unaffected. Per account there is nothing to
// limit: no credential names an account (a token or cookie is the whole
// secret).
func TestCredentialGuessing(t *testing.T) {
	t.Parallel()
	const burst = 5
	h := newHarness(t, func(o *server.Options) {
		o.AuthFailureBurst = burst
		// 127.0.0.1 is a proxy, so requests can come from several
		// clients; a request without the header is the proxy's own.
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	from := func(ip string) reqOpt { return withHeader("X-Forwarded-For", ip) }
	const guesser, bystander = "203.0.113.6", "203.0.113.5"

	for i := range burst {
		wantError(t, "guess "+strconv.Itoa(i), h.me(bearer("ide_guess"+strconv.Itoa(i)), from(guesser)), http.StatusUnauthorized, "unauthorized")
	}
	r := h.me(bearer("ide_one-more-guess"), from(guesser))
	wantError(t, "guess past the limit", r, http.StatusTooManyRequests, "too_many_failures")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q, want 1 or 2 seconds", r.Header.Get("Retry-After"))
	}
	// A right guess is not looked at either: same answer.
	wantError(t, "valid token from the guesser", h.me(bearer(h.tokA), from(guesser)), http.StatusTooManyRequests, "too_many_failures")
	wantError(t, "sign-in from the guesser", h.do("POST", "/auth/session", nil, bearer(h.tokA), from(guesser)), http.StatusTooManyRequests, "too_many_failures")
	wantError(t, "cookie guess from the guesser", h.me(h.cookie("ses_guess"), from(guesser)), http.StatusTooManyRequests, "too_many_failures")
	// Without a credential nothing changes for the guesser.
	wantStatus(t, "public page from the guesser", h.do("GET", "/healthz", nil, from(guesser)), http.StatusOK)
	wantError(t, "anonymous API call from the guesser", h.me(from(guesser)), http.StatusUnauthorized, "unauthorized")
	// Other clients are not affected.
	wantStatus(t, "valid token from another client", h.me(bearer(h.tokA), from(bystander)), http.StatusOK)
	wantStatus(t, "valid token from the proxy itself", h.me(bearer(h.tokA)), http.StatusOK)
	// An IPv6 guesser is counted by its /64: changing the low bits does
	// not reset the count.
	for i := range burst {
		h.me(bearer("ide_guess"), from("2001:db8:1:2::"+strconv.Itoa(i+1)))
	}
	wantError(t, "IPv6 guesser with a fresh address in its /64", h.me(bearer("ide_guess"), from("2001:db8:1:2::ff")), http.StatusTooManyRequests, "too_many_failures")

	// A stale cookie on public pages and assets is no guess (their answer
	// does not depend on it) and does not lock a browser out.
	for range 3 * burst {
		h.do("GET", "/", nil, h.cookie("ses_stale"), from("203.0.113.7"))
	}
	wantStatus(t, "sign-in after page loads with a stale cookie", h.do("POST", "/auth/session", nil, bearer(h.tokA), from("203.0.113.7")), http.StatusNoContent)
}
