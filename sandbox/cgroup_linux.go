package sandbox

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cpuPeriod is the CFS period in microseconds for CPU limits.
const cpuPeriod = 100000

// cgroupRoot is where /proc/self/mountinfo's cgroup mounts are expected.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupHost is what the host's cgroups allow this runner, detected once by
// New in bwrap mode. Its directories are the runner's own: an instance
// directory below the server's own cgroup in each hierarchy used, one
// directory per workspace (which holds the limits) below it, and one per
// process below that (which is killed and removed with the process).
type cgroupHost struct {
	log    *slog.Logger
	limits Limits

	v2     string            // instance dir in the unified hierarchy; "" when unusable
	v2ctl  map[string]bool   // controllers usable in v2 workspace dirs
	v1     map[string]string // controller ("memory", "pids", "cpu") -> instance dir
	mu     sync.Mutex
	warned map[string]bool
}

// CgroupSupport describes what the host's cgroups allow an isolating
// Runner; see [Runner.Cgroups].
type CgroupSupport struct {
	// Kill is "v2" (cgroup.kill in the unified hierarchy), "v1" (a
	// kill loop over cgroup.procs) or "" (none: processes are found
	// through /proc only).
	Kill string
	// Memory, Pids and CPU name the hierarchy that enforces each limit
	// ("v2", "v1" or "").
	Memory, Pids, CPU string
}

// detectCgroups finds the cgroup hierarchies this process may create
// children in, creates the instance directories and returns what works.
func detectCgroups(instance string, limits Limits, log *slog.Logger) *cgroupHost {
	h := &cgroupHost{log: log, limits: limits, v1: make(map[string]string), v2ctl: make(map[string]bool), warned: make(map[string]bool)}
	mounts := cgroupMounts()
	own := ownCgroups()
	name := "ideserver-" + safeName(instance)
	if mp, ok := mounts["cgroup2"]; ok {
		parent := filepath.Join(mp, own[""])
		dir := filepath.Join(parent, name)
		if err := mkdirCg(dir); err == nil {
			// Enabling controllers below a cgroup with processes fails
			// (no internal processes) unless it is the root; try.
			avail := readWords(filepath.Join(parent, "cgroup.controllers"))
			for _, c := range []string{"memory", "pids", "cpu"} {
				if avail[c] {
					_ = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+"+c), 0)
				}
			}
			mine := readWords(filepath.Join(dir, "cgroup.controllers"))
			for _, c := range []string{"memory", "pids", "cpu"} {
				if mine[c] && os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
					h.v2ctl[c] = true
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err == nil {
				h.v2 = dir
			} else {
				_ = os.Remove(dir)
			}
		} else {
			log.Debug("sandbox: cgroup v2 not writable", "err", err)
		}
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		if h.v2ctl[c] {
			continue
		}
		mp, ok := mounts[c]
		if !ok {
			continue
		}
		dir := filepath.Join(mp, own[c], name)
		if err := mkdirCg(dir); err != nil {
			log.Debug("sandbox: cgroup v1 not writable", "controller", c, "err", err)
			continue
		}
		h.v1[c] = dir
	}
	s := h.support()
	if s.Kill == "" || s.Memory == "" || s.Pids == "" || s.CPU == "" {
		log.Warn("sandbox: cgroups cannot enforce everything on this host",
			"kill_by_cgroup", s.Kill != "", "memory_limit", s.Memory != "", "pids_limit", s.Pids != "", "cpu_limit", s.CPU != "")
	}
	return h
}

func (h *cgroupHost) support() CgroupSupport {
	var s CgroupSupport
	if h == nil {
		return s
	}
	for _, c := range []struct {
		name string
		to   *string
	}{{"memory", &s.Memory}, {"pids", &s.Pids}, {"cpu", &s.CPU}} {
		if h.v2ctl[c.name] && h.v2 != "" {
			*c.to = "v2"
		} else if h.v1[c.name] != "" {
			*c.to = "v1"
		}
	}
	switch {
	case h.v2 != "":
		s.Kill = "v2"
	case len(h.v1) > 0:
		s.Kill = "v1"
	}
	return s
}

// warnOnce logs msg once per runner.
func (h *cgroupHost) warnOnce(msg string, args ...any) {
	h.mu.Lock()
	seen := h.warned[msg]
	h.warned[msg] = true
	h.mu.Unlock()
	if !seen {
		h.log.Warn(msg, args...)
	}
}

// sweep kills the members of process cgroups that a runner with another
// nonce (an earlier run of the same Instance) left, and removes every empty
// directory below the instance directories. It returns how many it killed.
func (h *cgroupHost) sweep(nonce string) int {
	if h == nil {
		return 0
	}
	killed := 0
	var dirs []string
	if h.v2 != "" {
		dirs = append(dirs, h.v2)
	}
	for _, d := range h.v1 {
		dirs = append(dirs, d)
	}
	for _, inst := range dirs {
		wss, _ := os.ReadDir(inst)
		for _, ws := range wss {
			ps, _ := os.ReadDir(filepath.Join(inst, ws.Name()))
			for _, pd := range ps {
				if !pd.IsDir() || strings.HasPrefix(pd.Name(), "p-"+nonce+"-") {
					continue
				}
				d := filepath.Join(inst, ws.Name(), pd.Name())
				cg := &procCgroup{h: h, dirs: []string{d}}
				if inst == h.v2 {
					cg.v2 = d
				}
				killed += len(cg.pids())
				if err := cg.kill(killBound); err != nil {
					h.log.Warn("sandbox: sweep cgroup", "err", err)
				}
				_ = os.Remove(d)
			}
			_ = os.Remove(filepath.Join(inst, ws.Name()))
		}
	}
	return killed
}

// close removes the instance directories (only empty ones go).
func (h *cgroupHost) close() {
	if h == nil {
		return
	}
	for _, d := range h.v1 {
		removeTree(d)
	}
	if h.v2 != "" {
		removeTree(h.v2)
	}
}

// procCgroup is the cgroup of one Process, in every hierarchy used.
type procCgroup struct {
	h    *cgroupHost
	dirs []string // process dirs; the v2 one first when there is one
	v2   string   // the v2 process dir, or ""
	ws   []string // workspace dirs
}

// create makes the workspace directories (applying the limits) and the
// process directories for process id of workspace key.
func (h *cgroupHost) create(key, id string) (*procCgroup, error) {
	cg := &procCgroup{h: h}
	ws := "ws-" + safeName(key)
	add := func(inst string, limits map[string]string) error {
		wsDir := filepath.Join(inst, ws)
		d := filepath.Join(wsDir, "p-"+id)
		var err error
		for range 3 { // the last process of the workspace may remove wsDir meanwhile
			if err = mkdirCg(wsDir); err != nil {
				return err
			}
			for f, v := range limits {
				if err := os.WriteFile(filepath.Join(wsDir, f), []byte(v), 0); err != nil {
					h.warnOnce("sandbox: cannot set cgroup limit", "file", f, "err", err)
				}
			}
			if err = mkdirCg(d); !errors.Is(err, os.ErrNotExist) {
				break
			}
		}
		if err != nil {
			return err
		}
		cg.ws = append(cg.ws, wsDir)
		cg.dirs = append(cg.dirs, d)
		return nil
	}
	lim := func(v2 bool, c string) map[string]string {
		m := map[string]string{}
		switch {
		case c == "memory" && h.limits.Memory > 0 && v2:
			m["memory.max"] = strconv.FormatInt(h.limits.Memory, 10)
			m["memory.swap.max"] = "0"
		case c == "memory" && h.limits.Memory > 0:
			m["memory.limit_in_bytes"] = strconv.FormatInt(h.limits.Memory, 10)
		case c == "pids" && h.limits.Pids > 0:
			m["pids.max"] = strconv.FormatInt(h.limits.Pids, 10)
		case c == "cpu" && h.limits.CPU > 0 && v2:
			m["cpu.max"] = strconv.FormatInt(h.limits.CPU*cpuPeriod/1000, 10) + " " + strconv.Itoa(cpuPeriod)
		case c == "cpu" && h.limits.CPU > 0:
			m["cpu.cfs_period_us"] = strconv.Itoa(cpuPeriod)
			m["cpu.cfs_quota_us"] = strconv.FormatInt(h.limits.CPU*cpuPeriod/1000, 10)
		}
		return m
	}
	if h.v2 != "" {
		m := map[string]string{}
		for c := range h.v2ctl {
			for k, v := range lim(true, c) {
				m[k] = v
			}
		}
		if err := add(h.v2, m); err != nil {
			cg.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		cg.v2 = cg.dirs[0]
	}
	for c, inst := range h.v1 {
		if err := add(inst, lim(false, c)); err != nil {
			cg.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	return cg, nil
}

// add moves pid into every process directory.
func (cg *procCgroup) add(pid int) error {
	var errs []error
	for _, d := range cg.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("join cgroup: %w", err)
	}
	return nil
}

// pids returns the members of the process cgroup.
func (cg *procCgroup) pids() []int {
	seen := make(map[int]bool)
	var out []int
	for _, d := range cg.dirs {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for f := range strings.FieldsSeq(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// kill SIGKILLs every member (cgroup.kill in v2, a loop over cgroup.procs in
// v1) until none is left or bound passes.
func (cg *procCgroup) kill(bound time.Duration) error {
	if cg.v2 != "" {
		_ = os.WriteFile(filepath.Join(cg.v2, "cgroup.kill"), []byte("1"), 0)
	}
	deadline := time.Now().Add(bound)
	wait := minPoll
	for {
		pids := cg.pids()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d left in cgroup", ErrSurvivors, len(pids))
		}
		for _, pid := range pids {
			if pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(wait)
		wait = min(2*wait, maxPoll)
	}
}

// remove deletes the process directories and, when empty, the workspace
// directories.
func (cg *procCgroup) remove() {
	for _, d := range cg.dirs {
		_ = os.Remove(d)
	}
	for _, d := range cg.ws {
		_ = os.Remove(d) // EBUSY while another process of the workspace runs
	}
}

// cgGroup is a procGroup whose members are also held in a cgroup: after the
// graceful procGroup pass, whatever is left in the cgroup is killed.
type cgGroup struct {
	*procGroup
	cg *procCgroup
}

var _ group = (*cgGroup)(nil)

func (g *cgGroup) terminate(grace time.Duration, final bool) error {
	err := g.procGroup.terminate(grace, final)
	if kerr := g.cg.kill(killBound); kerr != nil {
		err = errors.Join(err, kerr)
	}
	if final {
		g.cg.remove()
	}
	return err
}

// cgroupMounts maps "cgroup2" and each v1 controller to its mount point,
// from /proc/self/mountinfo.
func cgroupMounts() map[string]string {
	m := make(map[string]string)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fs, pf := strings.Fields(post), strings.Fields(pre)
		if len(fs) < 3 || len(pf) < 5 || !strings.HasPrefix(pf[4], cgroupRoot) {
			continue
		}
		switch fs[0] {
		case "cgroup2":
			m["cgroup2"] = pf[4]
		case "cgroup":
			for o := range strings.SplitSeq(fs[2], ",") {
				if o == "memory" || o == "pids" || o == "cpu" {
					m[o] = pf[4]
				}
			}
		}
	}
	return m
}

// ownCgroups maps "" (v2) and each v1 controller to this process's cgroup
// path, from /proc/self/cgroup.
func ownCgroups() map[string]string {
	m := make(map[string]string)
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return m
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			m[""] = f[2]
			continue
		}
		for c := range strings.SplitSeq(f[1], ",") {
			m[c] = f[2]
		}
	}
	return m
}

func readWords(path string) map[string]bool {
	b, _ := os.ReadFile(path)
	m := make(map[string]bool)
	for w := range strings.FieldsSeq(string(b)) {
		m[w] = true
	}
	return m
}

func mkdirCg(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// removeTree removes dir's empty cgroup subdirectories, then dir.
func removeTree(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			removeTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.Remove(dir)
}

// safeName returns s when it is a short [A-Za-z0-9._-] name, else a hash.
func safeName(s string) string {
	ok := s != "" && len(s) <= 64 && s != "." && s != ".."
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:12])
}
