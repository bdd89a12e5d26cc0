package terminal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// Command limits.
const (
	maxArgs   = 256
	maxArgLen = 16 << 10
)

// CreateOptions is what a client may choose about a new terminal; nothing
// else of the client reaches the process (no environment, working directory
// or shell path).
type CreateOptions struct {
	Cols, Rows int      // 0: DefaultCols, DefaultRows
	Command    []string // argv; nil: the shell (bash, else sh)

	// Binds are further host paths the command sees (sandbox.Cmd.Binds),
	// and Ptrace lets it trace its descendants (sandbox.Cmd.Ptrace): for a
	// debugger started by the server (package dap). Never set them from a
	// client's request.
	Binds  []sandbox.Bind
	Ptrace bool
}

// Info describes a terminal, as the API shows it.
type Info struct {
	ID        string    `json:"id"`
	Cols      int       `json:"cols"`
	Rows      int       `json:"rows"`
	CreatedAt time.Time `json:"created_at"`
	Clients   int       `json:"clients"` // attached clients
	Exited    bool      `json:"exited"`  // the process ended; ExitCode is set
	ExitCode  int       `json:"exit_code"`
}

// MarshalJSON leaves exit_code out while the process runs.
func (i Info) MarshalJSON() ([]byte, error) {
	type plain Info
	v := struct {
		plain
		ExitCode *int `json:"exit_code,omitempty"`
	}{plain: plain(i)}
	if i.Exited {
		v.ExitCode = &i.ExitCode
	}
	return json.Marshal(v)
}

// checkSize validates a terminal size.
func checkSize(cols, rows int) error {
	if cols < 1 || rows < 1 || cols > MaxCols || rows > MaxRows {
		return fmt.Errorf("%w: %dx%d is outside 1x1 to %dx%d", ErrInvalidSize, cols, rows, MaxCols, MaxRows)
	}
	return nil
}

func checkCommand(argv []string) error {
	if argv == nil {
		return nil
	}
	if len(argv) == 0 || len(argv) > maxArgs {
		return fmt.Errorf("%w: it needs 1 to %d arguments", ErrInvalidCommand, maxArgs)
	}
	for _, a := range argv {
		if len(a) > maxArgLen || strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: an argument is longer than %d bytes or holds NUL", ErrInvalidCommand, maxArgLen)
		}
	}
	if argv[0] == "" {
		return fmt.Errorf("%w: the program name is empty", ErrInvalidCommand)
	}
	return nil
}

// Create starts a terminal in h's workspace for h's user: the command
// (default the shell) in the workspace directory (h.Start), on a PTY of the
// given size, as the user's uid with the user's environment (h.Env) plus
// TERM=xterm-256color and LANG=C.UTF-8. h is the caller's checked access
// (workspace.Manager.Open). ctx bounds the start only; the
// terminal lives until Delete, idle timeout, StopWorkspace or Close.
// Errors: ErrInvalidSize, ErrInvalidCommand (also for an unknown program,
// then wrapping sandbox.ErrNotFound too), ErrLimit, ErrClosed, or the
// start error, never with a host path.
func (m *Manager) Create(ctx context.Context, h *workspace.Handle, o CreateOptions) (Info, error) {
	if o.Cols == 0 && o.Rows == 0 {
		o.Cols, o.Rows = DefaultCols, DefaultRows
	}
	if err := checkSize(o.Cols, o.Rows); err != nil {
		return Info{}, err
	}
	if err := checkCommand(o.Command); err != nil {
		return Info{}, err
	}
	id, err := newID()
	if err != nil {
		return Info{}, err
	}
	k := h.Key()
	t := &Terminal{
		m:        m,
		id:       id,
		key:      k,
		created:  time.Now().UTC(),
		cols:     o.Cols,
		rows:     o.Rows,
		ring:     newRing(m.opts.Scrollback),
		readDone: make(chan struct{}),
		log:      m.log.With("owner", k.Owner, "workspace_id", k.WorkspaceID, "terminal_id", id),
	}
	// Take the slot before starting, so concurrent Creates cannot both
	// pass the limit.
	if err := m.reg.Add(k, id, t); err != nil {
		return Info{}, addErr(err)
	}
	proc, err := m.start(ctx, h, o)
	ptmx := (*os.File)(nil)
	if err == nil {
		if ptmx, err = pollablePTY(proc.PTY()); err != nil {
			// Served as it is: a reader holding a thread.
			t.log.Warn("terminal: pty stays blocking", "err", err)
			ptmx, err = proc.PTY(), nil
		}
	}
	// Publish the process under the lock Stop reads it under: a Stop
	// (StopWorkspace, Close) that came while the process started found
	// none to end, so it is ended here instead of outliving them.
	t.mu.Lock()
	cause := t.stopping
	if err == nil && cause == nil {
		t.proc, t.pty = proc, ptmx
		m.wg.Add(1) // the reader
		t.armIdleLocked()
	}
	t.mu.Unlock()
	if err != nil || cause != nil {
		m.reg.Remove(t)
		if ptmx != nil && ptmx != proc.PTY() {
			_ = ptmx.Close()
		}
		if proc != nil {
			_ = proc.Close()
		}
		close(t.readDone)
		if errors.Is(err, sandbox.ErrNotFound) {
			return Info{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
		}
		if err != nil {
			return Info{}, err
		}
		return Info{}, stoppedWhileStarting(cause)
	}
	m.met.running.Inc()
	go t.readLoop(proc, ptmx)
	t.log.Debug("terminal: started", "pid", proc.Pid())
	return t.Info(), nil
}

// start runs the command through the sandbox. The default is an
// interactive bash, else sh. bash is not run as a login shell (-l): a
// login shell sources /etc/profile, which on Debian-like systems sets a
// fixed PATH and would drop the Go toolchain that h.Env puts first.
func (m *Manager) start(ctx context.Context, h *workspace.Handle, o CreateOptions) (*sandbox.Process, error) {
	argv := o.Command
	if m.beforeStart != nil {
		m.beforeStart()
	}
	env, err := h.Env("TERM=xterm-256color", "LANG=C.UTF-8")
	if err != nil {
		return nil, fmt.Errorf("terminal environment: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start terminal: %w", err)
	}
	cmd := sandbox.Cmd{
		Kind:   "terminal",
		Env:    env,
		PTY:    &sandbox.Winsize{Cols: uint16(o.Cols), Rows: uint16(o.Rows)},
		Binds:  slices.Clone(o.Binds),
		Ptrace: o.Ptrace,
		// A developer's shell fetches modules (go get) and reaches the
		// internet; with isolation, not the host's loopback.
		Network: sandbox.NetworkOutbound,
	}
	if argv != nil {
		cmd.Path, cmd.Args = argv[0], slices.Clone(argv[1:])
		return h.Start(m.ctx, cmd)
	}
	for _, sh := range []string{"bash", "sh"} {
		cmd.Path = sh
		p, err := h.Start(m.ctx, cmd)
		if errors.Is(err, sandbox.ErrNotFound) {
			continue
		}
		return p, err
	}
	return nil, fmt.Errorf("%w: no bash or sh on PATH", sandbox.ErrNotFound)
}

// newID returns 128 random bits, URL-safe.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("terminal id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
