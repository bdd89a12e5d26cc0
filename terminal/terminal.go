package terminal

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
)

// readBufSize is the PTY read size: Linux returns at most 4 KiB per read
// (the line discipline's buffer), and attachments coalesce reads into
// larger messages.
const readBufSize = 4 << 10

// Terminal is one terminal: a process on a PTY, its scrollback and its
// attached clients. It outlives its clients; each client connection to it
// is an attachment ([Terminal.Attach]). Its methods are safe for
// concurrent use.
type Terminal struct {
	m       *Manager
	id      string
	key     bridge.Key // the owner and workspace it belongs to
	created time.Time
	log     *slog.Logger

	inMu sync.Mutex // serialises input to the PTY

	mu       sync.Mutex
	proc     *sandbox.Process // nil while starting
	pty      *os.File         // its PTY master, pollable (pollablePTY); set with proc
	stopping error            // Stop's cause; a starting terminal is ended by Create
	gone     bool             // left the manager: ended, or its exit delivered
	ring     *ring
	cols     int
	rows     int
	subs     []*attachment // attached clients: few, walked for every read
	exited   bool
	code     int
	closeErr error // what ending the processes returned; set before readDone closes
	idle     *time.Timer
	idleGen  uint64
	readDone chan struct{} // closed when the reader ended and exited is set
}

// ID returns the terminal's id.
func (t *Terminal) ID() string { return t.id }

// process returns the terminal's process, nil while it starts.
func (t *Terminal) process() *sandbox.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proc
}

// Owns reports whether pid is the terminal's process or a live
// descendant of it (sandbox.Process.Owns): under bubblewrap the command
// runs as a descendant of the process Pid names. False while the terminal
// starts and after its process ended.
func (t *Terminal) Owns(pid int) bool {
	p := t.process()
	return p != nil && p.Owns(pid)
}

// UID returns the host uid the terminal's processes run as
// (sandbox.Process.UID), or -1 while the terminal starts.
func (t *Terminal) UID() int {
	if p := t.process(); p != nil {
		return p.UID()
	}
	return -1
}

// Info describes the terminal now.
func (t *Terminal) Info() Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Info{
		ID: t.id, Cols: t.cols, Rows: t.rows, CreatedAt: t.created,
		Clients: len(t.subs), Exited: t.exited, ExitCode: t.code,
	}
}

// Done is closed when the process has ended, every process it started is
// gone, and all its output has been read into the scrollback.
func (t *Terminal) Done() <-chan struct{} { return t.readDone }

// Stop ends the terminal without waiting, as Delete does: it leaves the
// manager, and every process it started is killed; Done is closed once
// they are gone. Attached clients receive the remaining output and the
// exit message. cause says why (bridge.ErrWorkspaceStopped,
// bridge.ErrShuttingDown, or the terminal's own reasons), for logs. A
// terminal that is still starting is ended by Create once its process
// exists. Safe to call more than once.
func (t *Terminal) Stop(cause error) {
	if cause == nil {
		cause = errDeleted
	}
	t.mu.Lock()
	first := t.stopping == nil
	if first {
		t.stopping = cause
	}
	t.gone = true
	t.disarmIdleLocked()
	p := t.proc
	t.mu.Unlock()
	t.m.reg.Remove(t)
	if !first || p == nil {
		return
	}
	t.log.Debug("terminal: stopping", "cause", cause)
	// Close kills everything and waits; the reader then sees the PTY end
	// and closes Done.
	t.m.wg.Go(func() { _ = p.Close() })
}

// leave takes the terminal out of the manager once its exit was
// delivered to a client.
func (t *Terminal) leave() {
	t.mu.Lock()
	t.gone = true
	t.disarmIdleLocked()
	t.mu.Unlock()
	t.m.reg.Remove(t)
}

// Stop causes of the terminal's own.
var (
	errDeleted = bridge.Closing(bridge.CloseNormal, "terminal deleted", nil)
	errIdle    = bridge.Closing(bridge.CloseNormal, "idle timeout", nil)
)

// end stops the terminal and waits until its processes are gone and the
// reader has stopped, or ctx ends. It returns an error wrapping
// sandbox.ErrSurvivors if something could not be killed.
func (t *Terminal) end(ctx context.Context) error {
	t.Stop(errDeleted)
	if err := bridge.WaitClosed(ctx, t.readDone); err != nil {
		return fmt.Errorf("end terminal: %w", err)
	}
	return t.endErr()
}

// endErr is what ending the terminal's processes returned, once Done.
func (t *Terminal) endErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closeErr != nil {
		return fmt.Errorf("end terminal: %w", t.closeErr)
	}
	return nil
}

// readLoop is the PTY's single reader: it appends to the ring and wakes
// the attachments, and never writes to a client. When the PTY reports an
// error (every holder of the slave has gone) it records the exit status
// and releases the process.
func (t *Terminal) readLoop(proc *sandbox.Process, ptmx *os.File) {
	defer t.m.wg.Done()
	buf := make([]byte, readBufSize)
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			t.mu.Lock()
			t.ring.write(buf[:n])
			t.notifyLocked()
			t.mu.Unlock()
			t.m.met.out.Add(float64(n))
		}
		if err != nil {
			break
		}
	}
	st, err := proc.Wait()
	if err != nil {
		t.log.Debug("terminal: process ended", "err", err)
	}
	cerr := proc.Close()
	if cerr != nil {
		t.log.Warn("terminal: processes survived", "err", cerr)
	}
	t.m.met.running.Dec()
	t.mu.Lock()
	if ptmx != proc.PTY() {
		_ = ptmx.Close() // the duplicate; later input is dropped
	}
	t.exited, t.code, t.closeErr = true, st.Code, cerr
	t.notifyLocked()
	t.mu.Unlock()
	close(t.readDone)
	t.log.Debug("terminal: exited", "code", st.Code, "signal", st.Signal)
}

// notifyLocked wakes every attachment's writer. t.mu is held.
func (t *Terminal) notifyLocked() {
	for _, a := range t.subs {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// armIdleLocked starts the idle timer when no client is attached. t.mu is
// held.
func (t *Terminal) armIdleLocked() {
	if len(t.subs) > 0 || t.gone {
		return
	}
	t.idleGen++
	gen := t.idleGen
	if t.idle != nil {
		t.idle.Stop()
	}
	t.idle = time.AfterFunc(t.m.opts.IdleTimeout, func() { t.expire(gen) })
}

// disarmIdleLocked stops the idle timer. t.mu is held.
func (t *Terminal) disarmIdleLocked() {
	t.idleGen++
	if t.idle != nil {
		t.idle.Stop()
		t.idle = nil
	}
}

// expire ends the terminal if no client attached since the timer of gen
// was armed.
func (t *Terminal) expire(gen uint64) {
	t.mu.Lock()
	stale := gen != t.idleGen || len(t.subs) > 0
	t.mu.Unlock()
	if stale {
		return
	}
	t.log.Info("terminal: idle timeout")
	t.Stop(errIdle)
}

// input writes client bytes to the PTY master ptmx. Errors after the
// process ended are dropped: the exit message tells the client.
func (t *Terminal) input(ptmx *os.File, p []byte) {
	t.inMu.Lock()
	defer t.inMu.Unlock()
	if _, err := ptmx.Write(p); err != nil {
		t.log.Debug("terminal: input dropped", "err", err)
		return
	}
	t.m.met.in.Add(float64(len(p)))
}

// Resize sets the terminal size (the last resize of any client wins). It
// returns ErrInvalidSize outside the bounds.
func (t *Terminal) Resize(cols, rows int) error {
	if err := checkSize(cols, rows); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited || t.proc == nil {
		return nil
	}
	if err := setWinsize(t.pty, cols, rows); err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	t.cols, t.rows = cols, rows
	return nil
}
