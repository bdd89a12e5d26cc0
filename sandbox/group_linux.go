package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// group is everything one Process started, and how to end it. procGroup
// finds members through /proc; a cgroup implementation replaces it with
// cgroup.procs and cgroup.kill without changing Process.
type group interface {
	// signal sends sig to the main process's process group. It returns
	// os.ErrProcessDone once the main process has been reaped.
	signal(sig syscall.Signal) error
	// terminate ends every member: SIGTERM (and SIGCONT; SIGHUP first for
	// a PTY session), then SIGKILL
	// after grace, rescanning until none is left; it returns ErrSurvivors
	// when some are still alive about five seconds after SIGKILL. It
	// blocks; calls are serialised. With final set, the group is released
	// afterwards: the caller is about to reap the main process, and later
	// calls do nothing. Zombies count as gone.
	terminate(grace time.Duration, final bool) error
}

var _ group = (*procGroup)(nil)

const (
	// killBound is how long SIGKILL is retried before giving up.
	killBound = 5 * time.Second
	// Polling intervals while waiting for processes to vanish.
	minPoll = 2 * time.Millisecond
	maxPoll = 50 * time.Millisecond
)

// procGroup finds the members of one Process in /proc: its process group,
// its session (PTY), its exact environment marker, and the descendants of
// every member seen so far (pid and start time remembered across scans, since
// orphans reparent to init when their parent dies).
type procGroup struct {
	pid     int    // main process; also its pgid and, with session, its sid
	session bool   // the main process leads a session (PTY)
	marker  string // the exact environment entry
	self    int    // the server's pid, never a member
	start   uint64 // the main process's start time; marked processes are younger
	log     *slog.Logger

	mu     sync.Mutex     // serialises terminate
	known  map[int]uint64 // member pid -> start time, seen in any scan
	failed bool           // an earlier terminate gave up
	sigMu  sync.Mutex     // guards released against the reap
	rel    bool           // the main process is (about to be) reaped
}

func newProcGroup(pid int, session bool, marker string, log *slog.Logger) *procGroup {
	g := &procGroup{
		pid: pid, session: session, marker: marker, self: os.Getpid(), log: log,
		known: make(map[int]uint64),
	}
	if s, err := readStat(pid); err == nil { // not reaped yet, so it is ours
		g.start = s.start
		g.known[pid] = s.start
	}
	return g
}

func (g *procGroup) released() bool {
	g.sigMu.Lock()
	defer g.sigMu.Unlock()
	return g.rel
}

func (g *procGroup) signal(sig syscall.Signal) error {
	g.sigMu.Lock()
	defer g.sigMu.Unlock()
	if g.rel {
		return os.ErrProcessDone
	}
	if err := syscall.Kill(-g.pid, sig); err != nil {
		return fmt.Errorf("signal process group: %w", err)
	}
	return nil
}

func (g *procGroup) terminate(grace time.Duration, final bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.released() {
		return nil
	}
	var err error
	if g.failed {
		err = g.kill(0, 100*time.Millisecond) // already waited once; do not wait the full bound again
	} else {
		err = g.kill(grace, killBound)
	}
	if err != nil {
		g.failed = true
	}
	if final {
		g.sigMu.Lock()
		g.rel = true
		g.sigMu.Unlock()
	}
	return err
}

// kill signals and rescans until no member is left. Called with g.mu held.
func (g *procGroup) kill(grace, bound time.Duration) error {
	termUntil := time.Now().Add(grace)
	killUntil := termUntil.Add(bound)
	termed := make(map[int]bool)
	killing := false
	wait := minPoll
	empty := 0 // consecutive scans that found no member
	for {
		members, err := g.scan()
		if err != nil {
			return err
		}
		if len(members) == 0 {
			// One more look: a process in execve can read as unmarked,
			// and a child forked while /proc was listed is not in it.
			if empty++; empty >= 2 {
				return nil
			}
			time.Sleep(minPoll)
			continue
		}
		empty = 0
		now := time.Now()
		switch {
		case now.Before(termUntil):
			for _, pid := range members {
				if !termed[pid] {
					termed[pid] = true
					if g.session {
						g.send(pid, syscall.SIGHUP) // what a hangup sends; interactive shells ignore SIGTERM
					}
					g.send(pid, syscall.SIGTERM)
					g.send(pid, syscall.SIGCONT) // a stopped job acts on SIGTERM only when continued
				}
			}
		case now.Before(killUntil):
			if !killing {
				killing, wait = true, minPoll
				if grace > 0 {
					g.log.Warn("sandbox: processes ignored SIGTERM; sending SIGKILL", "count", len(members))
				}
			}
			for _, pid := range members {
				g.send(pid, syscall.SIGKILL)
			}
		default:
			g.log.Warn("sandbox: processes survived SIGKILL", "survivors", members)
			return fmt.Errorf("%w: %d left", ErrSurvivors, len(members))
		}
		time.Sleep(wait)
		wait = min(2*wait, maxPoll)
	}
}

func (g *procGroup) send(pid int, sig syscall.Signal) {
	if pid <= 1 || pid == g.self {
		return
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		g.log.Warn("sandbox: signal", "pid", pid, "signal", sig.String(), "err", err)
	}
}

// scan returns the pids of members that are still running, and remembers
// every member it saw. Called with g.mu held.
func (g *procGroup) scan() ([]int, error) {
	stats, err := readStats()
	if err != nil {
		return nil, err
	}
	member := make(map[int]bool)
	children := make(map[int][]int)
	var queue []int
	for _, s := range stats {
		if s.pid <= 1 || s.pid == g.self {
			continue
		}
		children[s.ppid] = append(children[s.ppid], s.pid)
		if g.isMember(s) {
			member[s.pid] = true
			queue = append(queue, s.pid)
		}
	}
	for len(queue) > 0 { // descendants of members
		p := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range children[p] {
			if !member[c] {
				member[c] = true
				queue = append(queue, c)
			}
		}
	}
	var live []int
	for _, s := range stats {
		if !member[s.pid] {
			continue
		}
		g.known[s.pid] = s.start
		if !s.gone() {
			live = append(live, s.pid)
		}
	}
	return live, nil
}

func (g *procGroup) isMember(s procStat) bool {
	if s.pgrp == g.pid || (g.session && s.sid == g.pid) {
		return true
	}
	if start, ok := g.known[s.pid]; ok && start == s.start {
		return true
	}
	if s.gone() || s.start < g.start {
		return false // a process older than the main process cannot have inherited its marker
	}
	// Not remembered when absent: while a process is in execve its new
	// environment is filled in entry by entry, so a read may miss the
	// marker (shells reorder the environment, so it need not be first).
	return hasEntry(readEnviron(s.pid), g.marker)
}
