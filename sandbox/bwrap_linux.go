package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoBwrap is returned by [New] in [IsolationBwrap] mode when bubblewrap
// is not installed.
var ErrNoBwrap = errors.New("sandbox: bubblewrap (bwrap) not found")

// bwrapPaths are where New looks for bubblewrap when Options.BwrapPath is
// empty.
var bwrapPaths = []string{"/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"}

// prlimitPaths are where New looks for util-linux's prlimit, which sets the
// rlimits of isolated commands.
var prlimitPaths = []string{"/usr/bin/prlimit", "/bin/prlimit"}

// infoTimeout bounds the wait for bubblewrap to report its child.
const infoTimeout = 10 * time.Second

// findBwrap returns the bubblewrap executable to use.
func findBwrap(path string) (string, error) {
	if path != "" {
		if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return "", ErrNoBwrap
		}
		return path, nil
	}
	if p := findExec(bwrapPaths); p != "" {
		return p, nil
	}
	return "", ErrNoBwrap
}

// findExec returns the first executable file of paths, or "".
func findExec(paths []string) string {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// bwrapStart is the part of starting one isolated process that happens
// around cmd.Start: bubblewrap blocks (--block-fd) after creating its
// namespaces and before running the command, so the runner can put both
// bubblewrap processes into the cgroup first: nothing the command starts can
// escape it.
type bwrapStart struct {
	seccomp *os.File   // fd 3 of bwrap: the BPF program
	passwd  *os.File   // fd 6: the sandbox's /etc/passwd
	group   *os.File   // fd 7: the sandbox's /etc/group
	resolv  *os.File   // fd 8 with user-mode networking: its /etc/resolv.conf
	args    *os.File   // fd 9: bubblewrap's arguments (--args)
	sources []*os.File // fd 10 on: the bind sources, opened by openSource
	slirp   string     // slirp4netns to start for the sandbox's network; "" for none
	infoR   *os.File   // bwrap writes {"child-pid": N} to fd 4 and closes it
	infoW   *os.File
	blockR  *os.File // bwrap's child reads fd 5 before running the command
	blockW  *os.File
	cg      *procCgroup // nil without cgroups
	inner   int         // host pid of bwrap's child (pid 1 of the sandbox); 0 if unknown
	innerAt uint64      // inner's start time: tells it apart from a later process given its pid
	uid     int         // host uid bubblewrap runs as

	egress *egressPolicy // filter of the sandbox's network (with slirp); nil for none
}

// memFile returns an in-memory file holding data, positioned at its start,
// to hand to bubblewrap as a descriptor.
func memFile(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// prepareBwrap turns cmd (already holding c's resolved path, environment
// and directory) into a bubblewrap invocation of it.
func (r *Runner) prepareBwrap(c *Cmd, cmd *exec.Cmd, id string) (*bwrapStart, error) {
	uid := -1
	if r.ownerUID != nil {
		u, err := r.ownerUID(c.Owner)
		if err != nil {
			return nil, fmt.Errorf("start %s: owner identity: %w", c.Kind, err)
		}
		uid = u
	}
	userNet := r.userNetwork(c)
	args, err := bwrapArgs(c, r.roPaths, uid, userNet, r.limits.Tmp)
	if err != nil {
		return nil, err
	}
	prog := r.seccomp
	if c.Ptrace {
		prog = r.seccompPtrace
	}
	b := &bwrapStart{uid: os.Getuid()}
	if uid >= 0 {
		b.uid = uid
	}
	ok := false
	defer func() {
		if !ok {
			b.closeAll()
		}
	}()
	cmd.Env = translateEnv(cmd.Env, c.Binds)
	passwd, group := identityFiles(cmd.Env, b.uid)
	if b.seccomp, err = memFile("ideserver-seccomp", prog); err != nil {
		return nil, fmt.Errorf("start %s: seccomp: %w", c.Kind, err)
	}
	if b.passwd, err = memFile("ideserver-passwd", passwd); err != nil {
		return nil, fmt.Errorf("start %s: passwd: %w", c.Kind, err)
	}
	if b.group, err = memFile("ideserver-group", group); err != nil {
		return nil, fmt.Errorf("start %s: group: %w", c.Kind, err)
	}
	if userNet {
		if b.resolv, err = memFile("ideserver-resolv", []byte(slirpResolvConf)); err != nil {
			return nil, fmt.Errorf("start %s: resolv.conf: %w", c.Kind, err)
		}
		b.slirp, b.egress = r.slirp, r.egress
	}
	if b.sources, err = r.openSources(c); err != nil {
		return nil, err
	}
	if b.args, err = memFile("ideserver-args", []byte(strings.Join(args, "\x00")+"\x00")); err != nil {
		return nil, fmt.Errorf("start %s: arguments: %w", c.Kind, err)
	}
	if b.infoR, b.infoW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Kind, err)
	}
	if b.blockR, b.blockW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Kind, err)
	}
	if r.cg != nil {
		key := c.Workspace
		if key == "" {
			key = "owner-" + c.Owner // safeName hashes keys with '/' or '@'
		}
		if b.cg, err = r.cg.create(key, id); err != nil {
			r.cg.warnOnce("sandbox: cannot create cgroup; processes are not limited", "err", err)
			b.cg = nil
		}
	}
	// Only "bwrap --args 9 --" and the command as the sandbox sees it are
	// the argv of the sandbox's pid 1: bubblewrap 0.8 takes no command from
	// --args.
	argv := []string{"bwrap", "--args", strconv.Itoa(fdArgs), "--"}
	if r.prlimit != "" {
		argv = append(argv, prlimitArgs(r.prlimit, r.limits)...)
	}
	exe, _ := sandboxPath(cmd.Path, c.Binds, r.roPaths)
	cmd.Args = append(append(argv, exe), cmd.Args[1:]...)
	cmd.Path = r.bwrap
	cmd.Dir = "/"
	// ExtraFiles[i] is fd 3+i; a nil resolv leaves fd 8 closed.
	cmd.ExtraFiles = append([]*os.File{b.seccomp, b.infoW, b.blockR, b.passwd, b.group, b.resolv, b.args}, b.sources...)
	if uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}
	}
	ok = true
	return b, nil
}

// started runs after cmd.Start: it reads bubblewrap's child pid, moves both
// bubblewrap processes into the cgroup and lets the command run. Failures are logged; the command runs regardless (a failing
// bubblewrap exits on its own), except that of the network filter: the
// sandbox is then killed before the command ran, and the error returned.
func (b *bwrapStart) started(p *Process) error {
	_ = b.infoW.Close()
	_ = b.blockR.Close()
	_ = b.seccomp.Close()
	_ = b.passwd.Close()
	_ = b.group.Close()
	if b.resolv != nil {
		_ = b.resolv.Close()
	}
	b.infoW, b.blockR, b.seccomp, b.passwd, b.group, b.resolv = nil, nil, nil, nil, nil, nil
	b.closeSources()
	defer b.closeAll()

	var info struct {
		ChildPid int `json:"child-pid"`
	}
	_ = b.infoR.SetReadDeadline(time.Now().Add(infoTimeout))
	data, err := io.ReadAll(b.infoR)
	if err == nil && len(data) > 0 {
		err = json.Unmarshal(data, &info)
	}
	if err != nil || info.ChildPid <= 0 {
		p.log.Debug("sandbox: no child pid from bwrap", "err", err)
	}
	b.inner = info.ChildPid
	if b.inner > 0 {
		// bwrap's child waits on fd 5 until blockW is written below, so
		// the pid is still its own here.
		if st, err := readStat(b.inner); err == nil {
			b.innerAt = st.start
		} else {
			b.inner = 0
		}
	}
	pids := []int{p.pid}
	if b.inner > 0 {
		pids = append(pids, b.inner)
	}
	if b.cg != nil {
		for _, pid := range pids {
			if err := b.cg.add(pid); err != nil {
				b.cg.h.warnOnce("sandbox: cannot move process into its cgroup", "err", err)
			}
		}
	}
	if b.slirp != "" {
		if b.inner <= 0 {
			p.log.Warn("sandbox: no network: bubblewrap did not report its child")
		} else if err := startSlirp(b.slirp, b.inner, b.uid, p.marker, b.egress); errors.Is(err, errEgress) {
			_ = syscall.Kill(b.inner, syscall.SIGKILL) // pid 1 of the sandbox, still blocked: its pid namespace ends
			return err
		} else if err != nil {
			p.log.Warn("sandbox: no network", "err", err)
		}
	}
	_, _ = b.blockW.Write([]byte{1})
	return nil
}

// prlimitArgs returns the prlimit(1) invocation that sets l and runs the
// command. The command lowers its own limits inside the sandbox: setting
// them from outside (prlimit(2) on bubblewrap) needs CAP_SYS_RESOURCE,
// which containers often lack, once bubblewrap runs as the tenant's uid.
func prlimitArgs(prlimit string, l Limits) []string {
	a := []string{prlimit}
	if l.FileSize >= 0 {
		a = append(a, "--fsize="+strconv.FormatInt(l.FileSize, 10))
	}
	if l.NoFile >= 0 {
		a = append(a, "--nofile="+strconv.FormatInt(l.NoFile, 10))
	}
	return append(a, "--core=0", "--")
}

// closeAll closes whatever descriptors are still open.
func (b *bwrapStart) closeAll() {
	for _, f := range []**os.File{&b.seccomp, &b.passwd, &b.group, &b.resolv, &b.infoR, &b.infoW, &b.blockR, &b.blockW} {
		if *f != nil {
			_ = (*f).Close()
			*f = nil
		}
	}
	b.closeSources()
}

// closeSources closes the arguments and the bind sources: bubblewrap has
// its own copies once started.
func (b *bwrapStart) closeSources() {
	if b.args != nil {
		_ = b.args.Close()
		b.args = nil
	}
	for _, f := range b.sources {
		_ = f.Close()
	}
	b.sources = nil
}

// openSources opens the sources of r's read-only paths and then of c's
// binds (see [openSource]), in the order of [bwrapArgs]'s descriptors. A
// source that cannot be opened safely fails the start with [ErrInvalidCmd]
// and the bind's Target (a read-only path's number); the host path goes to
// the log only.
func (r *Runner) openSources(c *Cmd) ([]*os.File, error) {
	files := make([]*os.File, 0, len(r.roPaths)+len(c.Binds))
	fail := func(what, host string, err error) ([]*os.File, error) {
		for _, f := range files {
			_ = f.Close()
		}
		r.log.Warn("sandbox: bind source refused", "kind", c.Kind, "bind", what, "host", host, "err", err)
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCmd, what, err)
	}
	for i, p := range r.roPaths {
		f, err := openSource(p)
		if err != nil {
			return fail("read-only path "+strconv.Itoa(i), p, err)
		}
		files = append(files, f)
	}
	for i, b := range c.Binds {
		f, err := openSource(b.Host)
		if err != nil {
			return fail(bindName(i, b), b.Host, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// abort releases b after a failed start.
func (b *bwrapStart) abort() {
	b.closeAll()
	if b.cg != nil {
		b.cg.remove()
	}
}

// bwrapGroup sends signals to the command inside the sandbox rather than
// to bubblewrap: with --new-session the command leads its own process
// group, which a signal to bubblewrap's group would miss. Once the
// sandbox's pid 1 has ended, its pid may belong to any later
// process of the host (pids wrap around, at 32768 by default), so the
// children signalled are only those of the process that has inner's pid
// and its start time.
type bwrapGroup struct {
	group
	pg      *procGroup
	inner   int
	innerAt uint64 // inner's start time
}

func (g *bwrapGroup) signal(sig syscall.Signal) error {
	if g.pg.released() {
		return os.ErrProcessDone
	}
	if g.inner > 0 {
		if stats, err := readStats(); err == nil && g.innerAlive(stats) {
			sent := false
			for _, s := range stats {
				if s.ppid == g.inner && !s.gone() {
					if syscall.Kill(-s.pgrp, sig) != nil {
						_ = syscall.Kill(s.pid, sig)
					}
					sent = true
				}
			}
			if sent {
				return nil
			}
		}
	}
	return g.group.signal(sig)
}

// innerAlive reports whether stats hold the sandbox's pid 1 itself, still
// running: the same pid with the same start time.
func (g *bwrapGroup) innerAlive(stats []procStat) bool {
	for _, s := range stats {
		if s.pid == g.inner {
			return s.start == g.innerAt && !s.gone()
		}
	}
	return false
}
