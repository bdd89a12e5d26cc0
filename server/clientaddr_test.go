package server_test

import (
	"net/netip"
	"testing"

	"github.com/ideserver/ideserver/server"
)

// TestTrustedProxies is AUTH-10 end to end: the playground's per-client
// limit key follows X-Forwarded-For only when the peer (here 127.0.0.1)
// is a configured trusted proxy.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	form := withHeader("Content-Type", "application/x-www-form-urlencoded")
	fmtAs := func(h *harness, fake *fakePlay, opts ...reqOpt) string {
		t.Helper()
		wantStatus(t, "fmt", h.do("POST", "/fmt", []byte("body=package+main"), append([]reqOpt{form}, opts...)...), 200)
		return fake.last()
	}

	untrusted := &fakePlay{}
	h := newHarness(t, func(o *server.Options) { o.Playground = untrusted })
	for _, spoof := range []reqOpt{
		withHeader("X-Forwarded-For", "203.0.113.9"),
		withHeader("Forwarded", "for=203.0.113.9"),
		withHeader("X-Real-Ip", "203.0.113.9"),
	} {
		if got := fmtAs(h, untrusted, spoof); got != "ip:127.0.0.1" {
			t.Errorf("AUTH-10 spoofed header from an untrusted peer: client %q, want ip:127.0.0.1", got)
		}
	}

	trusted := &fakePlay{}
	h = newHarness(t, func(o *server.Options) {
		o.Playground = trusted
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	for _, tc := range []struct {
		name string
		opt  reqOpt
		want string
	}{
		{"no header", withHeader("X-Other", "1"), "ip:127.0.0.1"},
		{"XFF", withHeader("X-Forwarded-For", "203.0.113.9"), "ip:203.0.113.9"},
		{"XFF chain with a spoofed left part", withHeader("X-Forwarded-For", "6.6.6.6, 203.0.113.9, 10.0.0.2"), "ip:203.0.113.9"},
		{"Forwarded IPv6", withHeader("Forwarded", `for="[2001:db8:1:2::7]:443"`), "ip:2001:db8:1:2::/64"},
	} {
		if got := fmtAs(h, trusted, tc.opt); got != tc.want {
			t.Errorf("%s from a trusted proxy: client %q, want %q", tc.name, got, tc.want)
		}
	}
}
