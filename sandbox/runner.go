package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Runner.
type Options struct {
	Logger *slog.Logger // nil: discard

	// Instance marks every process this runner starts (an environment
	// variable IDESERVER_SANDBOX=<Instance>/<process id>), so Sweep can
	// find leftovers of a previous run of the same server (same data
	// directory) and no other. Required (error from New when empty).
	// Callers derive it from the data directory; tenant processes can read
	// it, so it should be a hash of the path, not the path.
	Instance string

	// KillGrace is how long Close waits after SIGTERM before SIGKILL; 0
	// means 2s.
	KillGrace time.Duration
}

// DefaultKillGrace is the KillGrace used when Options.KillGrace is 0.
const DefaultKillGrace = 2 * time.Second

// Runner starts processes and ends them. Its methods are safe for concurrent
// use. Close it when the server stops.
type Runner struct {
	log      *slog.Logger
	instance string
	grace    time.Duration
	nonce    string // distinguishes this runner's process ids from other runners of the same Instance

	mu     sync.Mutex
	closed bool
	seq    uint64
	procs  map[*Process]struct{} // started (or starting) and not yet released
	live   int                   // processes whose lifecycle has not finished
	wg     sync.WaitGroup        // lifecycle goroutines
}

// New returns a Runner. It starts nothing and holds no resources until Start.
func New(opts Options) (*Runner, error) {
	switch {
	case opts.Instance == "":
		return nil, errors.New("new sandbox runner: instance is required")
	case strings.ContainsAny(opts.Instance, "\x00\n"):
		return nil, errors.New("new sandbox runner: instance contains NUL or newline")
	case opts.KillGrace < 0:
		return nil, errors.New("new sandbox runner: negative kill grace")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	grace := opts.KillGrace
	if grace == 0 {
		grace = DefaultKillGrace
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("new sandbox runner: %w", err)
	}
	return &Runner{
		log:      log,
		instance: opts.Instance,
		grace:    grace,
		nonce:    hex.EncodeToString(b[:]),
		procs:    make(map[*Process]struct{}),
	}, nil
}

// register reserves a process id for p, or fails after Close.
func (r *Runner) register(p *Process) (id string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", ErrClosed
	}
	r.seq++
	r.procs[p] = struct{}{}
	r.live++
	r.wg.Add(1)
	return r.nonce + "-" + strconv.FormatUint(r.seq, 10), nil
}

// finished is called when p has ended, before its Done is closed; a process
// without a PTY has nothing left to release and is forgotten. The caller
// then calls r.wg.Done.
func (r *Runner) finished(p *Process, release bool) {
	r.mu.Lock()
	r.live--
	if release {
		delete(r.procs, p)
	}
	r.mu.Unlock()
}

// forget drops p after its Close.
func (r *Runner) forget(p *Process) {
	r.mu.Lock()
	delete(r.procs, p)
	r.mu.Unlock()
}

// Count reports the number of live processes: started, and not yet ended
// with everything they left. It does not block.
func (r *Runner) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// Close makes later Starts fail with ErrClosed, closes every process (as
// Process.Close, concurrently, PTYs included) and waits until they are gone.
// It returns the processes' Close errors joined. Idempotent; safe
// concurrently with any method.
func (r *Runner) Close() error {
	r.mu.Lock()
	r.closed = true
	procs := make([]*Process, 0, len(r.procs))
	for p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()

	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.Close() })
	}
	wg.Wait()
	r.wg.Wait()
	return errors.Join(errs...)
}
