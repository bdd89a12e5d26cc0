package sandbox_test

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

// SBX-08, RUN-03: a process allowed the network (terminals, gopls and dlv by
// default) reaches the Internet through slirp4netns, but not the host's own
// addresses, link-local addresses (cloud metadata at 169.254.169.254),
// private ranges or anything over IPv6, unless Options.NetworkAllow lets it.
// Probes report the connection error, so a refusal by the filter
// ("Permission denied": a prohibit route) is told from a timeout or a
// missing service.

// hostIPv4 returns a non-loopback IPv4 address of this host, or skips t.
func hostIPv4(t *testing.T) netip.Addr {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() && !ip.IsLoopback() {
					return ip.Unmap()
				}
			}
		}
	}
	t.Skip("the host has no non-loopback IPv4 address to listen on")
	return netip.Addr{}
}

// hostIPv6 returns a global (non-link-local) IPv6 address of this host, or
// an invalid Addr.
func hostIPv6() netip.Addr {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Is6() && !ip.Is4In6() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
		}
	}
	return netip.Addr{}
}

// listenOn accepts (and closes) connections on ip until the test ends and
// returns its port.
func listenOn(t *testing.T, ip netip.Addr) string {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// egressProbe is a shell function: "probe HOST PORT" prints "HOST open" or
// "HOST closed: <error>" (empty after the 5 s timeout).
const egressProbe = `probe() { if timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/tmp/err; then echo "$1 open"; ` +
	`else echo "$1 closed: $(sed 's/.*: //' /tmp/err | tail -n 1)"; fi; }; `

// egressRunner is an isolating runner whose terminals get NetworkOutbound.
func egressRunner(t *testing.T, name string, allow []netip.Prefix) *sandbox.Runner {
	t.Helper()
	needBwrap(t)
	needSlirp(t)
	r, err := sandbox.New(sandbox.Options{
		Instance: instancePrefix + name, KillGrace: testGrace, Isolation: sandbox.IsolationBwrap,
		OwnerUID:     func(string) (int, error) { return testUID, nil },
		Networks:     map[string]sandbox.Network{"terminal": sandbox.NetworkOutbound},
		NetworkAllow: allow,
		Logger:       testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("runner close: %v", err)
		}
	})
	return r
}

// terminalSh is e.sh as a terminal-kind process (the runner gives it the network).
func (e isoEnv) terminalSh(script string) sandbox.Cmd {
	c := e.sh(egressProbe + script)
	c.Kind = "terminal"
	return c
}

// TestEgressFilter (SBX-08, RUN-03): denied destinations fail at once with
// the filter's error, the sandbox cannot remove the filter, and DNS and the
// sandbox's own network still work.
func TestEgressFilter(t *testing.T) {
	host := hostIPv4(t)
	port := listenOn(t, host)
	e := newIsoEnv(t)
	r := egressRunner(t, "egress", nil)

	denied := []string{host.String(), "169.254.169.254", "10.1.2.3", "172.16.0.1", "192.168.0.1", "100.64.0.1"}
	script := "grep CapEff /proc/self/status; probe " + host.String() + " " + port + "; "
	for _, d := range denied[1:] {
		script += "probe " + d + " 80; "
	}
	script += "probe ::ffff:169.254.169.254 80; "
	script += "probe fe80::1%tap0 80; " // link-local IPv6 next to the sandbox
	v6 := hostIPv6()
	if v6.IsValid() {
		script += "probe " + v6.String() + " " + listenOn(t, v6) + "; "
	}
	// The sandbox tries to take the filter down, then probes again.
	script += "/usr/sbin/ip route del 169.254.0.0/16 2>&1 | tail -n 1; /usr/sbin/ip route flush table main 2>&1 | tail -n 1; " +
		"echo after; probe 169.254.169.254 80; probe " + host.String() + " " + port + "; "
	script += "/usr/sbin/ip -6 addr show dev tap0 | grep -c inet6; "
	out, _ := run(t, r, e.terminalSh(script))
	t.Logf("sandbox output:\n%s", out)

	for _, d := range append(denied, "::ffff:169.254.169.254") {
		if want := d + " closed: Permission denied"; !strings.Contains(out, want) {
			t.Errorf("SBX-08: want %q", want)
		}
	}
	if want := "fe80::1%tap0 closed: Network is unreachable"; !strings.Contains(out, want) {
		t.Errorf("SBX-08: link-local IPv6: want %q", want)
	}
	if v6.IsValid() {
		if want := v6.String() + " closed: Network is unreachable"; !strings.Contains(out, want) {
			t.Errorf("SBX-08: IPv6: want %q", want)
		}
	}
	if !strings.Contains(out, "CapEff:\t0000000000000000") {
		t.Error("the sandbox holds capabilities")
	}
	if n := strings.Count(out, "Operation not permitted"); n != 2 {
		t.Errorf("SBX-08: %d of 2 route changes refused by the kernel", n)
	}
	_, after, _ := strings.Cut(out, "after\n")
	if !strings.Contains(after, "169.254.169.254 closed: Permission denied") ||
		!strings.Contains(after, host.String()+" closed: Permission denied") {
		t.Error("SBX-08: the sandbox took its filter down")
	}
	if !strings.HasSuffix(out, "\n0\n") {
		t.Error("SBX-08: tap0 has IPv6 addresses")
	}

	// DNS goes through slirp's forwarder at 10.0.2.3, which the filter keeps.
	if _, err := net.LookupHost("proxy.golang.org"); err != nil {
		t.Logf("the host cannot resolve proxy.golang.org (%v): DNS check skipped", err)
		return
	}
	if out, _ := run(t, r, e.terminalSh("getent hosts proxy.golang.org >/dev/null && echo resolved")); out != "resolved\n" {
		t.Errorf("DNS from the sandbox: %q", out)
	}
}

// TestEgressAllow (SBX-08): an allowed range (here the host's address,
// standing for a module proxy or Git host on a private address) is
// reachable; what the allowlist does not name stays denied.
func TestEgressAllow(t *testing.T) {
	host := hostIPv4(t)
	port := listenOn(t, host)
	e := newIsoEnv(t)
	r := egressRunner(t, "egress-allow", []netip.Prefix{netip.PrefixFrom(host, 32), netip.MustParsePrefix("10.1.0.0/16")})
	out, _ := run(t, r, e.terminalSh("probe "+host.String()+" "+port+"; probe 169.254.169.254 80; probe 10.2.0.1 80"))
	for _, want := range []string{host.String() + " open", "169.254.169.254 closed: Permission denied", "10.2.0.1 closed: Permission denied"} {
		if !strings.Contains(out, want) {
			t.Errorf("SBX-08: output %q, want %q", out, want)
		}
	}
}

// BenchmarkStartWaitOutbound is BenchmarkStartWaitBwrap with the network:
// slirp4netns and the egress filter (SBX-08) are part of every start.
func BenchmarkStartWaitOutbound(b *testing.B) {
	needBwrap(b)
	needSlirp(b)
	e := newIsoEnv(b)
	r, err := sandbox.New(sandbox.Options{
		Instance: instancePrefix + "bench-outbound", Isolation: sandbox.IsolationBwrap,
		OwnerUID: func(string) (int, error) { return testUID, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := sandbox.Cmd{Kind: "terminal", Owner: "t1", Workspace: "w1", Path: "true", Env: baseEnv(), Dir: e.ws,
		Binds: []sandbox.Bind{{Host: e.ws}}, Network: sandbox.NetworkOutbound}
	for b.Loop() {
		p, err := r.Start(b.Context(), c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// needSlirp skips t without slirp4netns (fails under CI).
func needSlirp(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/slirp4netns"); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("slirp4netns is not installed (CI is set)")
	}
	t.Skip("slirp4netns is not installed")
}

// TestEgressBindToDevice (SBX-08): a socket bound to the tap device
// (SO_BINDTODEVICE needs no privilege) makes the kernel treat a denied
// destination as on-link rather than refuse it; slirp4netns answers ARP only
// for its own addresses, so the connection still fails (after the ARP
// timeout, with "No route to host").
func TestEgressBindToDevice(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	host := hostIPv4(t)
	port := listenOn(t, host)
	e := newIsoEnv(t)
	r := egressRunner(t, "egress-bind", nil)
	script := `/usr/bin/python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(30)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"tap0")
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except OSError as e:
    print("closed:", e.strerror)
' ` + host.String() + " " + port
	if out, _ := run(t, r, e.terminalSh(script)); out != "closed: No route to host\n" {
		t.Errorf("SBX-08: bound to tap0, the host's address: %q", out)
	}
}
