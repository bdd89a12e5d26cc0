package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// outputLimit bounds how long output copying may go on after the process
// and everything it left have ended.
const outputLimit = 10 * time.Second

// ExitStatus is how the main process ended.
type ExitStatus struct {
	Code   int    // exit code; -1 when killed by a signal
	Signal string // the signal that killed it, e.g. "killed" or "terminated"; "" after a normal exit
}

// Process is a started process and everything it starts. Its methods are safe
// for concurrent use. A Process with a PTY must be closed to release the
// master; one without is released when it ends, and closing it then is cheap.
type Process struct {
	r      *Runner
	log    *slog.Logger
	kind   string
	marker string

	started  chan struct{} // closed when the start attempt is over
	startErr error
	pid      int
	uid      int // host uid it runs as
	g        group
	io       stdio

	done     chan struct{} // closed when the main process has been reaped
	status   ExitStatus    // set before done is closed
	waitErr  error         // set before done is closed
	cleanErr error         // set before done is closed: survivors of the cleanup

	mu         sync.Mutex
	exited     bool  // the main process has exited (maybe not yet reaped)
	stopReason error // why it was stopped, if it was still running

	stopOnce  sync.Once
	closeOnce sync.Once
}

// Start starts c and returns once it runs (or failed to start). The process
// is ended (as by Close) when ctx is cancelled, when Close or Runner.Close is
// called, or when its main process exits on its own: what it left behind
// (background jobs, setsid'ed children, ...) is then terminated too. Errors
// never contain a host path.
func (r *Runner) Start(ctx context.Context, c Cmd) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Kind, err)
	}
	if n, ok := r.networks[c.Kind]; ok {
		c.Network = n
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	path, err := c.resolve()
	if err != nil {
		return nil, err
	}
	p := &Process{
		r:       r,
		kind:    c.Kind,
		uid:     os.Getuid(),
		started: make(chan struct{}),
		done:    make(chan struct{}),
	}
	id, err := r.register(p)
	if err != nil {
		return nil, err
	}
	p.marker = MarkerVar + "=" + r.instance + "/" + id
	p.log = r.log.With("kind", c.Kind, "owner", c.Owner, "workspace_id", c.Workspace, "sandbox_id", id)

	cmd := &exec.Cmd{
		Path: path,
		Args: append([]string{c.Path}, c.Args...),
		Env:  c.environ(p.marker),
		Dir:  c.Dir,
	}
	if c.PTY != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	var iso *bwrapStart
	if r.iso == IsolationBwrap {
		if iso, err = r.prepareBwrap(&c, cmd, id); err != nil {
			p.startFailed(err)
			return nil, err
		}
		p.uid = iso.uid
	}
	if err := p.io.setup(&c, cmd); err != nil {
		if iso != nil {
			iso.abort()
		}
		p.startFailed(err)
		return nil, fmt.Errorf("start %s: %w", c.Kind, err)
	}

	go p.run(cmd, c.PTY != nil, iso)
	<-p.started
	if p.startErr != nil {
		return nil, p.startErr
	}
	p.log.Debug("sandbox: started", "network", c.Network.String())
	stop := context.AfterFunc(ctx, func() { p.stop(context.Cause(ctx)) })
	go func() { <-p.done; stop() }()
	return p, nil
}

// startFailed records err and releases the registration. Called before run.
func (p *Process) startFailed(err error) {
	p.startErr = err
	p.r.finished(p, true)
	p.r.wg.Done()
	close(p.started)
}

// run is the lifecycle goroutine: the only caller of cmd.Wait. It keeps its
// OS thread locked until the child is reaped, because Pdeathsig fires when
// the thread that forked the child exits (golang/go#27505).
func (p *Process) run(cmd *exec.Cmd, session bool, iso *bwrapStart) {
	defer p.r.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	if err := cmd.Start(); err != nil {
		p.io.abort()
		if iso != nil {
			iso.abort()
		}
		p.startErr = fmt.Errorf("start %s: %w", p.kind, safeErr(err))
		p.r.finished(p, true)
		close(p.started)
		return
	}
	p.io.started()
	p.pid = cmd.Process.Pid
	p.log = p.log.With("pid", p.pid)
	pg := newProcGroup(p.pid, session, p.marker, p.log)
	p.g = pg
	if iso != nil {
		err := iso.started(p)
		if iso.cg != nil {
			p.g = &cgGroup{procGroup: pg, cg: iso.cg}
		}
		p.g = &bwrapGroup{group: p.g, pg: pg, inner: iso.inner, innerAt: iso.innerAt}
		if err != nil {
			// The command never ran (bubblewrap was still blocked): end
			// the sandbox and what it started, and fail the start.
			_ = p.g.terminate(0, true)
			_ = cmd.Wait()
			_ = p.io.finish(outputLimit)
			p.io.abort() // closes the PTY master
			p.startErr = fmt.Errorf("start %s: %w", p.kind, err)
			p.r.finished(p, true)
			close(p.started)
			return
		}
	}
	close(p.started)

	waitExited(p.pid)
	p.mu.Lock()
	p.exited = true
	reason := p.stopReason
	p.mu.Unlock()

	// The main process is a zombie now, so its pid (the pgid and sid) cannot
	// be reused while what it left is terminated.
	p.cleanErr = p.g.terminate(p.r.grace, true)
	waitErr := cmd.Wait()
	ioErr := p.io.finish(outputLimit)

	if st := cmd.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.status = ExitStatus{Code: -1, Signal: ws.Signal().String()}
		} else {
			p.status = ExitStatus{Code: st.ExitCode()}
		}
	}
	var exitErr *exec.ExitError
	if errors.As(waitErr, &exitErr) {
		waitErr = nil
	}
	if reason != nil {
		reason = fmt.Errorf("wait %s: %w", p.kind, reason)
	}
	if waitErr != nil {
		waitErr = fmt.Errorf("wait %s: %w", p.kind, waitErr)
	}
	p.waitErr = errors.Join(reason, waitErr, ioErr, p.cleanErr)
	p.log.Debug("sandbox: exited", "code", p.status.Code, "signal", p.status.Signal, "stopped", reason != nil)
	p.r.finished(p, p.io.ptmx == nil)
	close(p.done)
}

// waitExited blocks until pid has exited, without reaping it.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return // on any other error cmd.Wait reports it
		}
	}
}

// safeErr drops host paths from errors of os/exec.
func safeErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// stop terminates the process and everything it started, once; reason is
// what Wait reports if the main process was still running.
func (p *Process) stop(reason error) {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		if !p.exited {
			p.stopReason = reason
		}
		p.mu.Unlock()
		_ = p.g.terminate(p.r.grace, false) // errors are reported by the lifecycle's final pass
	})
}

// Pid returns the main process's pid.
func (p *Process) Pid() int { return p.pid }

// UID returns the host uid the process runs as: its owner's with
// [IsolationBwrap] and [Options.OwnerUID], else the server's.
func (p *Process) UID() int { return p.uid }

// Owns reports whether pid is the main process or a live descendant of it.
// With [IsolationBwrap] the main process is bubblewrap and the command runs
// as its descendant, so a peer check (SO_PEERCRED of a socket the command
// dialled) asks Owns rather than comparing with Pid. False once Done.
func (p *Process) Owns(pid int) bool {
	select {
	case <-p.done:
		return false
	default:
	}
	for range 256 { // bounds a walk through a (racy) cycle of reused pids
		if pid <= 1 {
			return false
		}
		if pid == p.pid {
			return true
		}
		s, err := readStat(pid)
		if err != nil || s.gone() {
			return false
		}
		pid = s.ppid
	}
	return false
}

// PTY returns the master side of the pseudo-terminal, or nil without PTY.
// The Process owns it: Close closes it after the process is gone. Reads
// return an error (EIO) once every process holding the slave has ended.
func (p *Process) PTY() *os.File { return p.io.ptmx }

// Resize sets the PTY's window size (TIOCSWINSZ; the foreground process
// group gets SIGWINCH). It returns ErrNoPTY without PTY.
func (p *Process) Resize(w Winsize) error {
	if p.io.ptmx == nil {
		return ErrNoPTY
	}
	if err := pty.Setsize(p.io.ptmx, &pty.Winsize{Rows: w.Rows, Cols: w.Cols}); err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	return nil
}

// Done is closed when the main process has exited, what it left behind has
// been terminated, it has been reaped, and its output has been copied. With
// leftovers that ignore SIGTERM that is up to KillGrace after the exit.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait blocks until Done and returns how the main process ended. A non-zero
// exit is a status, not an error. The error wraps ErrStopped or the context's
// cause when Close or ctx ended a running process, ErrSurvivors when something
// could not be killed, and output copying errors. Any number of goroutines may
// call it.
func (p *Process) Wait() (ExitStatus, error) {
	<-p.done
	return p.status, p.waitErr
}

// Signal sends sig to the main process's process group (not to setsid'ed
// descendants; Close reaches those). It returns os.ErrProcessDone once the
// main process has been reaped.
func (p *Process) Signal(sig syscall.Signal) error { return p.g.signal(sig) }

// Close terminates everything the process started — its process group, its
// session, setsid'ed and double-forked descendants, nohup'ed jobs — with
// SIGTERM, then SIGKILL after KillGrace, and returns only when no such
// process remains; then it closes the PTY master. It returns an error
// wrapping ErrSurvivors if something could not be killed. Idempotent and
// safe to call concurrently; each call blocks until the process is gone.
func (p *Process) Close() error {
	<-p.started
	if p.startErr != nil {
		return nil
	}
	p.stop(ErrStopped)
	<-p.done
	p.closeOnce.Do(func() {
		if p.io.ptmx != nil {
			_ = p.io.ptmx.Close()
		}
		p.r.forget(p)
	})
	return p.cleanErr
}
