package sandbox

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// SBX-08: the routes of a sandbox's egress filter.
func TestEgressRoutes(t *testing.T) {
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	show := func(rs []egressRoute) string {
		var s []string
		for _, r := range rs {
			kind := "prohibit "
			if r.allow {
				kind = "via-gw "
			}
			s = append(s, kind+r.dst.String())
		}
		return strings.Join(s, ",")
	}
	has := func(rs []egressRoute, want egressRoute) bool { return slices.Contains(rs, want) }

	p, err := newEgressPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	host := []netip.Addr{addr("192.0.2.2"), addr("127.0.0.1"), addr("::1"), addr("fd00::2"), addr("192.0.2.2"), addr("::ffff:198.51.100.7")}
	rs := p.routes(host)
	for _, want := range []string{"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.2.2/32", "198.51.100.7/32"} {
		if !has(rs, egressRoute{dst: pfx(want)}) {
			t.Errorf("no prohibit route for %s: %s", want, show(rs))
		}
	}
	for _, r := range rs {
		if r.dst.Addr().IsLoopback() || !r.dst.Addr().Is4() || r.allow {
			t.Errorf("unexpected route %v in %s", r, show(rs))
		}
	}
	if n := len(rs); n != len(egressDenied)+2 {
		t.Errorf("%d routes (duplicates?): %s", n, show(rs))
	}

	// Allowed prefixes: inside a denied one, a route via the gateway; one
	// that covers a denied prefix (or host address) removes it.
	p, err = newEgressPolicy([]netip.Prefix{pfx("10.1.0.0/16"), pfx("10.1.0.0/16"), pfx("192.168.0.0/16"), pfx("192.0.2.0/24"), pfx("8.8.8.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	rs = p.routes(host)
	if !has(rs, egressRoute{dst: pfx("10.1.0.0/16"), allow: true}) || !has(rs, egressRoute{dst: pfx("10.0.0.0/8")}) {
		t.Errorf("10.1.0.0/16 inside 10.0.0.0/8: %s", show(rs))
	}
	for _, gone := range []string{"192.168.0.0/16", "192.0.2.2/32", "8.8.8.0/24"} {
		if slices.ContainsFunc(rs, func(r egressRoute) bool { return r.dst == pfx(gone) }) {
			t.Errorf("route for %s: %s", gone, show(rs))
		}
	}
	if n := strings.Count(show(rs), "10.1.0.0/16"); n != 1 {
		t.Errorf("10.1.0.0/16 routed %d times: %s", n, show(rs))
	}
	p, _ = newEgressPolicy([]netip.Prefix{pfx("0.0.0.0/0")})
	if rs := p.routes(host); len(rs) != 0 {
		t.Errorf("everything allowed, still routes: %s", show(rs))
	}

	for _, bad := range []netip.Prefix{{}, pfx("fd00::/8"), pfx("::ffff:10.1.0.0/112"), pfx("10.0.2.0/24"), pfx("10.0.2.3/32")} {
		if _, err := newEgressPolicy([]netip.Prefix{bad}); err == nil {
			t.Errorf("allow %v accepted", bad)
		}
	}
	if _, err := newEgressPolicy([]netip.Prefix{pfx("10.0.0.0/16")}); err != nil {
		t.Errorf("allow around the sandbox's network: %v", err)
	}
}

// SBX-08: the netlink request for a route is what the kernel expects.
func TestAppendRouteMsg(t *testing.T) {
	b := appendRouteMsg(nil, 7, egressRoute{dst: netip.MustParsePrefix("10.1.0.0/16"), allow: true})
	if len(b) != 16+12+8+8 {
		t.Fatalf("message of %d bytes", len(b))
	}
	if b[16] != 2 || b[17] != 16 || b[23] != 1 { // AF_INET, /16, RTN_UNICAST
		t.Errorf("rtmsg % x", b[16:28])
	}
	if got := b[32:36]; string(got) != "\x0a\x01\x00\x00" {
		t.Errorf("RTA_DST % x", got)
	}
	if got := b[40:44]; string(got) != "\x0a\x00\x02\x02" {
		t.Errorf("RTA_GATEWAY % x", got)
	}
	b = appendRouteMsg(b, 8, egressRoute{dst: netip.MustParsePrefix("169.254.0.0/16")})
	if len(b) != 44+36 || b[44+23] != 8 { // RTN_PROHIBIT, no gateway
		t.Errorf("prohibit message: % x", b[44:])
	}
}

// SBX-08: when the filter cannot be installed, the start fails and nothing
// of the sandbox is left; the command never runs. (A route that collides
// with slirp4netns's own makes the kernel refuse the filter here.)
func TestEgressFailureFailsStart(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		t.Skip("bwrap is not installed")
	}
	if _, err := os.Stat("/usr/bin/slirp4netns"); err != nil {
		t.Skip("slirp4netns is not installed")
	}
	r, err := New(Options{Instance: "sbtest-egressfail-" + time.Now().Format("150405.000"), Isolation: IsolationBwrap, KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.egress == nil {
		t.Skip("no egress filter (no capabilities)")
	}
	r.egress = &egressPolicy{allow: []netip.Prefix{slirpNet}} // bypasses validation on purpose
	marker := t.TempDir() + "/ran"
	for _, pty := range []*Winsize{nil, {Cols: 80, Rows: 24}} {
		p, err := r.Start(context.Background(), Cmd{
			Kind: "terminal", Owner: "t1", Path: "touch", Args: []string{marker}, Dir: "/",
			Env: []string{"PATH=/usr/bin:/bin"}, Network: NetworkOutbound, PTY: pty,
			Binds: []Bind{{Host: marker[:len(marker)-len("/ran")]}},
		})
		if err == nil {
			_, _ = p.Wait()
			t.Fatal("SBX-08: started without its network filter")
		}
		if !errors.Is(err, errEgress) || !strings.Contains(err.Error(), "file exists") {
			t.Errorf("error %v, want the filter's", err)
		}
		if n := r.Count(); n != 0 {
			t.Errorf("%d processes left", n)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("SBX-08: the command ran")
	}
	stats, err := readStats()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if !s.gone() && strings.Contains(string(readEnviron(s.pid)), MarkerVar+"="+r.instance+"/") {
			t.Errorf("process %d of the failed sandbox is left", s.pid)
		}
	}
}

// BenchmarkInstallEgress is the filter's share of a NetworkOutbound start:
// reading the host's addresses, entering a fresh network namespace from a
// discarded thread and adding the routes (without slirp4netns's tap0, so
// IPv6 has nothing to turn off).
func BenchmarkInstallEgress(b *testing.B) {
	if !canEnterNetns() {
		b.Skip("needs CAP_SYS_ADMIN and CAP_NET_ADMIN")
	}
	p, err := newEgressPolicy(nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := newNetns(b)
		b.StartTimer()
		if err := installEgress(ns, p); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = ns.Close()
		b.StartTimer()
	}
}

// newNetns returns a new, empty network namespace, made by a discarded thread.
func newNetns(b *testing.B) *os.File {
	ch := make(chan *os.File, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies in the new namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- nil
			return
		}
		f, _ := os.Open("/proc/thread-self/ns/net")
		ch <- f
	}()
	f := <-ch
	if f == nil {
		b.Fatal("cannot create a network namespace")
	}
	return f
}
