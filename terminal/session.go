package terminal

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ideserver/ideserver/sandbox"
)

// readBufSize is the PTY read size; Linux returns at most about 4 KiB per
// read, and attachments coalesce reads into larger messages.
const readBufSize = 16 << 10

// Session is one terminal: a process on a PTY, its scrollback and its
// attached clients. Its methods are safe for concurrent use.
type Session struct {
	m         *Manager
	id        string
	owner     string // the user's owner key (workspace.Owner.Key)
	workspace string
	created   time.Time
	proc      *sandbox.Process // nil while starting
	log       *slog.Logger

	inMu sync.Mutex // serialises input to the PTY

	mu       sync.Mutex
	ring     *ring
	cols     int
	rows     int
	subs     map[*attachment]struct{}
	exited   bool
	code     int
	idle     *time.Timer
	idleGen  uint64
	readDone chan struct{} // closed when the reader ended and exited is set
	endOnce  sync.Once
	endErr   error
}

// ID returns the terminal's id.
func (s *Session) ID() string { return s.id }

// Pid returns the host pid of the terminal's process (the shell or the
// command; under bubblewrap, bubblewrap itself), for logs. Callers that
// must recognise the command, such as the debugger checking who connects
// to its socket, use Owns. It is 0 while the terminal starts.
func (s *Session) Pid() int {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// Owns reports whether pid is the terminal's process or a live
// descendant of it (sandbox.Process.Owns): under bubblewrap the command
// runs as a descendant of the process Pid names. False while the terminal
// starts and after its process ended.
func (s *Session) Owns(pid int) bool {
	s.m.mu.Lock()
	p := s.proc
	s.m.mu.Unlock()
	return p != nil && p.Owns(pid)
}

// UID returns the host uid the terminal's processes run as
// (sandbox.Process.UID), or -1 while the terminal starts.
func (s *Session) UID() int {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.proc == nil {
		return -1
	}
	return s.proc.UID()
}

// Info describes the terminal now.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Info{
		ID: s.id, Cols: s.cols, Rows: s.rows, CreatedAt: s.created,
		Clients: len(s.subs), Exited: s.exited, ExitCode: s.code,
	}
}

// Done is closed when the process has ended and all its output has been
// read into the scrollback.
func (s *Session) Done() <-chan struct{} { return s.readDone }

// readLoop is the PTY's single reader: it appends to the ring and wakes
// the attachments, and never writes to a client. When the PTY reports an
// error (every holder of the slave has gone) it records the exit status
// and releases the process.
func (s *Session) readLoop() {
	defer s.m.wg.Done()
	ptmx := s.proc.PTY()
	buf := make([]byte, readBufSize)
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.ring.write(buf[:n])
			s.notifyLocked()
			s.mu.Unlock()
			s.m.met.out.Add(float64(n))
		}
		if err != nil {
			break
		}
	}
	st, err := s.proc.Wait()
	if err != nil {
		s.log.Debug("terminal: process ended", "err", err)
	}
	if cerr := s.proc.Close(); cerr != nil {
		s.log.Warn("terminal: processes survived", "err", cerr)
	}
	s.m.met.sessions.Dec()
	s.mu.Lock()
	s.exited, s.code = true, st.Code
	s.notifyLocked()
	s.mu.Unlock()
	close(s.readDone)
	s.log.Debug("terminal: exited", "code", st.Code, "signal", st.Signal)
}

// notifyLocked wakes every attachment's writer. s.mu is held.
func (s *Session) notifyLocked() {
	for a := range s.subs {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// armIdleLocked starts the idle timer when no client is attached. s.mu is
// held.
func (s *Session) armIdleLocked() {
	if len(s.subs) > 0 {
		return
	}
	s.idleGen++
	gen := s.idleGen
	if s.idle != nil {
		s.idle.Stop()
	}
	s.idle = time.AfterFunc(s.m.opts.IdleTimeout, func() { s.expire(gen) })
}

// disarmIdleLocked stops the idle timer. s.mu is held.
func (s *Session) disarmIdleLocked() {
	s.idleGen++
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
}

// expire ends the terminal if no client attached since the timer of gen
// was armed.
func (s *Session) expire(gen uint64) {
	s.mu.Lock()
	stale := gen != s.idleGen || len(s.subs) > 0
	s.mu.Unlock()
	if stale {
		return
	}
	s.log.Info("terminal: idle timeout")
	_ = s.end(context.Background())
}

// end removes the terminal from its manager, kills its processes and waits
// until they are gone and the reader has stopped, or ctx ends. Attached
// clients then receive the remaining output and the exit message. Safe to
// call more than once.
func (s *Session) end(ctx context.Context) error {
	s.m.remove(s)
	s.mu.Lock()
	s.disarmIdleLocked()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.endOnce.Do(func() {
			if err := s.proc.Close(); err != nil {
				s.endErr = fmt.Errorf("end terminal: %w", err)
			}
			<-s.readDone
		})
		close(done)
	}()
	select {
	case <-done:
		return s.endErr
	case <-ctx.Done():
		return fmt.Errorf("end terminal: %w", ctx.Err())
	}
}

// input writes client bytes to the PTY. Errors after the process ended
// are dropped: the exit message tells the client.
func (s *Session) input(p []byte) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if _, err := s.proc.PTY().Write(p); err != nil {
		s.log.Debug("terminal: input dropped", "err", err)
		return
	}
	s.m.met.in.Add(float64(len(p)))
}

// Resize sets the terminal size (the last resize of any client wins). It
// returns ErrInvalidSize outside the bounds.
func (s *Session) Resize(cols, rows int) error {
	if err := checkSize(cols, rows); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited {
		return nil
	}
	if err := s.proc.Resize(sandbox.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		return err
	}
	s.cols, s.rows = cols, rows
	return nil
}
