package terminal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ideserver/ideserver/sandbox"
	ideworkspace "github.com/ideserver/ideserver/workspace"
)

var (
	// ErrNotFound: no such terminal for this tenant and workspace (or it
	// ended and its output was delivered).
	ErrNotFound = errors.New("terminal: not found")
	// ErrLimit: the workspace or tenant has as many terminals as allowed.
	ErrLimit = errors.New("terminal: limit reached")
	// ErrInvalidSize: cols or rows out of [1, MaxCols] x [1, MaxRows].
	ErrInvalidSize = errors.New("terminal: invalid size")
	// ErrInvalidCommand: an empty command, an empty or NUL-holding argument,
	// or one too long.
	ErrInvalidCommand = errors.New("terminal: invalid command")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("terminal: manager closed")
	// ErrInputTooLarge ends an attachment whose client sent a message larger
	// than Options.MaxInput.
	ErrInputTooLarge = errors.New("terminal: input message too large")
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

// Info describes a terminal.
type Info struct {
	ID        string
	Cols      int
	Rows      int
	CreatedAt time.Time
	Clients   int  // attached clients
	Exited    bool // the process ended; ExitCode is set
	ExitCode  int  // -1 when killed by a signal
}

// Manager owns the terminals of all workspaces. Its methods are safe for
// concurrent use.
type Manager struct {
	opts Options
	log  *slog.Logger
	met  *metrics
	ctx  context.Context // parent of every process; cancelled by Close
	stop context.CancelFunc

	mu       sync.Mutex
	closed   bool
	sessions map[string]*Session
	wg       sync.WaitGroup // session reader goroutines

	chunks sync.Pool // *[]byte of writeChunk bytes, for client writers
}

// New returns a Manager. It starts nothing until Create.
func New(opts Options) (*Manager, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	met, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Manager{
		opts:     opts,
		log:      opts.Logger,
		met:      met,
		ctx:      ctx,
		stop:     stop,
		sessions: make(map[string]*Session),
		chunks:   sync.Pool{New: func() any { b := make([]byte, writeChunk); return &b }},
	}, nil
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

// Create starts a terminal in workspace for owner, a user's owner key
// (workspace.Owner.Key): the command (default the shell) in the workspace
// directory, on a PTY of the given size, as the user's uid with the user's
// environment plus TERM=xterm-256color and LANG=C.UTF-8. The caller has
// checked that owner owns workspace. ctx bounds the start only;
// the terminal lives until Delete, idle timeout, StopWorkspace or Close.
// Errors: ErrInvalidSize, ErrInvalidCommand, ErrLimit, ErrClosed, or the
// start error (sandbox.ErrNotFound for an unknown program), never with a
// host path.
func (m *Manager) Create(ctx context.Context, owner, workspace string, o CreateOptions) (Info, error) {
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
	s := &Session{
		m:         m,
		id:        id,
		owner:     owner,
		workspace: workspace,
		created:   time.Now().UTC(),
		cols:      o.Cols,
		rows:      o.Rows,
		ring:      newRing(m.opts.Scrollback),
		subs:      make(map[*attachment]struct{}),
		readDone:  make(chan struct{}),
		log:       m.log.With("owner", owner, "workspace_id", workspace, "terminal_id", id),
	}
	// Reserve the slot before starting, so concurrent Creates cannot both
	// pass the limit.
	if err := m.reserve(s); err != nil {
		return Info{}, err
	}
	proc, err := m.start(ctx, s, o)
	if err != nil {
		m.mu.Lock()
		delete(m.sessions, s.id)
		m.mu.Unlock()
		return Info{}, err
	}
	// Publish the process under the lock that Get, List and Close read it
	// under; a Close that ran while the process started did not see this
	// session, so the process is ended here instead of outliving Close.
	m.mu.Lock()
	if m.closed {
		delete(m.sessions, s.id)
		m.mu.Unlock()
		_ = proc.Close()
		return Info{}, ErrClosed
	}
	s.proc = proc
	m.wg.Add(1)
	m.mu.Unlock()
	m.met.sessions.Inc()
	go s.readLoop()
	s.mu.Lock()
	s.armIdleLocked()
	s.mu.Unlock()
	s.log.Debug("terminal: started", "pid", proc.Pid())
	return s.Info(), nil
}

func (m *Manager) reserve(s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	inWS, inTenant := 0, 0
	tenant := ideworkspace.OwnerTenant(s.owner)
	for _, o := range m.sessions {
		if ideworkspace.OwnerTenant(o.owner) == tenant {
			inTenant++
			if o.owner == s.owner && o.workspace == s.workspace {
				inWS++
			}
		}
	}
	switch {
	case inWS >= m.opts.MaxPerWorkspace:
		return fmt.Errorf("%w: %d terminals per workspace", ErrLimit, m.opts.MaxPerWorkspace)
	case inTenant >= m.opts.MaxPerTenant:
		return fmt.Errorf("%w: %d terminals per tenant", ErrLimit, m.opts.MaxPerTenant)
	}
	m.sessions[s.id] = s
	return nil
}

// start runs the command through the sandbox. The default is an
// interactive bash, else sh. bash is not run as a login shell (-l): a
// login shell sources /etc/profile, which on Debian-like systems sets a
// fixed PATH and would drop the Go toolchain that Env puts first.
func (m *Manager) start(ctx context.Context, s *Session, o CreateOptions) (*sandbox.Process, error) {
	argv := o.Command
	env, err := m.opts.Env(s.owner, "TERM=xterm-256color", "LANG=C.UTF-8")
	if err != nil {
		return nil, fmt.Errorf("terminal environment: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start terminal: %w", err)
	}
	cmd := sandbox.Cmd{
		Kind:      "terminal",
		Owner:     s.owner,
		Workspace: s.workspace,
		Env:       env,
		Dir:       m.opts.Dir(s.workspace),
		PTY:       &sandbox.Winsize{Cols: uint16(s.cols), Rows: uint16(s.rows)},
		Binds:     slices.Clone(o.Binds),
		Ptrace:    o.Ptrace,
		// A developer's shell fetches modules (go get) and reaches the
		// internet; with isolation, not the host's loopback.
		Network: sandbox.NetworkOutbound,
	}
	if argv != nil {
		cmd.Path, cmd.Args = argv[0], slices.Clone(argv[1:])
		return m.opts.Runner.Start(m.ctx, cmd)
	}
	for _, sh := range []string{"bash", "sh"} {
		cmd.Path = sh
		p, err := m.opts.Runner.Start(m.ctx, cmd)
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

// Get returns owner's terminal id in workspace, or ErrNotFound (also for
// another owner's or workspace's terminal).
func (m *Manager) Get(owner, workspace, id string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || s.owner != owner || s.workspace != workspace || s.proc == nil {
		return nil, ErrNotFound
	}
	return s, nil
}

// List returns the terminals of owner's workspace, oldest first.
func (m *Manager) List(owner, workspace string) []Info {
	m.mu.Lock()
	var ss []*Session
	for _, s := range m.sessions {
		if s.owner == owner && s.workspace == workspace && s.proc != nil {
			ss = append(ss, s)
		}
	}
	m.mu.Unlock()
	out := make([]Info, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.Info())
	}
	slices.SortFunc(out, func(a, b Info) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Delete ends owner's terminal id in workspace: it kills every process
// the terminal started (background jobs and setsid'ed children included)
// and returns when they are gone. Attached clients receive the remaining
// output and the exit message. ErrNotFound for an unknown terminal; an
// error wrapping sandbox.ErrSurvivors if something could not be killed.
func (m *Manager) Delete(ctx context.Context, owner, workspace, id string) error {
	s, err := m.Get(owner, workspace, id)
	if err != nil {
		return err
	}
	return s.end(ctx)
}

// StopWorkspace ends every terminal of workspace, as Delete, and returns
// when their processes are gone or ctx ends. It is the workspace OnStop
// hook (suspend, delete, shutdown).
func (m *Manager) StopWorkspace(ctx context.Context, workspace string) error {
	m.mu.Lock()
	var ss []*Session
	for _, s := range m.sessions {
		if s.workspace == workspace && s.proc != nil {
			ss = append(ss, s)
		}
	}
	m.mu.Unlock()
	return endAll(ctx, ss)
}

func endAll(ctx context.Context, ss []*Session) error {
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for i, s := range ss {
		wg.Go(func() { errs[i] = s.end(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close makes later Creates fail with ErrClosed, ends every terminal and
// waits until their processes are gone and their readers have stopped, or
// until ctx ends. Idempotent.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	var ss []*Session
	for _, s := range m.sessions {
		if s.proc != nil {
			ss = append(ss, s)
		}
	}
	m.mu.Unlock()
	err := endAll(ctx, ss)
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("close terminals: %w", ctx.Err())
	}
	m.stop()
	return err
}

// Count reports running terminals (for tests and readiness).
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// remove forgets s; idempotent.
func (m *Manager) remove(s *Session) {
	m.mu.Lock()
	if m.sessions[s.id] == s {
		delete(m.sessions, s.id)
	}
	m.mu.Unlock()
}

// sessionGone reports whether s has left the manager (ended, or exited
// with its output delivered).
func (m *Manager) sessionGone(s *Session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[s.id] != s
}
