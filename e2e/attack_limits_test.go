package e2e_test

// Attacks on the limits (TTY-01, TTY-02, TTY-03, TTY-06, AV-03, AV-04); see
// attack_test.go.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const tiocstiScript = `import errno, fcntl, sys, termios
def attempt(name, req, args):
    try:
        for a in args:
            fcntl.ioctl(0, req, a)
        print("%s=OK" % name)
    except OSError as e:
        print("%s=%s" % (name, errno.errorcode.get(e.errno, str(e.errno))))
attempt("TIOCSTI", termios.TIOCSTI, [bytes([c]) for c in sys.argv[1].encode() + b"\n"])
attempt("TIOCLINUX", 0x541C, [bytes([6, 0])])
`

// tiocsti (TTY-06): keystroke injection into the terminal is refused with
// EPERM and nothing typed by it runs.
func (e *attackEnv) tiocsti(t *testing.T) {
	r := e.table.row(t, "TTY-06 TIOCSTI/TIOCLINUX into the controlling tty", "EPERM; nothing injected")
	if !e.hasPython(t) {
		t.Skip("no python3 inside the sandbox")
	}
	mark := "injected-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	e.s.putFile(t, e.a.Token, e.wsA, "tiocsti.py", tiocstiScript)
	out, _ := e.aRun(t, "python3 /workspace/tiocsti.py 'touch /workspace/"+mark+"'")
	sti, linux := field(`TIOCSTI=(\w+)`, out), field(`TIOCLINUX=(\w+)`, out)
	if sti != "EPERM" {
		t.Errorf("TIOCSTI: %q, want EPERM; output %q", sti, out)
	}
	if linux == "OK" {
		t.Errorf("TIOCLINUX succeeded")
	}
	r.see("TIOCSTI %s, TIOCLINUX %s", sti, linux)
	// Whatever was injected would run before this command.
	e.aRun(t, "true")
	if _, err := os.Lstat(filepath.Join(e.wsDir(e.wsA), mark)); err == nil {
		t.Errorf("injected command ran: %s exists", mark)
	}
	r.see("no injected file on the host")
}

// fileSize (TTY-03): writing past isolation.limits.file_size fails, in the
// workspace and in /tmp, and the host file stays within the limit.
func (e *attackEnv) fileSize(t *testing.T) {
	r := e.table.row(t, "TTY-03 write 100 MiB (head, dd) with file_size 64 MiB", "File size limit exceeded / File too large; host file ≤ 64 MiB")
	for _, c := range []struct{ cmd, host string }{
		{"head -c 100M /dev/zero > /workspace/big1.bin", filepath.Join(e.wsDir(e.wsA), "big1.bin")},
		{"dd if=/dev/zero of=/workspace/big2.bin bs=1M count=100", filepath.Join(e.wsDir(e.wsA), "big2.bin")},
		{"head -c 100M /dev/zero > /tmp/big3.bin", ""},
	} {
		out, code := e.aRun(t, c.cmd)
		if code == 0 || !(strings.Contains(out, "File size limit exceeded") || strings.Contains(out, "File too large")) {
			t.Errorf("%s: exit %d, output %q: want the file-size limit", c.cmd, code, out)
		}
		obs := fmt.Sprintf("%s: exit %d", strings.Fields(c.cmd)[0], code)
		if c.host != "" {
			fi, err := os.Stat(c.host)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > attackFileSize {
				t.Errorf("%s is %d bytes on the host, above the limit %d", c.host, fi.Size(), attackFileSize)
			}
			obs += fmt.Sprintf(", host size %d MiB", fi.Size()>>20)
		}
		r.see("%s", obs)
	}
	e.aRun(t, "rm -f /workspace/big1.bin /workspace/big2.bin /tmp/big3.bin")
	e.serverAlive(t)
}

// quotas (AV-03): a tenant's terminals beyond terminal.max_per_tenant are
// refused with 429. (Other quotas have tests of their own: WebSockets per
// user in server/websocket_test.go, playground runs and shares in
// server/playground_test.go, DAP sessions in dap.)
func (e *attackEnv) quotas(t *testing.T) {
	r := e.table.row(t, "AV-03 terminals beyond max_per_tenant", "429 too_many_terminals")
	base := "/api/v1/workspaces/" + e.wsA + "/terminals"
	var made []string
	defer func() {
		for _, id := range made {
			e.s.call(t, request{Method: "DELETE", Path: base + "/" + id, Token: e.a.Token}, http.StatusNoContent, nil)
		}
	}()
	for range attackTermsMax {
		resp := e.s.do(t, request{Method: "POST", Path: base, Token: e.a.Token, Body: map[string]any{}})
		if resp.StatusCode == http.StatusTooManyRequests {
			wantError(t, "terminal over the tenant limit", resp, http.StatusTooManyRequests, "too_many_terminals")
			r.see("terminal %d of the tenant: 429 too_many_terminals, Retry-After %q", len(made)+2, resp.Header.Get("Retry-After"))
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("the terminal limit's 429 has no Retry-After (AV-03)")
			}
			if len(made)+1 != attackTermsMax {
				t.Errorf("429 after %d terminals, want after %d", len(made)+1, attackTermsMax)
			}
			return
		}
		var term terminalJSON
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(resp.Body, &term) != nil {
			t.Fatalf("create terminal: %d %s", resp.StatusCode, resp.Body)
		}
		made = append(made, term.ID)
	}
	t.Errorf("%d terminals of one tenant were accepted, limit %d", len(made)+1, attackTermsMax)
}

// forkBomb (TTY-01): a fork bomb in one of A's terminals is held at the
// workspace's pids limit; B answers meanwhile; closing the terminal ends
// it, and A's other terminal works again.
func (e *attackEnv) forkBomb(t *testing.T) {
	r := e.table.row(t, "TTY-01 fork bomb :(){ :|:& };:", "held at pids.max in A's cgroup; B answers; terminal closes")
	requireCgroupLimit(t, e.s, "pids")
	bomb := openShell(t, e.s, e.a.Token, e.wsA, "bomb")
	shellA := waitProc(t, e.uidA, "bash")
	pidsDir, ok := cgroupDir(shellA.Pid, "pids")
	if !ok {
		t.Fatalf("A's shell (pid %d) has no pids cgroup", shellA.Pid)
	}
	maxFile := filepath.Join(filepath.Dir(pidsDir), "pids.max")
	curFile := filepath.Join(filepath.Dir(pidsDir), "pids.current")
	if max, _ := cgroupValue(maxFile, ""); max != attackPids {
		t.Errorf("%s = %d, want %d", maxFile, max, attackPids)
	}
	t.Logf("before the bomb: B %s", e.memoryOf(e.uidB))
	bomb.send(t, ":(){ :|:& };:\n")
	_ = bomb.conn.Close() // its output is a flood of fork errors; the terminal lives on

	peak := int64(0)
	deadline := time.Now().Add(30 * time.Second)
	for peak < attackPids*3/4 {
		if n, _ := cgroupValue(curFile, ""); n > peak {
			peak = n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fork bomb reached only %d tasks in A's cgroup", peak)
		}
		time.Sleep(20 * time.Millisecond) // polling the host, not an assertion
	}
	var hovers, echoes []time.Duration
	for range 3 {
		hovers = append(hovers, e.hoverB(t))
		echoes = append(echoes, e.echoB(t))
		if n, _ := cgroupValue(curFile, ""); n > peak {
			peak = n
		}
	}
	if peak > attackPids {
		t.Errorf("A's cgroup held %d tasks, above pids.max %d", peak, attackPids)
	}
	e.serverAlive(t)
	r.see("peak %d/%d tasks; B hover max %v, echo max %v", peak, attackPids, slices.Max(hovers), slices.Max(echoes))
	t.Logf("AV-04 during the fork bomb: B hover %v, echo %v", hovers, echoes)

	start := time.Now()
	e.s.call(t, request{Method: "DELETE", Path: "/api/v1/workspaces/" + e.wsA + "/terminals/" + bomb.id, Token: e.a.Token}, http.StatusNoContent, nil)
	r.see("DELETE terminal took %v", time.Since(start).Round(time.Millisecond))
	deadline = time.Now().Add(30 * time.Second)
	for {
		n, _ := cgroupValue(curFile, "")
		if n < 16 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks left in A's cgroup after the terminal was closed", n)
		}
		time.Sleep(50 * time.Millisecond) // polling the host, not an assertion
	}
	if out, _ := e.aRun(t, "echo A-$((1+1))"); !strings.Contains(out, "A-2") {
		t.Errorf("A's other terminal after the bomb: %q", out)
	}
	r.see("A's other terminal answers after")
}

// memoryHog (TTY-02): a memory hog is OOM-killed inside A's cgroup only.
func (e *attackEnv) memoryHog(t *testing.T) {
	r := e.table.row(t, "TTY-02 memory hog (tail /dev/zero), memory 512 MiB", "OOM-killed in A's cgroup; A's shell, B, server live")
	requireCgroupLimit(t, e.s, "memory")
	shellA := waitProc(t, e.uidA, "bash")
	bsh := waitProc(t, e.uidB, "bash")
	memDir, ok := cgroupDir(shellA.Pid, "memory")
	if !ok {
		t.Fatalf("A's shell (pid %d) has no memory cgroup", shellA.Pid)
	}
	wsMem := filepath.Dir(memDir)
	limit, _ := cgroupValue(filepath.Join(wsMem, "memory.max"), "")
	if limit == 0 {
		limit, _ = cgroupValue(filepath.Join(wsMem, "memory.limit_in_bytes"), "")
	}
	if limit != attackMemory {
		t.Errorf("A's memory limit %d, want %d", limit, attackMemory)
	}
	// v1 counts an OOM kill in the victim's own cgroup, v2 also in its
	// parents: sum the process's and the workspace's.
	oomKills := func() int64 {
		var n int64
		for _, d := range []string{memDir, wsMem} {
			for _, f := range []string{"memory.events", "memory.oom_control"} {
				if v, ok := cgroupValue(filepath.Join(d, f), "oom_kill"); ok {
					n += v
					break
				}
			}
		}
		return n
	}
	before := oomKills()
	start := time.Now()
	out, code := e.aRun(t, "tail /dev/zero")
	after := oomKills()
	if code != 128+9 || after <= before {
		t.Errorf("memory hog: exit %d (want 137, SIGKILL), oom_kill %d -> %d; output %q", code, before, after, out)
	}
	r.see("exit %d after %v, oom_kill %d -> %d", code, time.Since(start).Round(time.Millisecond), before, after)
	if !shellA.alive() || !bsh.alive() {
		t.Errorf("a shell died of A's hog: A %v, B %v", shellA.alive(), bsh.alive())
	}
	e.serverAlive(t)
	e.echoB(t)
}

// cpuSpin (TTY-02, AV-04): a CPU spin on every core is held to A's quota
// (A's cgroup uses at most one core's time) while B's hover answers; its
// latency is the AV-04 figure.
func (e *attackEnv) cpuSpin(t *testing.T) {
	rc := e.table.row(t, "TTY-02/AV-04 CPU spin on every core, cpu 1000m", "A uses ≤ 1 core; B hover < 10 s")
	requireCgroupLimit(t, e.s, "cpu")
	shellA := waitProc(t, e.uidA, "bash")
	cpuDir, ok := cgroupDir(shellA.Pid, "cpu")
	if !ok {
		t.Fatalf("A's shell has no cpu cgroup")
	}
	statFile := filepath.Join(filepath.Dir(cpuDir), "cpu.stat")
	quota, _ := os.ReadFile(filepath.Join(filepath.Dir(cpuDir), "cpu.max"))
	if len(quota) == 0 {
		quota, _ = os.ReadFile(filepath.Join(filepath.Dir(cpuDir), "cpu.cfs_quota_us"))
	}
	if q := strings.Fields(string(quota)); len(q) == 0 || q[0] != strconv.Itoa(attackCPU*100) {
		t.Errorf("A's CPU quota %q, want %d µs per 100 ms", quota, attackCPU*100)
	}
	// CPU time used comes from the unified hierarchy (v1 cpuacct is not
	// split per workspace).
	usageFile := ""
	if d, ok := cgroupV2Dir(shellA.Pid); ok {
		usageFile = filepath.Join(filepath.Dir(d), "cpu.stat")
	}
	throttled0, _ := cgroupValue(statFile, "nr_throttled")
	// Each spinner stops by itself after 30s, should the kill fail.
	e.aRun(t, "for i in 1 2; do (end=$((SECONDS+30)); while [ $SECONDS -lt $end ]; do :; done) & done")
	defer func() {
		e.aRun(t, "kill -9 $(jobs -p); wait")
	}()
	// Let the spinners take the cores before measuring.
	waitSpin := time.Now().Add(10 * time.Second)
	for len(findProcs(e.uidA, "bash")) < 3 && time.Now().Before(waitSpin) {
		time.Sleep(20 * time.Millisecond) // polling the host, not an assertion
	}
	usage0, usageOK := cgroupValue(usageFile, "usage_usec")
	window := time.Now()
	var hovers []time.Duration
	for range 5 {
		d := e.hoverB(t)
		if d > 10*time.Second {
			t.Errorf("B's hover took %v while A spins", d)
		}
		hovers = append(hovers, d)
	}
	echo := e.echoB(t)
	if d := 2*time.Second - time.Since(window); d > 0 {
		time.Sleep(d) // a measuring window of at least 2s, not an assertion
	}
	usage1, _ := cgroupValue(usageFile, "usage_usec")
	elapsed := time.Since(window)
	throttled1, _ := cgroupValue(statFile, "nr_throttled")
	cores := float64(usage1-usage0) / float64(elapsed.Microseconds())
	if !usageOK {
		rc.see("A's CPU usage not measurable (no unified cgroup)")
	} else if cores > 1.2 {
		t.Errorf("A used %.2f cores over %v with a quota of 1", cores, elapsed)
	}
	sorted := slices.Clone(hovers)
	slices.Sort(sorted)
	rc.see("A used %.2f cores (load from elsewhere may keep it lower); nr_throttled %d -> %d; B hover median %v max %v, echo %v",
		cores, throttled0, throttled1, sorted[len(sorted)/2], sorted[len(sorted)-1], echo)
	t.Logf("AV-04 during the CPU spin: B hover latencies %v, echo %v", hovers, echo)
}
