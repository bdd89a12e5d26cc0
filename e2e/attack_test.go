package e2e_test

// The tenant-isolation attack suite (issue 6; docs/security.md cases TTY-01..08,
// RUN-03, RUN-04, DAP-02, DAP-07, LSP-07, LSP-11, AV-03, AV-04). One server
// in isolation mode bwrap serves two tenants, A (the attacker) and B (the
// victim). Every attack is typed into A's terminal (or sent by A's debug
// or LSP session) and must fail or be contained; its side effect is
// checked from the host (files, /proc, cgroups), and B's terminal echo and
// LSP hover must keep answering. The suite prints a result table.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Limits the attack server runs with (isolation.limits and terminal).
const (
	attackFileSize = 64 << 20  // isolation.limits.file_size
	attackMemory   = 512 << 20 // isolation.limits.memory (gopls and its page cache need about 256 MiB)
	attackPids     = 128       // isolation.limits.pids
	attackCPU      = 1000      // isolation.limits.cpu: one core of two
	attackTermsMax = 4         // terminal.max_per_tenant
)

// attackUIDFirst picks the first tenant uid of the suite's server: a
// range of 64 far above the default one, varying with the process id.
func attackUIDFirst() int {
	return 1_500_000_000 + (os.Getpid()%100_000)*64
}

// attackEnv is the server and the two tenants of the suite.
type attackEnv struct {
	s     *instance
	cfg   serverConfig // to restart on the same data directory
	table *resultTable

	a, b       tokenJSON
	wsA, wsB   string
	uidA, uidB int
	shA, shB   *shell
	lspB       *lspClient
	secretB    string // content of secret.txt in B's workspace
	goroot     string // the host's GOROOT (bound at /goroot inside)
	playground chan playResult
}

// playResult is the answer of the playground run started at set-up.
type playResult struct {
	out string
	err error
}

// requireIsolation skips (fails under CI) when the suite cannot run here:
// it needs bubblewrap and root (per-tenant uids).
func requireIsolation(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		why = "bubblewrap is not installed (/usr/bin/bwrap)"
	} else if os.Geteuid() != 0 {
		why = "per-tenant uids need the server to run as root"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// TestAttackIsolation runs the attack suite; see the file comment.
func TestAttackIsolation(t *testing.T) {
	requireIsolation(t)
	e := newAttackEnv(t)
	t.Cleanup(func() { t.Logf("attack suite results (AV-04 latencies in the observed column):\n%s", e.table) })

	t.Run("RUN-04 filesystem", e.filesystem)
	t.Run("kill and ptrace", e.killPtrace)
	t.Run("DAP-02 DAP-07 debugger", e.debugger)
	t.Run("TTY-06 TIOCSTI", e.tiocsti)
	t.Run("TTY-03 file size", e.fileSize)
	t.Run("RUN-03 network from the terminal", e.networkTerminal)
	t.Run("RUN-03 network from the playground", e.networkPlayground)
	t.Run("LSP-07 LSP-11 language server", e.languageServer)
	t.Run("AV-03 quotas", e.quotas)
	t.Run("TTY-01 fork bomb", e.forkBomb)
	t.Run("TTY-02 memory hog", e.memoryHog)
	t.Run("TTY-02 AV-04 CPU spin", e.cpuSpin)
	t.Run("TTY-07 delete with leftovers", e.deleteWorkspace)
	t.Run("TTY-08 server crash", e.serverCrash)
}

// newAttackEnv starts the server and sets up both tenants: workspaces,
// terminals, B's LSP session, and a playground run in the background.
func newAttackEnv(t *testing.T) *attackEnv {
	base := t.TempDir()
	// t.TempDir's directories are 0700: tenant uids must traverse them to
	// reach their workspaces (the server checks, and refuses otherwise).
	for d := base; d != "/" && d != filepath.Clean(os.TempDir()); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	e := &attackEnv{
		table:  &resultTable{},
		goroot: strings.TrimSpace(string(goroot)),
		cfg: serverConfig{Data: filepath.Join(base, "data"), Env: []string{
			"IDESERVER_ISOLATION_MODE=bwrap",
			// A uid range of its own: other servers on this machine (tests
			// running in parallel) give their tenants uids from the default
			// range, and the suite tells processes apart by uid.
			"IDESERVER_ISOLATION_UID_FIRST=" + strconv.Itoa(attackUIDFirst()),
			"IDESERVER_ISOLATION_UID_COUNT=64",
			"IDESERVER_ISOLATION_LIMITS_FILE_SIZE=64MiB",
			"IDESERVER_ISOLATION_LIMITS_MEMORY=512MiB",
			"IDESERVER_ISOLATION_LIMITS_PIDS=" + strconv.Itoa(attackPids),
			"IDESERVER_ISOLATION_LIMITS_CPU=" + strconv.Itoa(attackCPU),
			"IDESERVER_TERMINAL_MAX_PER_TENANT=" + strconv.Itoa(attackTermsMax),
			"IDESERVER_PLAYGROUND_BUILD_TIMEOUT=180s",
		}},
	}
	e.s = startServerWith(t, e.cfg)
	e.checkReady(t, e.s)

	e.a = e.s.createToken(t, "attack-a", "alice")
	e.b = e.s.createToken(t, "attack-b", "bob")
	e.wsA = e.s.createWorkspace(t, e.a.Token, map[string]any{"name": "a", "template": "hello"}).ID
	e.wsB = e.s.createWorkspace(t, e.b.Token, map[string]any{"name": "b", "template": "hello"}).ID
	e.secretB = "B-SECRET-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	e.s.putFile(t, e.b.Token, e.wsB, "secret.txt", e.secretB+"\n")

	e.uidA = fileOwner(t, e.wsDir(e.wsA))
	e.uidB = fileOwner(t, e.wsDir(e.wsB))
	if e.uidA == e.uidB || e.uidA == 0 || e.uidB == 0 || e.uidA == os.Getuid() {
		t.Fatalf("workspace owners %d (A) and %d (B): want two distinct tenant uids, not the server's", e.uidA, e.uidB)
	}
	t.Logf("tenant uids: A %d, B %d; server pid %d", e.uidA, e.uidB, e.s.cmd.Process.Pid)

	// The playground build is slow with a cold cache: start it now, so it
	// is done before the CPU-heavy attacks.
	e.playground = make(chan playResult, 1)
	go e.runPlayground()

	e.shA = openShell(t, e.s, e.a.Token, e.wsA, "A")
	e.shB = openShell(t, e.s, e.b.Token, e.wsB, "B")
	e.openLSPB(t)
	return e
}

// checkReady fails unless s's /readyz says isolation is bwrap.
func (e *attackEnv) checkReady(t *testing.T, s *instance) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // gopls and dlv are published for tenant uids first
	for {
		var ready map[string]any
		resp := s.do(t, request{Method: "GET", Path: "/readyz"})
		if err := json.Unmarshal(resp.Body, &ready); err != nil || ready["isolation"] != "bwrap" {
			t.Fatalf("/readyz = %d %s, want isolation bwrap", resp.StatusCode, resp.Body)
		}
		if resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s", resp.StatusCode, resp.Body)
		}
		time.Sleep(100 * time.Millisecond) // polling readiness, not an assertion
	}
}

// wsDir is a workspace's host directory.
func (e *attackEnv) wsDir(ws string) string {
	return filepath.Join(e.cfg.Data, "workspaces", ws)
}

// openLSPB starts B's LSP session (the victim's editor) and waits for its
// first hover.
func (e *attackEnv) openLSPB(t *testing.T) {
	t.Helper()
	main, _ := e.s.getFile(t, e.b.Token, e.wsB, "main.go")
	c := dialLSP(t, e.s, e.b.Token, e.wsB)
	c.call("initialize", map[string]any{"processId": nil, "rootUri": "file:///workspace", "capabilities": map[string]any{}})
	c.notify("initialized", map[string]any{})
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": mainURI, "languageId": "go", "version": 1, "text": main,
	}})
	e.lspB = c
	d := e.hoverB(t)
	t.Logf("B's first hover answered %v after didOpen", d)
}

// hoverB asks B's gopls for the hover of fmt.Println and returns how long
// the answer took.
func (e *attackEnv) hoverB(t *testing.T) time.Duration {
	t.Helper()
	e.lspB.t = t
	start := time.Now()
	id := e.lspB.request("textDocument/hover", pos(mainURI, 5, 6))
	r := e.lspB.await(len(e.lspB.seen), "B's hover", func(m map[string]any) bool {
		n, ok := m["id"].(float64)
		return ok && int(n) == id && m["method"] == nil
	})
	d := time.Since(start)
	if !strings.Contains(asJSON(r["result"]), "Println") {
		t.Errorf("B's hover = %s; B's memory cgroup: %s", asJSON(r), e.memoryOf(e.uidB))
	}
	return d
}

// memoryOf describes the memory cgroup of uid's workspace (through its
// shell), for messages.
func (e *attackEnv) memoryOf(uid int) string {
	ps := findProcs(uid, "bash")
	if len(ps) == 0 {
		return "no shell"
	}
	d, ok := cgroupDir(ps[0].Pid, "memory")
	if !ok {
		return "no memory cgroup"
	}
	var b strings.Builder
	for _, f := range []string{"memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.current", "memory.peak"} {
		if v, ok := cgroupValue(filepath.Join(filepath.Dir(d), f), ""); ok {
			fmt.Fprintf(&b, "%s=%d ", f, v)
		}
	}
	for _, k := range []string{"total_rss", "total_cache", "anon", "file"} {
		if v, ok := cgroupValue(filepath.Join(filepath.Dir(d), "memory.stat"), k); ok {
			fmt.Fprintf(&b, "%s=%d ", k, v)
		}
	}
	for _, f := range []string{"memory.oom_control", "memory.events"} {
		if v, ok := cgroupValue(filepath.Join(filepath.Dir(d), f), "oom_kill"); ok {
			fmt.Fprintf(&b, "%s oom_kill=%d ", f, v)
		}
	}
	return b.String()
}

// echoB types an echo into B's terminal and returns how long the answer
// took.
func (e *attackEnv) echoB(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	out, code := e.shB.run(t, "echo B-$((40+2))", 30*time.Second)
	if code != 0 || !strings.Contains(out, "B-42") {
		t.Errorf("B's echo: code %d, output %q", code, out)
	}
	return time.Since(start)
}

// serverAlive fails unless the server process runs and answers.
func (e *attackEnv) serverAlive(t *testing.T) {
	t.Helper()
	select {
	case <-e.s.Done():
		t.Fatalf("the server exited: %s", tail(e.s.Stderr(), 2000))
	default:
	}
	e.s.call(t, request{Method: "GET", Path: "/healthz"}, http.StatusOK, nil)
}

// aRun runs cmd in A's terminal (60s at most).
func (e *attackEnv) aRun(t *testing.T, cmd string) (string, int) {
	t.Helper()
	return e.shA.run(t, cmd, 60*time.Second)
}

// hasPython reports whether python3 runs inside A's sandbox (the host's
// /usr).
func (e *attackEnv) hasPython(t *testing.T) bool {
	t.Helper()
	_, code := e.aRun(t, "command -v python3 >/dev/null")
	return code == 0
}

// expectedRoot is what `ls -A /` must show inside a tenant's sandbox: the
// system directories that exist on the host, bubblewrap's own /dev, /proc,
// /tmp and /etc, and the fixed targets of the tenant's binds.
func expectedRoot() []string {
	want := []string{"dev", "etc", "proc", "tmp", "workspace", "home", "goroot", "opt"}
	for _, d := range []string{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		if _, err := os.Lstat("/" + d); err == nil {
			want = append(want, d)
		}
	}
	slices.Sort(want)
	return want
}

// filesystem (RUN-04): B's files, the data directory and the database are
// out of sight by host path and by search; / is the sandbox's; writes
// outside the workspace reach nothing on the host; /proc/1/environ is the
// sandbox's own.
func (e *attackEnv) filesystem(t *testing.T) {
	r := e.table.row(t, "RUN-04 read B/data dir/bbolt, write outside, ls /, /proc/1/environ",
		"not visible; / = sandbox listing; host unchanged")
	hidden := []string{
		filepath.Join(e.wsDir(e.wsB), "secret.txt"), e.wsDir(e.wsB), e.cfg.Data,
		filepath.Join(e.cfg.Data, "ideserver.db"), filepath.Join(e.cfg.Data, "tenants"),
		"/proc/" + strconv.Itoa(e.s.cmd.Process.Pid),
	}
	for _, p := range hidden {
		if _, code := e.aRun(t, "test -e "+p); code == 0 {
			t.Errorf("A sees %s", p)
		}
	}
	if out, code := e.aRun(t, "cat "+hidden[0]+" /workspace/../*/secret.txt /home/*/../*/secret.txt"); code == 0 || strings.Contains(out, e.secretB) {
		t.Errorf("A read B's secret: code %d, output %q", code, out)
	}
	out, _ := e.aRun(t, `printf 'N=%s\n' "$(find / -path /proc -prune -o \( -name ideserver.db -o -name secret.txt -o -name `+e.wsB+` \) -print 2>/dev/null | wc -l)"`)
	if n := field(`N=(\d+)`, out); n != "0" {
		t.Errorf("A's search of / found B's workspace or the database: N=%s; %q", n, out)
	}
	r.see("host paths of B, data dir, bbolt: not visible; find /: 0 hits")

	out, _ = e.aRun(t, `printf 'LS[%s]\n' "$(command ls -A / | tr '\n' ' ')"`)
	got := strings.Fields(field(`LS\[([^\]%]*)\]`, out))
	slices.Sort(got)
	if want := expectedRoot(); !slices.Equal(got, want) {
		t.Errorf("ls -A / = %v, want %v", got, want)
	}
	r.see("ls / = %s", strings.Join(got, " "))

	out, code := e.aRun(t, `tr '\0' '\n' < /proc/1/environ | sed 's/^/ENV:/'`)
	if code != 0 || !strings.Contains(out, "ENV:PATH=") {
		t.Errorf("/proc/1/environ: code %d, %q", code, out)
	}
	server, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", e.s.cmd.Process.Pid))
	if err != nil || !strings.Contains(string(server), "IDESERVER_GO_PROXY=") {
		t.Fatalf("the server's environment (%v) lacks IDESERVER_GO_PROXY: the check below could not fail", err)
	}
	for _, leak := range []string{"ENV:IDESERVER_GO_PROXY", "ENV:IDESERVER_ISOLATION", e.cfg.Data} {
		if strings.Contains(out, leak) {
			t.Errorf("/proc/1/environ inside shows %q of the server's environment", leak)
		}
	}
	r.see("/proc/1/environ: the sandbox's, none of the server's")

	mark := "pwn-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, dir := range []string{"/usr", "/goroot", "/etc", "/", "/opt"} {
		p := filepath.Join(dir, mark)
		_, code := e.aRun(t, "touch "+p)
		if (dir == "/usr" || dir == "/goroot") && code == 0 {
			t.Errorf("touch %s succeeded", p)
		}
		r.see("touch %s: exit %d", p, code)
	}
	for _, p := range []string{"/usr/" + mark, "/etc/" + mark, "/" + mark, "/opt/" + mark, filepath.Join(e.goroot, mark)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("A's write reached the host: %s exists", p)
			_ = os.Remove(p)
		}
	}
	if _, code := e.aRun(t, "touch /workspace/"+mark); code != 0 {
		t.Errorf("A cannot write its own workspace")
	}
	if owner := fileOwner(t, filepath.Join(e.wsDir(e.wsA), mark)); owner != e.uidA {
		t.Errorf("a file A created belongs to uid %d on the host, want %d", owner, e.uidA)
	}
	r.see("host: no file outside; own file owned by uid %d", e.uidA)
}

const ptraceScript = `import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
for pid in map(int, sys.argv[1:]):
    r = libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH
    e = ctypes.get_errno()
    print("PTRACE %d=%s" % (pid, "OK" if r == 0 else errno.errorcode.get(e, str(e))))
`

// killPtrace: A signals and traces the server and B's shell (host pids)
// and its own sandbox's pid 1; all fail, and both victims live on.
func (e *attackEnv) killPtrace(t *testing.T) {
	r := e.table.row(t, "kill -9 / ptrace(ATTACH) of server pid, B's shell pid, pid 1",
		"ESRCH/EPERM; server and B alive")
	server := e.s.cmd.Process.Pid
	bsh := waitProc(t, e.uidB, "bash")
	for _, pid := range []int{server, bsh.Pid} {
		out, code := e.aRun(t, fmt.Sprintf("kill -9 %d", pid))
		if code == 0 {
			t.Errorf("kill -9 %d succeeded", pid)
		}
		r.see("kill %d: exit %d (%s)", pid, code, field(`kill: \(\d+\) - ([^\r\n]*)`, out))
	}
	if e.hasPython(t) {
		e.s.putFile(t, e.a.Token, e.wsA, "ptrace.py", ptraceScript)
		out, _ := e.aRun(t, fmt.Sprintf("python3 /workspace/ptrace.py 1 %d %d", server, bsh.Pid))
		for _, pid := range []int{1, server, bsh.Pid} {
			res := field(fmt.Sprintf(`PTRACE %d=(\w+)`, pid), out)
			if res == "" || res == "OK" || (pid == 1 && res != "EPERM") {
				t.Errorf("ptrace attach %d: %q; output %q", pid, res, out)
			}
			r.see("ptrace %d: %s", pid, res)
		}
	} else {
		r.see("ptrace: no python3 inside, not tried")
	}
	e.serverAlive(t)
	if !bsh.alive() {
		t.Errorf("B's shell (pid %d) died", bsh.Pid)
	}
	e.echoB(t)
	r.see("server and B's shell alive, B echoes")
}
