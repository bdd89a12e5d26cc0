package dap

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/sandbox"
)

// start prepares the directory and the path map, starts dlv and waits for
// its connection.
func (p *proxy) start(ctx context.Context, tenant, ws string) error {
	o := &p.m.opts
	wsDir, err := filepath.Abs(o.Workspaces.Dir(ws))
	if err != nil {
		return fmt.Errorf("workspace directory: %w", err)
	}
	if p.wsRoot, err = filepath.EvalSymlinks(wsDir); err != nil {
		return fmt.Errorf("workspace directory: %w", err)
	}
	env, err := o.Workspaces.ProcessEnv(tenant)
	if err != nil {
		return fmt.Errorf("tenant environment: %w", err)
	}
	td, err := o.Workspaces.TenantDirs(tenant)
	if err != nil {
		return fmt.Errorf("tenant directories: %w", err)
	}
	p.dir, err = os.MkdirTemp(o.TempDir, "ideserver-dap-")
	if err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	if err := os.Chmod(p.dir, 0o700); err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	roots := []Root{{Client: WorkspaceRoot, Host: wsDir}}
	if goroot := envValue(env, "GOROOT"); goroot != "" {
		roots = append(roots, Root{Client: GorootRoot, Host: goroot})
	}
	roots = append(roots,
		Root{Client: GomodcacheRoot, Host: td.GoModCache},
		Root{Client: "/tmp/debug", Host: p.dir, Hidden: true},
		Root{Client: "/home", Host: td.Home, Hidden: true},
		Root{Client: "/gopath", Host: td.GoPath, Hidden: true},
		Root{Client: "/gocache", Host: td.GoCache, Hidden: true},
	)
	for _, h := range o.HiddenDirs {
		roots = append(roots, Root{Client: "/ideserver", Host: h, Hidden: true})
	}
	if p.paths, err = NewPathMap(roots); err != nil {
		return err
	}

	sctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	dlv, err := o.Dlv(sctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	p.dlvPath = dlv
	sock := filepath.Join(p.dir, "dlv.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen for dlv: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	defer ln.Close()

	p.proc, err = o.Runner.Start(ctx, sandbox.Cmd{
		Kind:      "dlv",
		Tenant:    tenant,
		Workspace: ws,
		Path:      dlv,
		Args:      dlvArgs(sock),
		Env:       env,
		Dir:       p.wsRoot,
		Stdout:    &logWriter{log: p.log, stream: "stdout"},
		Stderr:    &logWriter{log: p.log, stream: "stderr"},
	})
	if err != nil {
		return fmt.Errorf("%w: start dlv: %w", ErrUnavailable, err)
	}
	p.log = p.log.With("pid", p.proc.Pid())

	pid := p.proc.Pid()
	c, err := acceptDlv(sctx, ln, p.proc.Done(), func(c *net.UnixConn) error { return checkPeer(c, pid) })
	if err != nil {
		return err
	}
	p.conn, p.fr = c, NewFrameReader(c, o.MaxMessage)
	return nil
}

// dlvArgs are dlv's arguments: dial the proxy's socket sock.
func dlvArgs(sock string) []string {
	return []string{"dap", "--client-addr=unix:" + sock, "--only-same-user"}
}

// acceptDlv waits for dlv to dial ln and checks the peer; it gives up
// when exited is closed (dlv ended) or ctx ends.
func acceptDlv(ctx context.Context, ln *net.UnixListener, exited <-chan struct{}, check func(*net.UnixConn) error) (*net.UnixConn, error) {
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

// checkPeer accepts only dlv itself: same uid, and dlv's pid.
func checkPeer(c *net.UnixConn, pid int) error {
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	if int(cred.Uid) != os.Getuid() || int(cred.Pid) != pid {
		return fmt.Errorf("%w: unexpected peer on the dlv socket (pid %d)", ErrUnavailable, cred.Pid)
	}
	return nil
}

// moveToTerminal replaces the session's dlv with one started in a new
// terminal of the workspace, so the program it launches has the
// terminal's PTY as stdin, stdout and stderr: it starts `dlv dap` there,
// checks the peer, replays the client's initialize, and then makes the
// new dlv current and ends the first one. It runs on the client pump,
// before the launch is forwarded.
func (p *proxy) moveToTerminal() (err error) {
	o := &p.m.opts
	ctx, cancel := context.WithTimeout(p.ctx, o.StartTimeout)
	defer cancel()
	sock := filepath.Join(p.dir, "dlv-terminal.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen for dlv: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	defer ln.Close()
	term, err := o.Terminals.Start(ctx, p.tenant, p.ws, append([]string{p.dlvPath}, dlvArgs(sock)...))
	if err != nil {
		return fmt.Errorf("start dlv in a terminal: %w", err)
	}
	var c *net.UnixConn
	defer func() {
		if err == nil {
			return
		}
		if c != nil {
			_ = c.Close()
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if cerr := term.Close(cctx); cerr != nil {
			p.log.Warn("dap: end terminal", "err", cerr)
		}
	}()
	c, err = acceptDlv(ctx, ln, term.Done(), func(c *net.UnixConn) error { return checkPeer(c, term.Pid()) })
	if err != nil {
		return err
	}
	fr := NewFrameReader(c, o.MaxMessage)
	if p.initReq != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(dl)
		}
		if err := WriteFrame(c, p.initReq); err != nil {
			return fmt.Errorf("%w: initialize dlv: %w", ErrUnavailable, err)
		}
		for {
			msg, err := fr.Read()
			if err != nil {
				return fmt.Errorf("%w: initialize dlv: %w", ErrUnavailable, err)
			}
			var r struct {
				Type    string `json:"type"`
				Command string `json:"command"`
				Success bool   `json:"success"`
			}
			if json.Unmarshal(msg, &r) == nil && r.Type == "response" && r.Command == "initialize" {
				if !r.Success {
					return fmt.Errorf("%w: dlv refused initialize", ErrUnavailable)
				}
				break
			}
		}
		_ = c.SetDeadline(time.Time{})
	}
	p.dlvMu.Lock()
	old, oldProc := p.conn, p.proc
	p.conn, p.fr, p.proc, p.term = c, fr, nil, term
	p.dlvMu.Unlock()
	_ = old.Close() // pumpDlv moves on to the new dlv
	if oldProc != nil {
		if err := oldProc.Close(); err != nil {
			p.log.Warn("dap: stop dlv", "err", err)
		}
	}
	p.log.Debug("dap: dlv runs in a terminal", "terminal_id", term.ID())
	return nil
}
