package main

// Validation and normalisation of a merged Config, and the Host allowlist.

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ideserver/ideserver/auth"
)

// HostsFor returns the Host header values the server answers when bound to
// listenAddr (the listener's actual address, so port 0 has been resolved):
// AllowedHosts when set, otherwise the loopback names for the bound port
// ("127.0.0.1:PORT" and "localhost:PORT" on 127.0.0.1, "[::1]:PORT" and
// "localhost:PORT" on ::1); plus PublicURL's host in both cases. Bound to a
// non-loopback address with neither set (which validation refuses), or
// given an unparsable listenAddr, it returns only PublicURL's host, if any:
// an empty list answers no Host at all. The result is a new slice.
func (c *Config) HostsFor(listenAddr string) []string {
	var hosts []string
	if len(c.AllowedHosts) > 0 {
		hosts = slices.Clone(c.AllowedHosts)
	} else if host, port, err := net.SplitHostPort(listenAddr); err == nil {
		ip := net.ParseIP(host)
		switch {
		case strings.EqualFold(host, "localhost"):
			hosts = []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port}
		case ip != nil && ip.IsLoopback():
			hosts = []string{net.JoinHostPort(ip.String(), port), "localhost:" + port}
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err == nil && u.Host != "" && !slices.Contains(hosts, u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

// Bounds checked by validate.
const (
	minByteLimit    = KiB // catches "max_file_size: 32" meant as MiB
	maxLoginTTL     = Duration(365 * 24 * time.Hour)
	maxShutdown     = Duration(10 * time.Minute)
	minLoginTTL     = Duration(time.Minute)
	dnsRebindingMsg = "listening on a non-loopback address needs allowed_hosts or public_url (DNS rebinding protection)"
)

// validate checks every key and normalises values in place: paths made
// absolute, origins and hosts lower-cased, enums lower-cased, the data
// directory defaulted. It returns one *KeyError per problem, joined.
func (c *Config) validate(getenv func(string) string) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &KeyError{Key: key, Err: fmt.Errorf(format, args...)})
	}
	home := getenv("HOME")

	// addr
	addrChecked, loopback := false, false
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "%q is not host:port (e.g. 127.0.0.1:8080)", c.Addr)
	} else if !validPort(port, true) {
		bad("addr", "port %q is not a number from 0 to 65535", port)
	} else if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		bad("addr", "%q is not an IP address or host name", host)
	} else {
		addrChecked, loopback = true, isLoopbackHost(host)
	}

	// data
	if c.Data == "" {
		c.Data = defaultDataDir(getenv)
		if c.Data == "" {
			bad("data", "no default without XDG_DATA_HOME or HOME; set data")
		}
	}
	if c.Data != "" {
		if p, err := absPath(c.Data, home); err != nil {
			bad("data", "%v", err)
		} else {
			c.Data = p
		}
	}

	// public_url, allowed_origins, allowed_hosts
	if c.PublicURL != "" {
		if o, err := normalizeOrigin(c.PublicURL); err != nil {
			bad("public_url", "%v", err)
		} else {
			c.PublicURL = o
		}
	}
	var origins []string
	for _, o := range c.AllowedOrigins {
		if strings.Contains(o, "*") {
			bad("allowed_origins", "%q would allow every origin; list them", o)
		} else if n, err := normalizeOrigin(o); err != nil {
			bad("allowed_origins", "%v", err)
		} else if !slices.Contains(origins, n) {
			origins = append(origins, n)
		}
	}
	c.AllowedOrigins = origins
	var hosts []string
	for _, h := range c.AllowedHosts {
		if strings.Contains(h, "*") {
			bad("allowed_hosts", "%q would allow every host; list them", h)
		} else if n, err := normalizeHost(h); err != nil {
			bad("allowed_hosts", "%v", err)
		} else if !slices.Contains(hosts, n) {
			hosts = append(hosts, n)
		}
	}
	c.AllowedHosts = hosts
	if addrChecked && !loopback && len(c.AllowedHosts) == 0 && c.PublicURL == "" {
		bad("allowed_hosts", dnsRebindingMsg)
	}

	// server.trusted_proxies
	var proxies []string
	for _, p := range c.Server.TrustedProxies {
		if n, err := parseProxyPrefix(p); err != nil {
			bad("server.trusted_proxies", "%v", err)
		} else if !slices.Contains(proxies, n.String()) {
			proxies = append(proxies, n.String())
		}
	}
	c.Server.TrustedProxies = proxies

	// token
	if c.Token != "" && strings.IndexFunc(c.Token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		bad("token", "must not contain spaces or control characters") // never echo the value
	}

	// tls
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		bad("tls.key_file", "must be set with tls.cert_file")
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		bad("tls.cert_file", "must be set with tls.key_file")
	}
	checkFile := func(key string, p *string) {
		if *p == "" {
			return
		}
		abs, err := absPath(*p, home)
		if err == nil {
			err = readableFile(abs)
		}
		if err != nil {
			bad(key, "%v", err)
			return
		}
		*p = abs
	}
	checkFile("tls.cert_file", &c.TLS.CertFile)
	checkFile("tls.key_file", &c.TLS.KeyFile)

	// auth
	jwt := &c.Auth.JWT
	if jwt.HMACSecretFile != "" && jwt.PublicKeyFile != "" {
		bad("auth.jwt", "set only one of hmac_secret_file and public_key_file")
	}
	checkFile("auth.jwt.hmac_secret_file", &jwt.HMACSecretFile)
	checkFile("auth.jwt.public_key_file", &jwt.PublicKeyFile)
	if jwt.HMACSecretFile == "" && jwt.PublicKeyFile == "" {
		if jwt.Audience != "" {
			bad("auth.jwt.audience", "is set but JWTs are off (set hmac_secret_file or public_key_file)")
		}
		if jwt.Issuer != "" {
			bad("auth.jwt.issuer", "is set but JWTs are off (set hmac_secret_file or public_key_file)")
		}
	}
	c.Auth.Login.SameSite = strings.ToLower(c.Auth.Login.SameSite)
	switch c.Auth.Login.SameSite {
	case "lax", "strict":
	case "none":
		if !c.TLSEnabled() && !strings.HasPrefix(c.PublicURL, "https://") {
			bad("auth.session.same_site", "none needs TLS (tls.cert_file) or an https public_url: browsers drop SameSite=None cookies that are not Secure")
		}
	default:
		bad("auth.session.same_site", "%q is not lax, strict or none", c.Auth.Login.SameSite)
	}
	if ttl := c.Auth.Login.TTL; ttl < minLoginTTL || ttl > maxLoginTTL {
		bad("auth.session.ttl", "%s is not between %s and %s", ttl, minLoginTTL, maxLoginTTL)
	}

	// limits
	for _, l := range []struct {
		key string
		v   ByteSize
		max ByteSize
	}{
		{"limits.max_file_size", c.Limits.MaxFileSize, GiB},
		{"limits.max_request_body", c.Limits.MaxRequestBody, GiB},
		{"limits.max_state_size", c.Limits.MaxStateSize, 64 * MiB},
		{"limits.max_ws_message", c.Limits.MaxWSMessage, GiB},
	} {
		if l.v < minByteLimit || l.v > l.max {
			bad(l.key, "%s is not between %s and %s (a plain number is bytes; write e.g. 32MiB)", l.v, minByteLimit, l.max)
		}
	}
	for _, l := range []struct {
		key    string
		v, max int
	}{
		{"limits.max_workspaces_per_user", c.Limits.MaxWorkspaces, 100_000},
		{"limits.max_websockets_per_user", c.Limits.MaxWebSockets, 10_000},
		{"limits.search_max_results", c.Limits.SearchMaxResults, 1_000_000},
	} {
		if l.v < 1 || l.v > l.max {
			bad(l.key, "%d is not between 1 and %d", l.v, l.max)
		}
	}
	for key, v := range map[string]int{"limits.max_watches": c.Limits.MaxWatches, "limits.max_watches_per_tenant": c.Limits.MaxTenantWatches} {
		if v < 0 || v > 1<<30 {
			bad(key, "%d is not between 0 (automatic) and %d", v, 1<<30)
		}
	}

	// log, shutdown, go
	c.Log.Level = strings.ToLower(c.Log.Level)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	c.Log.Format = strings.ToLower(c.Log.Format)
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "%q is not json or text", c.Log.Format)
	}
	if d := c.ShutdownTimeout; d <= 0 || d > maxShutdown {
		bad("shutdown_timeout", "%s is not above 0 and at most %s", d, maxShutdown)
	}
	for key, v := range map[string]string{"go.proxy": c.Go.Proxy, "go.private": c.Go.Private, "go.nosumdb": c.Go.NoSumDB, "go.flags": c.Go.Flags} {
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			bad(key, "must not contain control characters or newlines")
		}
	}
	packagePatterns(bad, "go.prebuild_packages", c.Go.PrebuildPackages)
	c.validateGoModules(bad)
	c.Terminal.validate(bad)
	c.LSP.validate(bad)
	c.DAP.validate(bad)
	c.Playground.validate(bad)
	c.Isolation.validate(bad)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// defaultDataDir is $XDG_DATA_HOME/ideserver when that is absolute (the
// XDG spec ignores relative values), else $HOME/.local/share/ideserver,
// else "".
func defaultDataDir(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "ideserver")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "ideserver")
	}
	return ""
}

// absPath expands "~/" with home and makes p absolute against the working
// directory.
func absPath(p, home string) (string, error) {
	p = expandHome(p, home)
	if strings.HasPrefix(p, "~") {
		return "", fmt.Errorf("cannot expand %q without HOME", p)
	}
	return filepath.Abs(p)
}

// readableFile checks that p opens for reading and is not a directory.
func readableFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	return nil
}

// normalizeOrigin checks an http(s) origin by auth's rules (a trailing
// "/" is tolerated, as a URL may carry one) and returns it as
// scheme://host[:port], lower case, default port dropped, so it compares
// exactly with a browser's Origin header.
func normalizeOrigin(s string) (string, error) {
	o, err := auth.NormalizeOrigin(strings.TrimSuffix(s, "/"))
	switch {
	case errors.Is(err, auth.ErrNotBare):
		return "", fmt.Errorf("%q must be scheme://host[:port] with no path, query or user", s)
	case err != nil:
		return "", fmt.Errorf("%q is not an origin like https://ide.example.com (%v)", s, err)
	}
	return o, nil
}

// normalizeHost checks a Host header value by auth's rules, host[:port]
// with an IPv6 address in brackets, and returns it lower case.
func normalizeHost(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	n, err := auth.NormalizeHost(h)
	if err != nil {
		return "", fmt.Errorf("%q is not a host[:port] as sent in the Host header (%v)", h, err)
	}
	return n, nil
}

// validHostname accepts DNS-style names: letters, digits, '-', '_', '.'.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// validPort accepts a decimal port, 1..65535 (0 too when zeroOK).
func validPort(p string, zeroOK bool) bool {
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && (n > 0 || zeroOK)
}

// isLoopbackHost reports whether a listen host is loopback-only.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// between reports key through bad unless lo <= v <= hi. bounds names the
// range the way the example file writes values ("64KiB and 1GiB"); the
// message also shows the value given.
func between[T cmp.Ordered](bad func(key, format string, args ...any), key string, v, lo, hi T, bounds string) {
	if v < lo || v > hi {
		bad(key, "must be between %s, got %v", bounds, v)
	}
}

// parsePrefix reads a configured address range: a CIDR, or a single
// address (its /32 or /128), surrounding spaces ignored, no zone. Host
// bits are kept; callers decide about them, about families and ranges,
// and word the message (server.trusted_proxies, isolation.network.allow).
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(ip, ip.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	return p, err == nil
}

// parseProxyPrefix reads one server.trusted_proxies entry: a CIDR, or a
// single address (its /32 or /128). A prefix of length 0 (every address)
// is refused: trusting everyone is the same as letting every client
// choose its address.
func parseProxyPrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	p, ok := parsePrefix(s)
	switch {
	case !ok && strings.Contains(s, "/"):
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or fd00::/8", s)
	case !ok:
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, fmt.Errorf("%q would trust every address; list your proxies", s)
	}
	return p.Masked(), nil
}

// TrustedProxyPrefixes returns server.trusted_proxies as prefixes. The
// Config must come from LoadConfig (validated); entries that do not parse
// are skipped.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.Server.TrustedProxies {
		if p, err := parseProxyPrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}
