package dap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// start prepares the directory and the session's paths, starts dlv and
// waits for its connection.
func (p *proxy) start(ctx context.Context) error {
	o, h := &p.m.opts, p.h
	workspaceDir, err := filepath.Abs(h.Dir)
	if err != nil {
		return fmt.Errorf("workspace directory: %w", err)
	}
	// The server's own symlinks only (the data directory's path), by
	// descriptors: nothing a tenant made is followed (SBX-12).
	real, ok := serverRealPath(workspaceDir)
	if !ok {
		return errors.New("workspace directory: cannot be resolved")
	}
	p.workspaceReal = real
	env, err := h.Env()
	if err != nil {
		return fmt.Errorf("user environment: %w", err)
	}
	td := h.Home
	// dlv may run as the tenant's uid: it dials the socket and writes the
	// debug binary in the session directory (sessiondir.go).
	if p.dir, err = p.makeSessionDir(); err != nil {
		return err
	}
	// dlv sees the session directory at sessionTarget and the workspace
	// as the Handle's Paths say under bubblewrap, host paths without.
	p.dirProc, p.workspaceProc = p.dir, p.workspaceReal
	if o.Runner.Isolation() == sandbox.IsolationBwrap {
		p.dirProc = sessionTarget
		if p.workspaceProc, err = h.Paths.ToProcess(workspace.ClientWorkspace); err != nil {
			return fmt.Errorf("workspace directory: %w", err)
		}
	}
	hosts := []workspace.Alias{
		{Dir: workspaceDir, Client: workspace.ClientWorkspace},
		{Dir: envValue(env, "GOROOT"), Client: workspace.ClientGoRoot},
		{Dir: td.GoModCache, Client: workspace.ClientGoModCache},
	}
	if p.paths, err = newSessionPaths(h.Paths.Config(), p.dir, p.dirProc, hosts); err != nil {
		return err
	}

	sctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	dlv, err := o.Dlv(sctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	p.dlvPath = dlv
	ln, sock, err := p.listenDlv("dlv.sock")
	if err != nil {
		return err
	}
	defer ln.Close()

	p.proc, err = h.Start(ctx, sandbox.Cmd{
		Kind:   "dlv",
		Path:   dlv,
		Args:   dlvArgs(sock),
		Env:    env,
		Dir:    p.workspaceReal,
		Stdout: &logWriter{log: p.log, stream: "stdout"},
		Stderr: &logWriter{log: p.log, stream: "stderr"},
		Binds:  p.binds(),
		Ptrace: true, // dlv traces the program it starts
		// dlv builds (modules may be fetched) and the program may use the
		// network; with isolation, not the host's loopback.
		Network: sandbox.NetworkOutbound,
	})
	if err != nil {
		return fmt.Errorf("%w: start dlv: %w", ErrUnavailable, err)
	}
	p.log = p.log.With("pid", p.proc.Pid())

	proc := p.proc
	c, err := acceptDlv(sctx, ln, p.proc.Done(), func(c *net.UnixConn) error { return checkPeer(c, proc.UID(), proc.Owns) })
	if err != nil {
		return err
	}
	p.conn, p.fr = c, bridge.NewFrameReader(c, o.MaxMessage)
	return nil
}

// dlvArgs are dlv's arguments: dial the proxy's socket sock.
func dlvArgs(sock string) []string {
	return []string{"dap", "--client-addr=unix:" + sock, "--only-same-user"}
}

// acceptDlv waits for dlv to dial ln and checks the peer; it gives up
// when exited is closed (dlv ended) or ctx ends.
func acceptDlv(ctx context.Context, ln *dlvListener, exited <-chan struct{}, check func(*net.UnixConn) error) (*net.UnixConn, error) {
	type accepted struct {
		c   *net.UnixConn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.AcceptUnix()
		ch <- accepted{c, err}
	}()
	var err error
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, fmt.Errorf("%w: accept dlv: %w", ErrUnavailable, a.err)
		}
		if err := check(a.c); err != nil {
			_ = a.c.Close()
			return nil, err
		}
		return a.c, nil
	case <-exited:
		err = fmt.Errorf("%w: dlv exited before connecting", ErrUnavailable)
	case <-ctx.Done():
		err = fmt.Errorf("%w: dlv did not connect: %w", ErrUnavailable, ctx.Err())
	}
	_ = ln.Close() // ends Accept
	if a := <-ch; a.c != nil {
		_ = a.c.Close()
	}
	return nil, err
}

// peerCred returns the credentials of c's peer.
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return nil, fmt.Errorf("peer credentials: %w", cerr)
	}
	return cred, nil
}

// checkPeer accepts only the dlv that was started: a peer running as uid
// (the host uid dlv runs as) whose pid owns accepts (the sandbox process
// or a descendant: under bubblewrap dlv is one).
func checkPeer(c *net.UnixConn, uid int, owns func(pid int) bool) error {
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	if int(cred.Uid) != uid || !owns(int(cred.Pid)) {
		return fmt.Errorf("%w: unexpected peer on the dlv socket (pid %d)", ErrUnavailable, cred.Pid)
	}
	return nil
}

// maxSocketPath is the longest path a unix socket address holds.
const maxSocketPath = 107

// dlvListener is the socket dlv dials. Close stops listening and removes
// the socket through the session directory's descriptor.
type dlvListener struct {
	*net.UnixListener
	dir  int // O_PATH descriptor of the session directory
	name string
	once sync.Once
}

// Close closes the listener and removes its socket; it may be called more
// than once.
func (l *dlvListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		_ = unix.Unlinkat(l.dir, l.name, 0)
		_ = unix.Close(l.dir)
	})
	return err
}

// listenDlv listens on the socket name in the session directory for dlv
// to dial, and returns the listener and the socket's path as dlv dials it
// (in the session directory's process path). The tenant's uid, when dlv runs as one, may connect to it
// (connecting needs write permission on it; chownSocket): the directory is
// the tenant's (makeSessionDir) and the peer check stays the guard.
//
// The socket is bound through a descriptor of the directory
// (/proc/self/fd/N/name), opened without following a link: a socket
// address holds at most 107 bytes, which a long data directory path would
// exceed, and the descriptor pins the directory the server made. Whatever
// holds the name already (something the tenant put there) is unlinked
// first.
func (p *proxy) listenDlv(name string) (*dlvListener, string, error) {
	sock := p.dirProc + "/" + name // as dlv dials it
	if len(sock) > maxSocketPath {
		// Only without isolation, where dlv dials the host path.
		return nil, "", fmt.Errorf("%w: the session directory's path is too long for a socket address; use a shorter data directory", ErrUnavailable)
	}
	dir, err := unix.Open(p.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("listen for dlv: open session directory: %w", err)
	}
	if err := unix.Unlinkat(dir, name, 0); err != nil && err != unix.ENOENT {
		_ = unix.Close(dir)
		return nil, "", fmt.Errorf("listen for dlv: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", dir, name), Net: "unix"})
	if err != nil {
		_ = unix.Close(dir)
		return nil, "", fmt.Errorf("listen for dlv: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	l := &dlvListener{UnixListener: ln, dir: dir, name: name}
	if err := p.chownSocket(name); err != nil {
		_ = l.Close()
		return nil, "", fmt.Errorf("dlv socket: %w", err)
	}
	return l, sock, nil
}

// binds makes the session directory visible to dlv at sessionTarget.
func (p *proxy) binds() []sandbox.Bind {
	return []sandbox.Bind{{Host: p.dir, Target: sessionTarget}}
}
