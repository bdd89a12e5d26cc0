package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// OriginPolicy decides which browser origins and Host headers the server
// answers to, for WebSocket upgrades and cookie-authenticated
// state-changing requests (docs/security.md: principle 1, WS-01..WS-04, EMB-05).
//
// Comparison is exact after normalisation: scheme and host are lowercased
// and a default port (http:80, https:443) is dropped, so
// "HTTP://Trusted.COM:80" equals "http://trusted.com". Browsers already
// serialise origins this way, so normalising only accepts what a
// non-browser client could have spelled differently; it never widens the
// set of allowed (scheme, host, port) triples. Hosts are ASCII DNS names,
// IPv4 addresses or bracketed IPv6 addresses; nothing matches by suffix,
// prefix or pattern.
//
// An OriginPolicy is immutable after NewOriginPolicy and safe for
// concurrent use.
type OriginPolicy struct {
	origins []string            // normalised, in configuration order, no duplicates
	allowed map[string]struct{} // the same, for lookup
	hosts   []hostPort          // normalised host entries
}

// hostPort is a parsed host with an explicit port, or port 0 for "the
// scheme's default".
type hostPort struct {
	host string // lowercase name, dotted IPv4, or "[ipv6]"
	port int    // 0: none given
}

// NewOriginPolicy validates and normalises the allowlists.
//
// allowedOrigins are "scheme://host[:port]" with scheme http or https; they
// are the origins allowed besides the server's own (portals embedding the
// IDE). The list may be empty. allowedHosts are "host[:port]" values the
// Host header may take; without a port an entry means the default port of
// the request's scheme. allowedHosts must not be empty.
//
// It refuses, with an error naming the bad entry, "*" and any wildcard,
// empty entries, paths (a trailing "/" included), queries, fragments,
// userinfo, whitespace and control characters, non-ASCII hosts (configure
// punycode), and ports outside 1..65535 — so a policy can never allow
// everything (principle 2 of docs/security.md).
func NewOriginPolicy(allowedOrigins, allowedHosts []string) (*OriginPolicy, error) {
	p := &OriginPolicy{allowed: make(map[string]struct{})}
	for _, o := range allowedOrigins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("allowed origin %s: %w", quoteShort(o), err)
		}
		if _, dup := p.allowed[n]; !dup {
			p.allowed[n] = struct{}{}
			p.origins = append(p.origins, n)
		}
	}
	if len(allowedHosts) == 0 {
		return nil, errors.New("allowed hosts: empty list (the server must name the hosts it answers for)")
	}
	for _, h := range allowedHosts {
		hp, err := parseHostPort(strings.ToLower(h))
		if err != nil {
			return nil, fmt.Errorf("allowed host %s: %w", quoteShort(h), err)
		}
		if !slices.Contains(p.hosts, hp) {
			p.hosts = append(p.hosts, hp)
		}
	}
	return p, nil
}

// Origins returns the configured allowed origins, normalised, in
// configuration order without duplicates (for CSP frame-ancestors). The
// server's own origin is not included. The caller owns the returned slice.
func (p *OriginPolicy) Origins() []string {
	return slices.Clone(p.origins)
}

// CheckHost reports whether a request's Host header value is one the server
// answers for (the DNS rebinding defence). tls says whether the request
// arrived over HTTPS (as the server determined it, trusted proxies
// included) and selects the default port. The match is exact after
// lowercasing: "IDE.example:443" over TLS matches an entry "ide.example",
// but "ide.example:8443" does not, and nothing matches by suffix.
func (p *OriginPolicy) CheckHost(host string, tls bool) bool {
	hp, err := parseHostPort(strings.ToLower(host))
	if err != nil {
		return false
	}
	def := defaultPort(tls)
	for _, e := range p.hosts {
		if e.host == hp.host && e.effectivePort(def) == hp.effectivePort(def) {
			return true
		}
	}
	return false
}

// CheckOrigin reports whether an Origin header value is allowed for a
// request to host: after normalisation it must equal the server's own
// origin (scheme from tls, host from the request, and only when CheckHost
// allows that host — so Origin "http://evil.com" with Host "evil.com" is
// refused even if the caller forgot CheckHost) or one of the allowed
// origins.
//
// An empty origin is refused; the caller decides about non-browser clients
// (docs/api.md: only with a bearer credential, never a cookie alone). Also
// refused: "null", any path, query, fragment, userinfo, whitespace or
// control character, schemes other than http and https, and anything that
// differs from an entry in scheme, host or port ("trusted.com.evil.com",
// "evil-trusted.com", "trusted.com:9999", "https://" for "http://").
// Uppercase is normalised, then compared: "HTTP://TRUSTED.COM" is allowed
// when "http://trusted.com" is.
func (p *OriginPolicy) CheckOrigin(origin, host string, tls bool) bool {
	n, err := NormalizeOrigin(origin)
	if err != nil {
		return false
	}
	if _, ok := p.allowed[n]; ok {
		return true
	}
	own, ok := p.ownOrigin(host, tls)
	return ok && n == own
}

// ownOrigin returns the normalised origin of a request to host, if host is
// allowed.
func (p *OriginPolicy) ownOrigin(host string, tls bool) (string, bool) {
	if !p.CheckHost(host, tls) {
		return "", false
	}
	hp, err := parseHostPort(strings.ToLower(host))
	if err != nil {
		return "", false
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if hp.port == defaultPort(tls) {
		hp.port = 0
	}
	return scheme + "://" + hp.String(), true
}

// ErrNotBare is wrapped by the errors of NormalizeOrigin and NormalizeHost
// for a value with a path, query, fragment or userinfo: parts an origin or
// a Host header never has (callers word their message by it).
var ErrNotBare = errors.New("an origin or host has no path, query, fragment or userinfo")

// notBareError is an error that wraps ErrNotBare with its own message.
type notBareError string

func (e notBareError) Error() string { return string(e) }
func (e notBareError) Unwrap() error { return ErrNotBare }

// NormalizeHost parses a Host header value "host[:port]" as allowed hosts
// are written, and returns it lowercased, an IPv6 address in its
// canonical form; an explicit port is kept, default or not. It fails as
// NewOriginPolicy does on a bad allowed host.
func NormalizeHost(host string) (string, error) {
	hp, err := parseHostPort(strings.ToLower(host))
	if err != nil {
		return "", err
	}
	return hp.String(), nil
}

// NormalizeOrigin parses an origin "scheme://host[:port]" and returns it
// lowercased with a default port (http:80, https:443) dropped. The scheme
// must be http or https. It fails on "null", wildcards, paths (a trailing
// "/" included), queries, fragments, userinfo, whitespace, control and
// non-ASCII characters, and ports outside 1..65535; errors for a path,
// query, fragment or userinfo wrap ErrNotBare.
func NormalizeOrigin(origin string) (string, error) {
	if origin == "" {
		return "", errors.New("empty origin")
	}
	if len(origin) > 512 {
		return "", errors.New("origin too long")
	}
	s := strings.ToLower(origin)
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", errors.New("origin must be scheme://host[:port]")
	}
	var def int
	switch scheme {
	case "http":
		def = 80
	case "https":
		def = 443
	default:
		return "", errors.New("origin scheme must be http or https")
	}
	hp, err := parseHostPort(rest)
	if err != nil {
		return "", err
	}
	if hp.port == def {
		hp.port = 0
	}
	return scheme + "://" + hp.String(), nil
}

// parseHostPort parses a lowercase "host[:port]". host is an ASCII DNS name
// ([a-z0-9-_] labels separated by dots, an optional trailing dot), a dotted
// IPv4 address, or a bracketed IPv6 address without zone.
func parseHostPort(s string) (hostPort, error) {
	if s == "" {
		return hostPort{}, errors.New("empty host")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == ':', c == '[', c == ']':
		case c == '*':
			return hostPort{}, errors.New("wildcards are not allowed")
		case c == '/', c == '?', c == '#':
			return hostPort{}, notBareError("paths, queries and fragments are not allowed")
		case c == '@':
			return hostPort{}, notBareError("userinfo is not allowed")
		default:
			return hostPort{}, fmt.Errorf("character %q is not allowed in a host", c)
		}
	}
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hostPort{}, errors.New("unterminated IPv6 literal")
		}
		addr, err := netip.ParseAddr(s[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return hostPort{}, errors.New("invalid IPv6 literal")
		}
		host = "[" + addr.String() + "]"
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return hostPort{}, errors.New("unexpected characters after IPv6 literal")
			}
			port = p
			if port == "" {
				return hostPort{}, errors.New("empty port")
			}
		}
	} else {
		name, p, hasPort := strings.Cut(s, ":")
		if hasPort && p == "" {
			return hostPort{}, errors.New("empty port")
		}
		if strings.ContainsAny(name, "[]") || strings.Contains(p, ":") {
			return hostPort{}, errors.New("invalid host (IPv6 literals need brackets)")
		}
		if err := checkDNSName(name); err != nil {
			return hostPort{}, err
		}
		host, port = name, p
	}
	hp := hostPort{host: host}
	if port != "" {
		n, err := parsePort(port)
		if err != nil {
			return hostPort{}, err
		}
		hp.port = n
	}
	return hp, nil
}

// checkDNSName checks a lowercase host name: dot-separated non-empty labels
// of [a-z0-9-_], at most 63 bytes each and 253 in all, an optional trailing
// dot (which makes a different origin, as in browsers).
func checkDNSName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" || len(n) > 253 {
		return errors.New("invalid host name")
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("invalid host name")
		}
		if strings.ContainsAny(label, "[]:") {
			return errors.New("invalid host name")
		}
	}
	return nil
}

// parsePort parses a decimal port 1..65535 without sign or leading zero.
func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid port %q", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return n, nil
}

func defaultPort(tls bool) int {
	if tls {
		return 443
	}
	return 80
}

// effectivePort returns the port, or def when none was given.
func (h hostPort) effectivePort(def int) int {
	if h.port == 0 {
		return def
	}
	return h.port
}

// String returns "host" or "host:port".
func (h hostPort) String() string {
	if h.port == 0 {
		return h.host
	}
	return h.host + ":" + strconv.Itoa(h.port)
}
