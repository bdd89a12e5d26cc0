package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The client address (AUTH-10). Per-client limits (the playground's run
// limit, anonymous sockets) and request logs key on the client's address.
// Behind a reverse proxy the direct peer is the proxy, and the client is
// named by X-Forwarded-For or Forwarded; those headers are believed only
// when the peer is one of Options.TrustedProxies, and then only as far as
// the chain of trusted hops goes: the client is the right-most address
// that is not a trusted proxy. Everything left of it was written by the
// client and is ignored, so no one can choose the address they are
// counted under.

// clientKey is the context key of the request's resolved client address.
type clientKey struct{}

// withClient resolves r's client address once, for clientAddr and
// clientIP.
func withClient(r *http.Request, trusted []netip.Prefix) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), clientKey{}, resolveClient(r, trusted)))
}

// clientIP is the client's address for logs: the resolved one when wrap
// set it, else the direct peer.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientKey{}).(netip.Addr); ok && ip.IsValid() {
		return ip.String()
	}
	if ip := resolveClient(r, nil); ip.IsValid() {
		return ip.String()
	}
	return r.RemoteAddr
}

// clientAddr is the identity of an anonymous caller for limits: the
// client's IPv4 address, or the /64 of its IPv6 address (one host usually
// holds a whole /64, so counting full addresses would let it multiply its
// limits). The client is resolved by withClient (trusted proxies
// honoured); without it, the direct peer.
func clientAddr(r *http.Request) string {
	ip, ok := r.Context().Value(clientKey{}).(netip.Addr)
	if !ok {
		ip = resolveClient(r, nil)
	}
	if !ip.IsValid() {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		return host
	}
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

// resolveClient returns the client's address (unmapped, without zone), or
// the zero Addr when RemoteAddr is not an address. When the peer is
// trusted it walks the forwarding chain from the right: each trusted hop
// passes the question to the address before it, and the first untrusted
// one is the client. An unreadable entry ends the walk at the last hop
// read. When a request carries both X-Forwarded-For and Forwarded and they
// name different clients, one of them came from the client itself (a
// proxy sets one and passes the other on): neither is believed, and the
// peer is the client.
func resolveClient(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !isTrusted(peer, trusted) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	fwd := r.Header.Values("Forwarded")
	switch {
	case len(xff) > 0 && len(fwd) > 0:
		a := walkChain(peer, splitXFF(xff), trusted)
		if b := walkChain(peer, forwardedFor(fwd), trusted); a != b {
			return peer
		}
		return a
	case len(xff) > 0:
		return walkChain(peer, splitXFF(xff), trusted)
	case len(fwd) > 0:
		return walkChain(peer, forwardedFor(fwd), trusted)
	}
	return peer
}

// walkChain returns the right-most entry of chain that is not trusted,
// starting from the trusted peer; see resolveClient.
func walkChain(peer netip.Addr, chain []string, trusted []netip.Prefix) netip.Addr {
	cur := peer
	for i := len(chain) - 1; i >= 0; i-- {
		ip, ok := parseHostAddr(chain[i])
		if !ok {
			return cur
		}
		cur = ip
		if !isTrusted(ip, trusted) {
			return ip
		}
	}
	return cur
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseHostAddr reads "ip", "ip:port", "[ipv6]" or "[ipv6]:port" and
// returns the address unmapped and without zone.
func parseHostAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "["); ok {
		host, tail, ok := strings.Cut(rest, "]")
		if !ok || (tail != "" && !strings.HasPrefix(tail, ":")) {
			return netip.Addr{}, false
		}
		s = host
	} else if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

// splitXFF returns the entries of X-Forwarded-For header lines, in order.
func splitXFF(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Split(l, ",")...)
	}
	return out
}

// forwardedFor returns the "for" value of each element of Forwarded header
// lines (RFC 7239), in order; an element without one gives "" (which ends
// a chain walk there).
func forwardedFor(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, elem := range splitQuoted(l, ',') {
			v := ""
			for _, pair := range splitQuoted(elem, ';') {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					v = unquote(strings.TrimSpace(val))
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote removes the quotes of an RFC 7230 quoted-string and its
// backslash escapes; other values are returned as they are.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
