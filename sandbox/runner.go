package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
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

	// Isolation is how processes are confined: "" or [IsolationNone]
	// (the default) starts them directly; [IsolationBwrap] inside
	// bubblewrap (New fails with ErrNoBwrap when it is not installed).
	// The fields below apply to IsolationBwrap only.
	Isolation Isolation

	// BwrapPath is the bubblewrap executable; "" means the first of
	// /usr/bin/bwrap, /usr/local/bin/bwrap and /bin/bwrap.
	BwrapPath string

	// ReadOnlyPaths are host directories every isolated process sees
	// read-only at the same path, besides the system directories: GOROOT,
	// the directory of gopls and dlv. Absolute and clean; nil means none.
	// Like [Bind] sources they are opened without following symbolic
	// links (a path through one fails every start) and must not lie
	// inside a read-write bind.
	ReadOnlyPaths []string

	// OwnerUID maps a [Cmd.Owner] (an opaque isolation-principal key) to
	// the host uid (and gid) bubblewrap runs as, and the uid inside. It
	// must be stable and distinct per owner (cmd/ideserver allocates them
	// in the store); nil means the server's own uid for everyone.
	OwnerUID func(owner string) (int, error)

	// Limits are the rlimits of every isolated process and the cgroup
	// limits of every workspace; the zero value means their defaults.
	Limits Limits

	// Networks overrides [Cmd.Network] for the processes of a [Cmd.Kind]
	// ("terminal", "gopls", "dlv"), so a deployment chooses what each kind
	// may reach. nil or a missing kind: Cmd.Network.
	Networks map[string]Network

	// NetworkAllow are address ranges a [NetworkOutbound] process may
	// reach although they are denied by default: link-local (cloud
	// metadata at 169.254.169.254), private (10/8, 172.16/12, 192.168/16,
	// 100.64/10 and other special ranges) and the host's own addresses.
	// Typically a module proxy or Git host on a private address. IPv4
	// only (sandboxes have no IPv6 network), outside 10.0.2.0/24 (the
	// sandbox's own network). nil means none.
	NetworkAllow []netip.Prefix
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

	// Isolation (bwrap mode only; immutable after New).
	iso           Isolation
	bwrap         string
	prlimit       string // "" when rlimits cannot be set
	slirp         string // slirp4netns; "" when NetworkOutbound has no network (fails closed)
	roPaths       []string
	ownerUID      func(string) (int, error)
	networks      map[string]Network
	egress        *egressPolicy // filter of NetworkOutbound sandboxes; nil for none
	limits        Limits
	cg            *cgroupHost // nil without usable cgroups
	seccomp       []byte      // nil when the architecture has no filter
	seccompPtrace []byte

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
	iso := opts.Isolation
	if iso == "" {
		iso = IsolationNone
	}
	if iso != IsolationNone && iso != IsolationBwrap {
		return nil, fmt.Errorf("new sandbox runner: unknown isolation %q", string(iso))
	}
	for _, p := range opts.ReadOnlyPaths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return nil, errors.New("new sandbox runner: read-only paths must be clean and absolute")
		}
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("new sandbox runner: %w", err)
	}
	r := &Runner{
		log:      log,
		instance: opts.Instance,
		grace:    grace,
		nonce:    hex.EncodeToString(b[:]),
		procs:    make(map[*Process]struct{}),
		iso:      iso,
	}
	if iso == IsolationBwrap {
		var err error
		if r.bwrap, err = findBwrap(opts.BwrapPath); err != nil {
			return nil, fmt.Errorf("new sandbox runner: %w", err)
		}
		closeOnExec()
		if r.prlimit = findExec(prlimitPaths); r.prlimit == "" {
			log.Warn("sandbox: prlimit not found; rlimits are not enforced")
		}
		if r.slirp = findExec(slirpPaths); r.slirp == "" {
			log.Warn("sandbox: slirp4netns not found; processes allowed outbound network get none (install slirp4netns, or set isolation.network.KIND to host)")
		}
		r.roPaths = append([]string(nil), opts.ReadOnlyPaths...)
		r.ownerUID = opts.OwnerUID
		r.networks = maps.Clone(opts.Networks)
		if r.egress, err = newEgress(opts, r.slirp, log); err != nil {
			return nil, fmt.Errorf("new sandbox runner: %w", err)
		}
		r.limits = opts.Limits.withDefaults()
		if r.seccomp, err = seccompProgram(false); err != nil {
			return nil, fmt.Errorf("new sandbox runner: %w", err)
		}
		if r.seccompPtrace, err = seccompProgram(true); err != nil {
			return nil, fmt.Errorf("new sandbox runner: %w", err)
		}
		r.cg = detectCgroups(opts.Instance, r.limits, log)
		if opts.OwnerUID == nil {
			log.Warn("sandbox: no per-owner uids; isolated processes run as the server's uid")
		}
	}
	return r, nil
}

// Isolation returns the mode in force.
func (r *Runner) Isolation() Isolation { return r.iso }

// OwnerUID returns the host uid owner's processes run as. ok is false
// when they run as the server's own uid (with [IsolationNone], or without
// [Options.OwnerUID]); uid is then the server's.
func (r *Runner) OwnerUID(owner string) (uid int, ok bool, err error) {
	if r.iso != IsolationBwrap || r.ownerUID == nil {
		return os.Getuid(), false, nil
	}
	u, err := r.ownerUID(owner)
	if err != nil {
		return 0, false, fmt.Errorf("owner identity: %w", err)
	}
	return u, true, nil
}

// Cgroups reports what the host's cgroups let this runner enforce; all
// empty with IsolationNone.
func (r *Runner) Cgroups() CgroupSupport { return r.cg.support() }

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
	r.cg.close()
	return errors.Join(errs...)
}
