package e2e_test

// Helpers of the attack suite (attack_test.go): a shell driven over the
// terminal WebSocket, the host's process table and cgroups seen from the
// test, and the result table.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
)

// shell is an interactive shell in a terminal, driven over its attach
// WebSocket: run types a command and waits for a marker printed after it.
type shell struct {
	name string
	id   string // terminal id
	conn *websocket.Conn
	mu   sync.Mutex
	out  []byte        // every byte received
	wake chan struct{} // signalled after each frame
	done chan struct{} // closed when reading ends
	seq  int
}

// openShell creates a terminal in ws as token's user, attaches to it and
// waits until the shell answers.
func openShell(t *testing.T, s *instance, token, ws, name string) *shell {
	t.Helper()
	var term terminalJSON
	base := "/api/v1/workspaces/" + ws + "/terminals"
	// Wide, so bash's line editor never wraps a typed command.
	s.call(t, request{Method: "POST", Path: base, Token: token, Body: map[string]any{"cols": 1000, "rows": 50}}, http.StatusCreated, &term)
	conn, _, err := s.dialWS(base+"/"+term.ID+"/attach", bearer(token))
	if err != nil {
		t.Fatalf("attach %s: %v", name, err)
	}
	sh := &shell{name: name, id: term.ID, conn: conn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(sh.done)
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage {
				continue
			}
			sh.mu.Lock()
			sh.out = append(sh.out, data...)
			sh.mu.Unlock()
			select {
			case sh.wake <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	sh.run(t, "cd /workspace 2>/dev/null; stty -echoctl 2>/dev/null", 60*time.Second)
	return sh
}

// send types raw input without waiting for anything.
func (sh *shell) send(t *testing.T, input string) {
	t.Helper()
	if err := sh.conn.WriteMessage(websocket.BinaryMessage, []byte(input)); err != nil {
		t.Fatalf("%s: type %q: %v", sh.name, input, err)
	}
}

// run types cmd, then a command printing a unique marker with cmd's exit
// status, and waits (at most timeout) for the marker. It returns what the
// terminal showed in between (the echoed command included) and the status.
func (sh *shell) run(t *testing.T, cmd string, timeout time.Duration) (string, int) {
	t.Helper()
	out, code, err := sh.try(cmd, timeout)
	if err != nil {
		t.Fatalf("%s: %q: %v; output %q", sh.name, cmd, err, tail(out, 2000))
	}
	return out, code
}

// try is run without failing the test.
func (sh *shell) try(cmd string, timeout time.Duration) (string, int, error) {
	sh.seq++
	id := sh.name + strconv.Itoa(sh.seq)
	sh.mu.Lock()
	start := len(sh.out)
	sh.mu.Unlock()
	// The echoed command shows the format, never the marker itself.
	if err := sh.conn.WriteMessage(websocket.BinaryMessage, []byte(cmd+"\nprintf '@@%s:%d@@\\n' "+id+" $?\n")); err != nil {
		return "", -1, fmt.Errorf("type: %w", err)
	}
	re := regexp.MustCompile(`@@` + regexp.QuoteMeta(id) + `:(\d+)@@`)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		sh.mu.Lock()
		seg := string(sh.out[start:])
		sh.mu.Unlock()
		if m := re.FindStringSubmatchIndex(seg); m != nil {
			code, _ := strconv.Atoi(seg[m[2]:m[3]])
			return seg[:m[0]], code, nil
		}
		select {
		case <-sh.wake:
		case <-sh.done:
			return seg, -1, errors.New("terminal closed")
		case <-timer.C:
			return seg, -1, fmt.Errorf("no marker within %v", timeout)
		}
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// field returns the first submatch of re in s, or "".
func field(re, s string) string {
	if m := regexp.MustCompile(re).FindStringSubmatch(s); len(m) > 1 {
		return m[1]
	}
	return ""
}

// hostProc is one process of the host's process table.
type hostProc struct {
	Pid, PPid, UID int
	Comm, State    string
	Start          uint64 // start time in clock ticks since boot
	Argv           []string
}

// readProc reads /proc/<pid>; ok is false when it is gone.
func readProc(pid int) (hostProc, bool) {
	p := hostProc{Pid: pid}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, false
	}
	sc := bufio.NewScanner(strings.NewReader(string(status)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "Name":
			p.Comm = f[0]
		case "State":
			p.State = f[0]
		case "PPid":
			p.PPid, _ = strconv.Atoi(f[0])
		case "Uid":
			p.UID, _ = strconv.Atoi(f[0])
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
		// Fields after the command: state is the 3rd field of stat,
		// starttime the 22nd.
		if f := strings.Fields(string(stat[i+1:])); len(f) > 19 {
			p.Start, _ = strconv.ParseUint(f[19], 10, 64)
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		p.Argv = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	return p, true
}

// hostProcs lists the live (not zombie) processes of uid.
func hostProcs(uid int) []hostProc {
	ents, _ := os.ReadDir("/proc")
	var out []hostProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.UID == uid && p.State != "Z" && p.State != "X" {
			out = append(out, p)
		}
	}
	return out
}

// findProcs returns uid's live processes whose name is comm and whose argv
// holds every word of args.
func findProcs(uid int, comm string, args ...string) []hostProc {
	var out []hostProc
	for _, p := range hostProcs(uid) {
		// Published tools are named <tool>-<hash>.
		if p.Comm != comm && !strings.HasPrefix(p.Comm, comm+"-") {
			continue
		}
		all := true
		for _, a := range args {
			all = all && strings.Contains(strings.Join(p.Argv, " "), a)
		}
		if all {
			out = append(out, p)
		}
	}
	return out
}

// waitProc polls until uid has a process as findProcs says.
func waitProc(t *testing.T, uid int, comm string, args ...string) hostProc {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ps := findProcs(uid, comm, args...); len(ps) > 0 {
			return ps[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process %s %v of uid %d on the host", comm, args, uid)
		}
		time.Sleep(50 * time.Millisecond) // polling the host, not an assertion
	}
}

// alive reports whether p still runs (same pid and start time, not a
// zombie).
func (p hostProc) alive() bool {
	q, ok := readProc(p.Pid)
	return ok && q.Start == p.Start && q.State != "Z" && q.State != "X"
}

// describe lists processes briefly for messages.
func describe(ps []hostProc) string {
	var b strings.Builder
	for _, p := range ps {
		argv := p.Argv
		if i := slices.Index(argv, "--"); i >= 0 && p.Comm == "bwrap" {
			argv = append([]string{"bwrap … --"}, argv[i+1:]...) // the command, not the mounts
		}
		fmt.Fprintf(&b, "[%d %s %q] ", p.Pid, p.Comm, strings.Join(argv, " "))
	}
	return b.String()
}

// waitNoProcs polls until uid has no live process, at most within; it
// returns how long that took, failing the test with the survivors.
func waitNoProcs(t *testing.T, uid int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ps := hostProcs(uid)
		if len(ps) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Errorf("processes of uid %d still alive after %v: %s", uid, within, describe(ps))
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond) // polling the host, not an assertion
	}
}

// cgroupDir returns the process cgroup of pid for controller ("pids",
// "memory", "cpu"): the unified hierarchy's when the controller is enabled
// there, else the v1 controller's. Its parent is the workspace cgroup,
// which holds the limits. ok is false when neither exists.
func cgroupDir(pid int, controller string) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", false
	}
	mounts := cgroupMountPoints()
	var v1 string
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" && mounts["cgroup2"] != "" {
			d := filepath.Join(mounts["cgroup2"], f[2])
			ctl, _ := os.ReadFile(filepath.Join(d, "cgroup.controllers"))
			if slices.Contains(strings.Fields(string(ctl)), controller) {
				return d, true
			}
			continue
		}
		for c := range strings.SplitSeq(f[1], ",") {
			if c == controller && mounts[c] != "" {
				v1 = filepath.Join(mounts[c], f[2])
			}
		}
	}
	if _, err := os.Stat(v1); v1 == "" || err != nil {
		return "", false
	}
	return v1, true
}

// cgroupV2Dir returns the process cgroup of pid in the unified hierarchy
// (where cpu.stat's usage_usec is kept with or without controllers).
func cgroupV2Dir(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	mount := cgroupMountPoints()["cgroup2"]
	if err != nil || mount == "" {
		return "", false
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok && path != "/" {
			return filepath.Join(mount, path), true
		}
	}
	return "", false
}

// cgroupMountPoints maps "cgroup2" and v1 controllers to mount points.
func cgroupMountPoints() map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return m
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		fs, pf := strings.Fields(post), strings.Fields(pre)
		if !ok || len(fs) < 3 || len(pf) < 5 {
			continue
		}
		switch fs[0] {
		case "cgroup2":
			m["cgroup2"] = pf[4]
		case "cgroup":
			for o := range strings.SplitSeq(fs[2], ",") {
				m[o] = pf[4]
			}
		}
	}
	return m
}

// cgroupValue reads key's number from a flat-keyed cgroup file ("oom_kill
// 3"), or the file's only number when key is "".
func cgroupValue(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		switch {
		case key == "" && len(f) == 1:
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n, err == nil
		case len(f) == 2 && f[0] == key:
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// listeningInodes returns the inodes of listening TCP and unix sockets in
// the network namespaces of pids.
func listeningInodes(pids []int) map[string]string {
	out := map[string]string{}
	for _, pid := range pids {
		for _, f := range []string{"tcp", "tcp6"} {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
			for _, line := range strings.Split(string(b), "\n")[1:] {
				// sl local rem st ... inode (10th field)
				if fs := strings.Fields(line); len(fs) > 9 && fs[3] == "0A" {
					out[fs[9]] = f + " " + fs[1]
				}
			}
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/unix", pid))
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// Num RefCount Protocol Flags Type St Inode [Path]; flag
			// __SO_ACCEPTCON (0x10000) marks a listener.
			fs := strings.Fields(line)
			if len(fs) < 7 {
				continue
			}
			flags, _ := strconv.ParseUint(fs[3], 16, 32)
			if flags&0x10000 != 0 {
				out[fs[6]] = "unix " + strings.Join(fs[7:], " ")
			}
		}
	}
	return out
}

// listenersOf returns the listening sockets open in uid's processes.
func listenersOf(uid int) []string {
	ps := hostProcs(uid)
	pids := make([]int, len(ps))
	for i, p := range ps {
		pids[i] = p.Pid
	}
	listening := listeningInodes(pids)
	var found []string
	for _, p := range ps {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid))
		for _, fd := range fds {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.Pid, fd.Name()))
			if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
				if what, ok := listening[strings.TrimSuffix(ino, "]")]; ok {
					found = append(found, fmt.Sprintf("%s (pid %d %s)", what, p.Pid, p.Comm))
				}
			}
		}
	}
	return found
}

// fileOwner returns the uid owning path.
func fileOwner(t *testing.T, path string) int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}

// resultTable collects the attack suite's outcomes for the closing note.
type resultTable struct {
	mu   sync.Mutex
	rows []*resultRow
}

// resultRow is one attack: what was expected and what was observed.
type resultRow struct {
	Attack, Expected string
	mu               sync.Mutex
	observed         []string
	failed           bool
}

// row adds a row for the running (sub)test; when it fails the row says so.
func (rt *resultTable) row(t *testing.T, attack, expected string) *resultRow {
	r := &resultRow{Attack: attack, Expected: expected}
	rt.mu.Lock()
	rt.rows = append(rt.rows, r)
	rt.mu.Unlock()
	t.Cleanup(func() {
		r.mu.Lock()
		r.failed = t.Failed() || t.Skipped()
		r.mu.Unlock()
	})
	return r
}

// see records an observation.
func (r *resultRow) see(format string, args ...any) {
	r.mu.Lock()
	r.observed = append(r.observed, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// String renders the table.
func (rt *resultTable) String() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "attack\texpected\tobserved\tresult")
	for _, r := range rt.rows {
		r.mu.Lock()
		res := "ok"
		if r.failed {
			res = "FAILED/SKIPPED"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Attack, r.Expected, strings.Join(r.observed, "; "), res)
		r.mu.Unlock()
	}
	_ = w.Flush()
	return b.String()
}

// requireCgroupLimit skips the calling subtest when the server said at
// start (its "isolation" log line) that this host's cgroups cannot enforce
// controller ("memory", "pids" or "cpu"): the issue asks for limits where
// the host allows them, and a fork bomb without a pids limit would take the
// test machine down. Where the server enforces it, the test runs in full.
func requireCgroupLimit(t *testing.T, s *instance, controller string) {
	t.Helper()
	for line := range strings.SplitSeq(s.Stderr(), "\n") {
		var rec struct {
			Msg     string            `json:"msg"`
			Cgroups map[string]string `json:"cgroups"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "isolation" {
			continue
		}
		if rec.Cgroups[controller] == "" {
			t.Skipf("this host's cgroups cannot enforce %s limits (the server's isolation log line says so)", controller)
		}
		return
	}
	t.Fatal("no isolation line in the server's log")
}
