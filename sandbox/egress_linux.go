package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// egressBatch bounds the routes sent in one netlink write, so the
// acknowledgements fit the socket's receive buffer.
const egressBatch = 64

// disableIPv6Path is the sysctl that turns IPv6 off on the sandbox's tap
// device (opened inside its network namespace).
const disableIPv6Path = "/proc/sys/net/ipv6/conf/tap0/disable_ipv6"

// newEgress returns the egress filter of a runner whose NetworkOutbound
// processes get slirp4netns, or nil when it cannot be installed: the
// server cannot enter their network namespaces (no CAP_SYS_ADMIN and
// CAP_NET_ADMIN) and runs every process as its own uid. With per-owner
// uids the filter stays required, and such starts fail.
func newEgress(opts Options, slirp string, log *slog.Logger) (*egressPolicy, error) {
	p, err := newEgressPolicy(opts.NetworkAllow)
	if err != nil || slirp == "" {
		return nil, err
	}
	if !canEnterNetns() {
		if opts.OwnerUID == nil {
			log.Warn("sandbox: EGRESS NOT FILTERED: the server lacks CAP_SYS_ADMIN/CAP_NET_ADMIN, so processes allowed the network " +
				"reach cloud metadata (169.254.169.254), private ranges and the host's own addresses; run the server as root")
			return nil, nil
		}
		log.Warn("sandbox: the server lacks CAP_SYS_ADMIN/CAP_NET_ADMIN to filter sandbox egress; processes allowed the network will fail to start")
	}
	return p, nil
}

// canEnterNetns reports whether this process has the capabilities to
// join a sandbox's network namespace and change its routes.
func canEnterNetns() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	const need = 1<<unix.CAP_SYS_ADMIN | 1<<unix.CAP_NET_ADMIN
	return data[0].Effective&need == need
}

// hostAddrs returns the host's own addresses (loopback excluded by
// routes), read at each start so that an address added since is covered.
func hostAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// installEgress installs p in the network namespace netns, which
// slirp4netns has just configured and in which nothing else runs yet: it
// turns IPv6 off on tap0 and adds p's routes. A thread of this process
// joins the namespace for it and is then discarded (it stays locked and
// ends with its goroutine), so no other goroutine ever runs there. The
// sandbox cannot undo any of it: its processes hold no capability over the
// namespace, which belongs to bubblewrap's outer user namespace.
func installEgress(netns *os.File, p *egressPolicy) error {
	host, err := hostAddrs()
	if err != nil {
		return fmt.Errorf("%w: host addresses: %w", errEgress, err)
	}
	routes := p.routes(host)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		done <- applyEgress(int(netns.Fd()), routes)
	}()
	err = <-done
	runtime.KeepAlive(netns)
	if err != nil {
		return fmt.Errorf("%w: %w", errEgress, err)
	}
	return nil
}

// applyEgress runs on a locked thread it may leave in another namespace.
func applyEgress(netnsFd int, routes []egressRoute) error {
	if err := unix.Setns(netnsFd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace: %w", err)
	}
	if err := disableIPv6(); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 5}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	seq := uint32(0)
	for len(routes) > 0 {
		n := min(len(routes), egressBatch)
		var msg []byte
		for _, r := range routes[:n] {
			seq++
			msg = appendRouteMsg(msg, seq, r)
		}
		if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		if err := readAcks(fd, seq-uint32(n)+1, seq); err != nil {
			return err
		}
		routes = routes[n:]
	}
	return nil
}

// disableIPv6 turns IPv6 off on tap0 of the current thread's network
// namespace: its link-local address and route go away, and every IPv6
// destination but ::1 fails at once (slirp4netns would drop the packets
// anyway, but a connection would hang rather than fail). A host without
// IPv6 has nothing to turn off.
func disableIPv6() error {
	f, err := os.OpenFile(disableIPv6Path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("turn IPv6 off: %w", safeErr(err))
	}
	_, err = f.Write([]byte("1"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("turn IPv6 off: %w", safeErr(err))
	}
	return nil
}

// appendRouteMsg appends an RTM_NEWROUTE request for r to b: a prohibit
// route (connections fail with EACCES at once), or a unicast route via
// the slirp gateway.
func appendRouteMsg(b []byte, seq uint32, r egressRoute) []byte {
	start := len(b)
	ne := binary.NativeEndian
	b = ne.AppendUint32(b, 0) // length, set below
	b = ne.AppendUint16(b, unix.RTM_NEWROUTE)
	b = ne.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0) // port id: the kernel
	typ := uint8(unix.RTN_PROHIBIT)
	if r.allow {
		typ = unix.RTN_UNICAST
	}
	// struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
	b = append(b, unix.AF_INET, uint8(r.dst.Bits()), 0, 0,
		unix.RT_TABLE_MAIN, unix.RTPROT_STATIC, unix.RT_SCOPE_UNIVERSE, typ)
	b = ne.AppendUint32(b, 0)
	dst := r.dst.Addr().As4()
	b = appendAttr(b, unix.RTA_DST, dst[:])
	if r.allow {
		gw := slirpGateway.As4()
		b = appendAttr(b, unix.RTA_GATEWAY, gw[:])
	}
	ne.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendAttr appends a route attribute (4-byte payloads need no padding).
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	return append(b, data...)
}

// readAcks reads the acknowledgements of requests first..last and returns
// the first error one reports.
func readAcks(fd int, first, last uint32) error {
	buf := make([]byte, 1<<16)
	var firstErr error
	for pending := last - first + 1; pending > 0; {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			l := binary.NativeEndian.Uint32(b)
			typ := binary.NativeEndian.Uint16(b[4:])
			seq := binary.NativeEndian.Uint32(b[8:])
			if l < unix.SizeofNlMsghdr || int(l) > len(b) {
				return errors.New("netlink: malformed reply")
			}
			if typ == unix.NLMSG_ERROR && seq >= first && seq <= last && l >= unix.SizeofNlMsghdr+4 {
				pending--
				if e := int32(binary.NativeEndian.Uint32(b[unix.SizeofNlMsghdr:])); e != 0 && firstErr == nil {
					firstErr = fmt.Errorf("add route: %w", unix.Errno(-e))
				}
			}
			next := int((l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1))
			if next >= len(b) {
				break
			}
			b = b[next:]
		}
	}
	return firstErr
}
