package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Sweep kills processes left by an earlier run with the same Instance: every
// process whose initial environment holds a marker IDESERVER_SANDBOX=<Instance>/...,
// and the process groups they lead. Processes this Runner started, other
// Instances' processes and the server itself are never touched; /proc entries
// that cannot be read are skipped. It blocks until the killed processes are
// gone (zombies count as gone) and returns how many it killed. Call it once at
// server start, before Start. An isolating runner also kills the members of
// the earlier run's cgroups and removes them.
func (r *Runner) Sweep() (int, error) {
	cgKilled := r.cg.sweep(r.nonce)
	self, selfPgrp := os.Getpid(), syscall.Getpgrp()
	killed := make(map[int]uint64) // pid -> start time
	until := time.Now().Add(killBound)
	wait := minPoll
	for {
		stats, err := readStats()
		if err != nil {
			return len(killed), fmt.Errorf("sweep: %w", err)
		}
		var left []int
		for _, s := range stats {
			if s.pid <= 1 || s.pid == self || s.gone() {
				continue
			}
			if start, ok := killed[s.pid]; !(ok && start == s.start) && !r.leftover(s.pid) {
				continue
			}
			killed[s.pid] = s.start
			left = append(left, s.pid)
			if err := syscall.Kill(s.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				r.log.Warn("sandbox: sweep", "pid", s.pid, "err", err)
			}
			if s.pgrp == s.pid && s.pgrp != selfPgrp {
				_ = syscall.Kill(-s.pgrp, syscall.SIGKILL)
			}
		}
		if len(left) == 0 {
			if n := len(killed) + cgKilled; n > 0 {
				r.log.Info("sandbox: swept leftovers of an earlier run", "count", n)
			}
			return len(killed) + cgKilled, nil
		}
		if time.Now().After(until) {
			r.log.Warn("sandbox: sweep left survivors", "survivors", left)
			return len(killed), fmt.Errorf("sweep: %w: %d left", ErrSurvivors, len(left))
		}
		time.Sleep(wait)
		wait = min(2*wait, maxPoll)
	}
}

// leftover reports whether pid carries a marker of r's Instance that r did
// not hand out itself.
func (r *Runner) leftover(pid int) bool {
	return envEntries(readEnviron(pid), func(e []byte) bool {
		id, ok := markerOf(string(e), r.instance)
		return ok && !strings.HasPrefix(id, r.nonce+"-")
	})
}
