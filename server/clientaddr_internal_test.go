package server

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:4321", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:4321", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::1]:80", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := clientAddr(&http.Request{RemoteAddr: tc.remote}); got != tc.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

// TestResolveClient is AUTH-10: X-Forwarded-For and Forwarded name the
// client only when the direct peer is a trusted proxy, and then only the
// right-most address that is not itself a trusted proxy; whatever the
// client wrote further left is ignored.
func TestResolveClient(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		remote  string
		trusted []netip.Prefix
		xff     []string
		fwd     []string
		want    string
	}{
		{"AUTH-10 spoofed XFF from an untrusted peer", "192.0.2.7:1", nil, []string{"203.0.113.9"}, nil, "192.0.2.7"},
		{"AUTH-10 spoofed Forwarded from an untrusted peer", "192.0.2.7:1", nil, nil, []string{"for=203.0.113.9"}, "192.0.2.7"},
		{"AUTH-10 spoofed XFF from a peer outside the trusted range", "192.0.2.7:1", proxies, []string{"203.0.113.9"}, nil, "192.0.2.7"},
		{"trusted proxy, XFF", "10.1.1.1:1", proxies, []string{"203.0.113.9"}, nil, "203.0.113.9"},
		{"trusted proxy, mapped peer", "[::ffff:10.1.1.1]:1", proxies, []string{"203.0.113.9"}, nil, "203.0.113.9"},
		{"trusted proxy, no header", "10.1.1.1:1", proxies, nil, nil, "10.1.1.1"},
		{"AUTH-10 client prepends a spoofed hop", "10.1.1.1:1", proxies, []string{"6.6.6.6, 203.0.113.9"}, nil, "203.0.113.9"},
		{"AUTH-10 client prepends a trusted-looking hop", "10.1.1.1:1", proxies, []string{"10.9.9.9, 203.0.113.9"}, nil, "203.0.113.9"},
		{"chain of trusted proxies", "10.1.1.1:1", proxies, []string{"203.0.113.9, 10.2.2.2", "10.3.3.3"}, nil, "203.0.113.9"},
		{"every hop trusted", "10.1.1.1:1", proxies, []string{"10.5.5.5, 10.2.2.2"}, nil, "10.5.5.5"},
		{"garbage written by the proxy", "10.1.1.1:1", proxies, []string{"203.0.113.9, unknown"}, nil, "10.1.1.1"},
		{"garbage left of the client", "10.1.1.1:1", proxies, []string{"<script>, 203.0.113.9"}, nil, "203.0.113.9"},
		{"XFF with port", "10.1.1.1:1", proxies, []string{"203.0.113.9:4711"}, nil, "203.0.113.9"},
		{"XFF IPv6", "10.1.1.1:1", proxies, []string{"2001:db8::1"}, nil, "2001:db8::1"},
		{"Forwarded", "10.1.1.1:1", proxies, nil, []string{`for=192.0.2.60;proto=http;by=203.0.113.43`}, "192.0.2.60"},
		{"Forwarded IPv6 quoted with port", "[fd00::1]:1", proxies, nil, []string{`For="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"AUTH-10 Forwarded chain with spoofed left part", "10.1.1.1:1", proxies, nil, []string{`for=6.6.6.6, for=198.51.100.17;proto=https`, `for=10.2.2.2`}, "198.51.100.17"},
		{"Forwarded quoted comma", "10.1.1.1:1", proxies, nil, []string{`for=198.51.100.17;x="a,b"`}, "198.51.100.17"},
		{"Forwarded unknown", "10.1.1.1:1", proxies, nil, []string{`for=unknown`}, "10.1.1.1"},
		{"Forwarded element without for", "10.1.1.1:1", proxies, nil, []string{`proto=https`}, "10.1.1.1"},
		{"both headers agree", "10.1.1.1:1", proxies, []string{"203.0.113.9"}, []string{"for=203.0.113.9"}, "203.0.113.9"},
		{"AUTH-10 both headers disagree: the proxy set one, the client the other", "10.1.1.1:1", proxies, []string{"203.0.113.9"}, []string{"for=6.6.6.6"}, "10.1.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.fwd {
				r.Header.Add("Forwarded", v)
			}
			if got := resolveClient(r, tc.trusted); got.String() != tc.want {
				t.Errorf("resolveClient = %v, want %s", got, tc.want)
			}
			if got, want := clientIP(withClient(r, tc.trusted)), tc.want; got != want {
				t.Errorf("clientIP = %s, want %s", got, want)
			}
		})
	}
	// Limits count an IPv6 client by its /64, wherever it was read.
	r := &http.Request{RemoteAddr: "10.1.1.1:1", Header: http.Header{"X-Forwarded-For": {"2001:db8:1:2::99"}}}
	if got := clientAddr(withClient(r, proxies)); got != "2001:db8:1:2::/64" {
		t.Errorf("clientAddr = %s, want 2001:db8:1:2::/64", got)
	}
}
