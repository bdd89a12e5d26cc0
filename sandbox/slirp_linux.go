package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// slirpPaths are where New looks for slirp4netns, which gives
// [NetworkOutbound] processes a network of their own.
var slirpPaths = []string{"/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns", "/bin/slirp4netns"}

// slirpTimeout bounds the wait for slirp4netns to configure the network.
const slirpTimeout = 10 * time.Second

// slirpResolvConf is the resolver of a process behind slirp4netns: its DNS
// forwarder, which asks the host's resolver (a host resolver on 127.0.0.1
// would be out of reach with --disable-host-loopback).
const slirpResolvConf = "nameserver 10.0.2.3\n"

// userNetwork reports whether c gets a network namespace of its own with
// user-mode networking (slirp4netns) rather than none or the host's.
func (r *Runner) userNetwork(c *Cmd) bool {
	return c.Network == NetworkOutbound && r.slirp != ""
}

// startSlirp gives the network namespace of the sandbox whose pid 1 is
// inner a network through slirp4netns: a tap device with NAT to the
// outside, and no way to the host's loopback (--disable-host-loopback), so
// the server's port and whatever else listens on the host's 127.0.0.1 are
// out of reach. slirp4netns runs as uid, carries marker (so it ends with the
// process, like everything the process started) and dies with the thread
// that started it. With egress, the network's filter is installed before
// it returns (see [installEgress]); when that fails slirp4netns is killed
// and the error wraps errEgress. It returns once the network is up.
func startSlirp(path string, inner, uid int, marker string, egress *egressPolicy) error {
	if err := waitLoopback(inner); err != nil {
		return err
	}
	userns, netns, err := sandboxNamespaces(inner)
	if err != nil {
		return err
	}
	defer userns.Close()
	defer netns.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	cmd := &exec.Cmd{
		Path: path,
		Args: []string{"slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
			"--enable-seccomp", "--ready-fd=3",
			"--userns-path=/proc/self/fd/4", "--netns-type=path", "/proc/self/fd/5", "tap0"},
		Env:        []string{"PATH=/usr/bin:/bin", marker},
		Dir:        "/",
		ExtraFiles: []*os.File{readyW, userns, netns},
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if uid != os.Getuid() {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}
	}
	err = cmd.Start()
	_ = readyW.Close()
	if err != nil {
		return fmt.Errorf("start slirp4netns: %w", safeErr(err))
	}
	// The process is reaped by its own goroutine; it ends when the
	// sandbox's network namespace goes away or when the process's cleanup
	// kills it (it carries the marker).
	go func() { _ = cmd.Wait() }()
	_ = readyR.SetReadDeadline(time.Now().Add(slirpTimeout))
	var b [1]byte
	if _, err := readyR.Read(b[:]); err != nil || b[0] != '1' {
		_ = cmd.Process.Kill()
		if err == nil {
			err = errors.New("not ready")
		}
		return fmt.Errorf("slirp4netns: %w", err)
	}
	if egress != nil {
		if err := installEgress(netns, egress); err != nil {
			_ = cmd.Process.Kill() // its tap device, the only way out, goes with it
			return err
		}
	}
	return nil
}

// Namespace ioctls (linux/nsfs.h): NS_GET_USERNS, _IO(0xb7, 0x1), the
// user namespace that owns a namespace; NS_GET_PARENT, _IO(0xb7, 0x2), the
// parent of a user namespace.
const (
	nsGetUserns = 0xb701
	nsGetParent = 0xb702
)

// sandboxNamespaces opens the network namespace of the sandbox whose pid 1
// is inner and the user namespace that owns it. Bubblewrap nests a second
// user namespace for the command, whose capabilities do not reach the
// network namespace: the owner is its parent.
func sandboxNamespaces(inner int) (userns, netns *os.File, err error) {
	proc := "/proc/" + strconv.Itoa(inner) + "/ns/"
	netns, err = os.Open(proc + "net")
	if err != nil {
		return nil, nil, fmt.Errorf("open network namespace: %w", safeErr(err))
	}
	own, err := os.Open(proc + "user")
	if err != nil {
		_ = netns.Close()
		return nil, nil, fmt.Errorf("open user namespace: %w", safeErr(err))
	}
	defer own.Close()
	owner, err := unix.IoctlRetInt(int(netns.Fd()), nsGetUserns)
	if err != nil {
		// Fall back to the parent of the command's namespace.
		owner, err = unix.IoctlRetInt(int(own.Fd()), nsGetParent)
	}
	if err != nil {
		_ = netns.Close()
		return nil, nil, fmt.Errorf("owner of the network namespace: %w", err)
	}
	return os.NewFile(uintptr(owner), "userns"), netns, nil
}

// waitLoopback waits until bubblewrap has brought up the loopback device of
// the sandbox whose pid 1 is inner: it does so after reporting its child
// (--info-fd), and configuring the namespace from two sides at once makes
// its netlink requests fail. The loopback is up once its local route is in
// the namespace's routing table.
func waitLoopback(inner int) error {
	path := "/proc/" + strconv.Itoa(inner) + "/net/fib_trie"
	deadline := time.Now().Add(slirpTimeout)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("sandbox network: %w", safeErr(err))
		}
		if bytes.Contains(b, []byte("127.0.0.1")) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("sandbox network: the loopback device did not come up")
		}
		time.Sleep(delay)
	}
}
