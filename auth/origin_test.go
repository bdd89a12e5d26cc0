package auth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/auth"
)

var (
	testOrigins = []string{"http://trusted.com", "https://Portal.Example:8443", "https://docs.example:443"}
	testHosts   = []string{"ide.example", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "IDE.internal:443"}
)

func testPolicy(t testing.TB) *auth.OriginPolicy {
	t.Helper()
	p, err := auth.NewOriginPolicy(testOrigins, testHosts)
	if err != nil {
		t.Fatalf("NewOriginPolicy: %v", err)
	}
	return p
}

func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	tests := []struct {
		name   string
		origin string
		host   string
		tls    bool
		want   bool
	}{
		// Own origin (WS-01 counterpart).
		{"own origin http", "http://localhost:8080", "localhost:8080", false, true},
		{"own origin https default port", "https://ide.example", "ide.example", true, true},
		{"own origin https explicit default port in host", "https://ide.example", "ide.example:443", true, true},
		{"own origin explicit default port in origin", "https://ide.example:443", "ide.example", true, true},
		{"own origin ipv4", "http://127.0.0.1:8080", "127.0.0.1:8080", false, true},
		{"own origin ipv6", "http://[::1]:8080", "[::1]:8080", false, true},
		{"own origin ipv6 uncompressed", "http://[0:0:0:0:0:0:0:1]:8080", "[::1]:8080", false, true},
		{"own origin, host case", "https://ide.example", "IDE.Example", true, true},
		// Listed origins.
		{"listed", "http://trusted.com", "ide.example", true, true},
		{"listed with explicit default port", "http://trusted.com:80", "ide.example", true, true},
		{"listed non-default port", "https://portal.example:8443", "ide.example", true, true},
		{"listed normalised at config", "https://docs.example", "ide.example", true, true},
		{"uppercase normalised (documented)", "HTTP://TRUSTED.COM", "ide.example", true, true},
		// WS-01.
		{"evil", "https://evil.example", "ide.example", true, false},
		// WS-02: empty is the caller's decision, CheckOrigin says no.
		{"empty", "", "ide.example", true, false},
		// WS-03 bypass set.
		{"suffix attack", "http://trusted.com.evil.com", "ide.example", true, false},
		{"prefix attack", "http://evil-trusted.com", "ide.example", true, false},
		{"subdomain", "http://sub.trusted.com", "ide.example", true, false},
		{"other port", "http://trusted.com:9999", "ide.example", true, false},
		{"scheme mismatch listed", "https://trusted.com", "ide.example", true, false},
		{"scheme mismatch own", "http://ide.example", "ide.example", true, false},
		{"scheme mismatch own reverse", "https://localhost:8080", "localhost:8080", false, false},
		{"listed port dropped", "https://portal.example", "ide.example", true, false},
		{"null", "null", "ide.example", true, false},
		{"NULL", "NULL", "ide.example", true, false},
		{"path", "http://trusted.com/path", "ide.example", true, false},
		{"trailing slash", "http://trusted.com/", "ide.example", true, false},
		{"query", "http://trusted.com?x", "ide.example", true, false},
		{"fragment", "http://trusted.com#x", "ide.example", true, false},
		{"newline", "http://trusted.com\n", "ide.example", true, false},
		{"crlf injection", "http://trusted.com\r\nX: y", "ide.example", true, false},
		{"leading space", " http://trusted.com", "ide.example", true, false},
		{"trailing space", "http://trusted.com ", "ide.example", true, false},
		{"tab", "http://trusted.com\t", "ide.example", true, false},
		{"nul", "http://trusted.com\x00", "ide.example", true, false},
		{"userinfo", "http://user@trusted.com", "ide.example", true, false},
		{"userinfo trick", "http://trusted.com@evil.com", "ide.example", true, false},
		{"backslash", "http://trusted.com\\@evil.com", "ide.example", true, false},
		{"trailing dot", "http://trusted.com.", "ide.example", true, false},
		{"empty port", "http://trusted.com:", "ide.example", true, false},
		{"leading zero port", "http://trusted.com:080", "ide.example", true, false},
		{"port overflow", "http://trusted.com:65616", "ide.example", true, false},
		{"no scheme", "trusted.com", "ide.example", true, false},
		{"scheme relative", "//trusted.com", "ide.example", true, false},
		{"other scheme", "ws://trusted.com", "ide.example", true, false},
		{"file scheme", "file://", "ide.example", true, false},
		{"wildcard", "*", "ide.example", true, false},
		{"unicode host", "http://trusted.cöm", "ide.example", true, false},
		{"fullwidth dot", "http://trusted。com", "ide.example", true, false},
		{"own origin ipv6 zone", "http://[fe80::1%25eth0]:8080", "[::1]:8080", false, false},
		// WS-04 DNS rebinding: Origin and Host agree, but Host is not ours.
		{"dns rebinding", "http://evil.com", "evil.com", false, false},
		{"dns rebinding with port", "http://evil.com:8080", "evil.com:8080", false, false},
		{"own origin wrong port", "http://localhost:9090", "localhost:9090", false, false},
		{"bad host header", "http://localhost:8080", "localhost:8080/x", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.CheckOrigin(tt.origin, tt.host, tt.tls); got != tt.want {
				t.Errorf("CheckOrigin(%q, %q, tls=%v) = %v, want %v", tt.origin, tt.host, tt.tls, got, tt.want)
			}
		})
	}
}

func TestCheckHost(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	tests := []struct {
		name string
		host string
		tls  bool
		want bool
	}{
		{"listed, default port https", "ide.example", true, true},
		{"listed, default port http", "ide.example", false, true},
		{"explicit https default", "ide.example:443", true, true},
		{"explicit http default", "ide.example:80", false, true},
		{"uppercase", "IDE.EXAMPLE", true, true},
		{"with port", "localhost:8080", false, true},
		{"ipv4", "127.0.0.1:8080", false, true},
		{"ipv6", "[::1]:8080", false, true},
		{"entry with default port, tls", "ide.internal", true, true},
		{"entry with default port, tls explicit", "ide.internal:443", true, true},
		{"entry with 443 over plain http", "ide.internal:443", false, true},
		{"entry with 443, plain http default", "ide.internal", false, false},
		{"https port over plain http", "ide.example:443", false, false},
		{"http port over https", "ide.example:80", true, false},
		{"other port", "ide.example:8443", true, false},
		{"localhost without port", "localhost", false, false},
		{"evil", "evil.com", false, false},
		{"suffix", "ide.example.evil.com", true, false},
		{"prefix", "evil-ide.example", true, false},
		{"subdomain", "a.ide.example", true, false},
		{"trailing dot", "ide.example.", true, false},
		{"empty", "", true, false},
		{"userinfo", "x@ide.example", true, false},
		{"path", "ide.example/x", true, false},
		{"space", "ide.example ", true, false},
		{"ipv6 unbracketed", "::1", false, false},
		{"empty port", "localhost:", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.CheckHost(tt.host, tt.tls); got != tt.want {
				t.Errorf("CheckHost(%q, tls=%v) = %v, want %v", tt.host, tt.tls, got, tt.want)
			}
		})
	}
}

func TestNewOriginPolicyRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		origins []string
		hosts   []string
		bad     string // must appear in the error
	}{
		{"star origin", []string{"*"}, []string{"ide.example"}, "*"},
		{"wildcard subdomain", []string{"http://*.x.com"}, []string{"ide.example"}, "*.x.com"},
		{"empty origin", []string{""}, []string{"ide.example"}, `""`},
		{"origin path", []string{"https://portal.example/app"}, []string{"ide.example"}, "/app"},
		{"origin trailing slash", []string{"https://portal.example/"}, []string{"ide.example"}, "portal.example/"},
		{"origin query", []string{"https://portal.example?x"}, []string{"ide.example"}, "?x"},
		{"origin userinfo", []string{"https://u:p@portal.example"}, []string{"ide.example"}, "portal.example"},
		{"origin no scheme", []string{"portal.example"}, []string{"ide.example"}, "portal.example"},
		{"origin null", []string{"null"}, []string{"ide.example"}, "null"},
		{"origin ftp", []string{"ftp://portal.example"}, []string{"ide.example"}, "ftp://"},
		{"origin whitespace", []string{" https://portal.example"}, []string{"ide.example"}, "portal.example"},
		{"origin bad port", []string{"https://portal.example:0"}, []string{"ide.example"}, ":0"},
		{"no hosts", nil, nil, "hosts"},
		{"empty hosts", []string{"https://portal.example"}, []string{}, "hosts"},
		{"star host", nil, []string{"*"}, "*"},
		{"wildcard host", nil, []string{"*.ide.example"}, "*.ide.example"},
		{"empty host", nil, []string{"ide.example", ""}, `""`},
		{"host with scheme", nil, []string{"https://ide.example"}, "https://ide.example"},
		{"host with path", nil, []string{"ide.example/x"}, "ide.example/x"},
		{"host userinfo", nil, []string{"a@ide.example"}, "a@ide.example"},
		{"host bad port", nil, []string{"ide.example:99999"}, "99999"},
		{"host ipv6 unbracketed", nil, []string{"::1"}, "::1"},
		{"host unicode", nil, []string{"idé.example"}, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := auth.NewOriginPolicy(tt.origins, tt.hosts)
			if err == nil {
				t.Fatalf("NewOriginPolicy accepted: origins %v", p.Origins())
			}
			if !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("error %q does not name the bad entry (%q)", err, tt.bad)
			}
		})
	}
}

func TestOriginsAndHosts(t *testing.T) {
	t.Parallel()
	p, err := auth.NewOriginPolicy(
		[]string{"HTTPS://Portal.Example:443", "https://portal.example", "http://a.example:8080"},
		[]string{"IDE.example", "ide.example:443", "[0::1]:8080"},
	)
	if err != nil {
		t.Fatal(err)
	}
	wantO := []string{"https://portal.example", "http://a.example:8080"}
	if got := p.Origins(); !slices.Equal(got, wantO) {
		t.Errorf("Origins() = %q, want %q", got, wantO)
	}
	wantH := []string{"ide.example", "ide.example:443", "[::1]:8080"}
	if got := p.Hosts(); !slices.Equal(got, wantH) {
		t.Errorf("Hosts() = %q, want %q", got, wantH)
	}
	got := p.Origins()
	got[0] = "mutated"
	if p.Origins()[0] != wantO[0] {
		t.Error("Origins() exposes internal state")
	}

	empty, err := auth.NewOriginPolicy(nil, []string{"localhost:8080"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(empty.Origins()); n != 0 {
		t.Errorf("Origins() of a policy without origins has %d entries", n)
	}
	if !empty.CheckOrigin("http://localhost:8080", "localhost:8080", false) {
		t.Error("own origin refused by a policy without listed origins")
	}
}

func TestNormalizeOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://a.example", "http://a.example"},
		{"HTTP://A.Example:80", "http://a.example"},
		{"https://a.example:443", "https://a.example"},
		{"http://a.example:443", "http://a.example:443"},
		{"https://a.example:80", "https://a.example:80"},
		{"http://[::FFFF:1.2.3.4]:80", "http://[::ffff:1.2.3.4]"},
		{"http://bad/", ""},
	}
	for _, tt := range tests {
		got, err := auth.NormalizeOrigin(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizeOrigin(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"IDE.Example", "ide.example"},
		{"ide.example:443", "ide.example:443"},
		{"127.0.0.1:80", "127.0.0.1:80"},
		{"[0:0::1]:8080", "[::1]:8080"},
		{"::1", ""},
		{"[1.2.3.4]", ""},
		{"ide.example:0", ""},
		{"ide.example:", ""},
		{"a..b", ""},
		{"*.ide.example", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := auth.NormalizeHost(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestErrNotBare: errors for the parts an origin or host never has wrap
// ErrNotBare; others do not.
func TestErrNotBare(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"https://a.example/app", "https://a.example?x", "https://a.example#f", "https://u@a.example"} {
		if _, err := auth.NormalizeOrigin(in); !errors.Is(err, auth.ErrNotBare) {
			t.Errorf("NormalizeOrigin(%q): %v, want ErrNotBare", in, err)
		}
	}
	if _, err := auth.NormalizeHost("a.example/x"); !errors.Is(err, auth.ErrNotBare) {
		t.Errorf("NormalizeHost with a path: %v, want ErrNotBare", err)
	}
	for _, in := range []string{"ftp://a.example", "null", "https://a.example:0", "https://*.example"} {
		if _, err := auth.NormalizeOrigin(in); err == nil || errors.Is(err, auth.ErrNotBare) {
			t.Errorf("NormalizeOrigin(%q): %v, want an error other than ErrNotBare", in, err)
		}
	}
}

// simpleNormalize is an independent, deliberately naive normaliser for the
// fuzz property: lowercase and drop the scheme's default port.
func simpleNormalize(o string) string {
	o = strings.ToLower(o)
	if strings.HasPrefix(o, "http://") {
		o = strings.TrimSuffix(o, ":80")
	} else if strings.HasPrefix(o, "https://") {
		o = strings.TrimSuffix(o, ":443")
	}
	return o
}

func FuzzCheckOrigin(f *testing.F) {
	for _, s := range []struct {
		origin, host string
		tls          bool
	}{
		{"http://trusted.com", "ide.example", false},
		{"HTTP://TRUSTED.COM:80", "ide.example", true},
		{"https://ide.example", "ide.example:443", true},
		{"http://[::1]:8080", "[::1]:8080", false},
		{"http://trusted.com.evil.com", "ide.example", false},
		{"http://evil.com", "evil.com", false},
		{"null", "ide.example", true},
		{"http://trusted.com/\n", "ide.example", false},
	} {
		f.Add(s.origin, s.host, s.tls)
	}
	p := testPolicy(f)
	listed := p.Origins()
	f.Fuzz(func(t *testing.T, origin, host string, tls bool) {
		if !p.CheckOrigin(origin, host, tls) {
			return
		}
		n := simpleNormalize(origin)
		scheme := "http://"
		if tls {
			scheme = "https://"
		}
		own := simpleNormalize(scheme + strings.ToLower(host))
		if n == own && p.CheckHost(host, tls) {
			return
		}
		for _, l := range listed {
			if n == l {
				return
			}
		}
		// IPv6 literals have several spellings; accept only when the
		// package's own normaliser agrees and the result is allowed.
		if strings.Contains(origin, "[") {
			if m, err := auth.NormalizeOrigin(origin); err == nil {
				if slices.Contains(listed, m) {
					return
				}
				if o2, err := auth.NormalizeOrigin(scheme + host); err == nil && m == o2 && p.CheckHost(host, tls) {
					return
				}
			}
		}
		t.Fatalf("CheckOrigin(%q, %q, %v) = true, but %q is neither the own origin %q nor listed %q", origin, host, tls, n, own, listed)
	})
}

func BenchmarkCheckOrigin(b *testing.B) {
	p := testPolicy(b)
	for _, bc := range []struct{ name, origin, host string }{
		{"listed", "http://trusted.com", "ide.example"},
		{"own", "https://ide.example", "ide.example"},
		{"refused", "https://evil.example", "ide.example"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.CheckOrigin(bc.origin, bc.host, true)
			}
		})
	}
}
