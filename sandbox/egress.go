package sandbox

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// errEgress marks a failure to install the egress filter of a sandbox's
// network: the start fails rather than run with an unfiltered network.
var errEgress = errors.New("sandbox network filter")

// slirpNet is the network slirp4netns gives a sandbox: the sandbox at
// 10.0.2.100, its gateway 10.0.2.2 (the host's loopback, refused with
// --disable-host-loopback) and its DNS forwarder 10.0.2.3. It stays
// reachable whatever the filter says.
var slirpNet = netip.MustParsePrefix("10.0.2.0/24")

// slirpGateway is the sandbox's next hop to the outside.
var slirpGateway = netip.MustParseAddr("10.0.2.2")

// egressDenied are the IPv4 ranges a [NetworkOutbound] process cannot
// reach unless [Options.NetworkAllow] lets it: addresses that lead back
// into the host, its data centre or its cloud rather than to the Internet.
// The host's own addresses are added at each start. IPv6 needs no list:
// slirp4netns runs without IPv6, and the sandbox's tap device has IPv6
// turned off, so no IPv6 destination but ::1 is reachable.
var egressDenied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),        // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),       // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),    // shared address space (carrier NAT, some clouds' metadata)
	netip.MustParsePrefix("169.254.0.0/16"),   // link-local: cloud metadata at 169.254.169.254
	netip.MustParsePrefix("172.16.0.0/12"),    // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),     // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"),   // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),    // benchmarking networks
	netip.MustParsePrefix("240.0.0.0/4"),      // reserved, and the limited broadcast
	netip.MustParsePrefix("168.63.129.16/32"), // Azure's platform endpoint (metadata, agent), a public address
}

// egressPolicy is what a sandbox's network may reach: everything but the
// denied ranges and the host's own addresses, except what is allowed.
// Immutable after newEgressPolicy.
type egressPolicy struct {
	allow []netip.Prefix // masked IPv4 prefixes
}

// egressRoute is one route of a sandbox's filter: a prohibit route for a
// denied prefix, or a route via the slirp gateway for an allowed prefix
// inside a denied one (the more specific route wins).
type egressRoute struct {
	dst   netip.Prefix
	allow bool
}

// newEgressPolicy validates allow ([Options.NetworkAllow]).
func newEgressPolicy(allow []netip.Prefix) (*egressPolicy, error) {
	p := &egressPolicy{}
	for _, a := range allow {
		if err := checkAllowPrefix(a); err != nil {
			return nil, err
		}
		a = a.Masked()
		if !slices.Contains(p.allow, a) {
			p.allow = append(p.allow, a)
		}
	}
	return p, nil
}

// CheckNetworkAllow reports whether a is acceptable in
// [Options.NetworkAllow]: a valid IPv4 prefix outside the sandbox
// network's own 10.0.2.0/24. Configuration loaders call it to name the bad
// entry early.
func CheckNetworkAllow(a netip.Prefix) error { return checkAllowPrefix(a) }

func checkAllowPrefix(a netip.Prefix) error {
	switch {
	case !a.IsValid():
		return errors.New("network allow: invalid prefix")
	case !a.Addr().Is4():
		return fmt.Errorf("network allow %s: only IPv4 prefixes (sandboxes have no IPv6 network)", a)
	case covers(slirpNet, a.Masked()):
		return fmt.Errorf("network allow %s: inside the sandbox's own network %s", a, slirpNet)
	}
	return nil
}

// covers reports whether outer contains all of inner.
func covers(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// routes returns the filter for a sandbox given the host's own addresses:
// prohibit routes for the denied prefixes (and each host address) that no
// allowed prefix covers, then routes via the gateway for allowed prefixes
// that lie inside a remaining denied one. The result has no duplicates.
func (p *egressPolicy) routes(host []netip.Addr) []egressRoute {
	deny := slices.Clone(egressDenied)
	for _, a := range host {
		a = a.Unmap()
		if a.Is4() && !a.IsLoopback() {
			deny = append(deny, netip.PrefixFrom(a, 32))
		}
	}
	var out []egressRoute
	var kept []netip.Prefix
	for _, d := range deny {
		if slices.Contains(kept, d) || slices.ContainsFunc(p.allow, func(a netip.Prefix) bool { return covers(a, d) }) {
			continue
		}
		kept = append(kept, d)
		out = append(out, egressRoute{dst: d})
	}
	for _, a := range p.allow {
		if slices.ContainsFunc(kept, func(d netip.Prefix) bool { return covers(d, a) }) {
			out = append(out, egressRoute{dst: a, allow: true})
		}
	}
	return out
}
