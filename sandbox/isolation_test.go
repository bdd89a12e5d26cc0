package sandbox_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/sandbox"
)

// testUID is the host uid isolated test processes run as.
// It is one of this test process's own, so two test runs at once share
// neither its processes' count (RLIMIT_NPROC, which the fork bomb test
// sets) nor its files.
var testUID = 61234 + os.Getpid()%4096

// isoHelperPrefix selects a helper mode of the test binary run inside a
// sandbox (see isoHelper).
const isoHelperPrefix = "iso:"

// isoHelper runs inside a sandbox: "iso:tiocsti" tries to inject a
// keystroke into its terminal, "iso:ptrace" tries PTRACE_TRACEME; each
// prints "ok" or the errno's name.
func isoHelper(mode string) int {
	var err error
	switch mode {
	case "iso:syscalls":
		return syscallProbe()
	case "iso:tiocsti":
		b := byte('x')
		err = unix.IoctlSetPointerInt(0, unix.TIOCSTI, int(b))
	case "iso:ptrace":
		if _, _, e := unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0); e != 0 {
			err = e
		}
	default:
		fmt.Println("unknown mode")
		return 2
	}
	if err == nil {
		fmt.Println("ok")
	} else if errors.Is(err, unix.EPERM) {
		fmt.Println("EPERM")
	} else {
		fmt.Println("error:", err)
	}
	return 0
}

// needBwrap skips the test when bubblewrap is missing, unless CI is set
// (CI installs it, so a missing bwrap there is a failure).
func needBwrap(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/bwrap"); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("bwrap is not installed (CI is set)")
	}
	t.Skip("bwrap is not installed")
}

// isoEnv is a temporary host layout: a workspace (owned by testUID), a
// sibling workspace and a data directory, all under one directory the
// tenant uid may traverse.
type isoEnv struct {
	base, ws, sibling, data string
}

func newIsoEnv(t testing.TB) isoEnv {
	t.Helper()
	base := t.TempDir()
	// t.TempDir's parents are 0700: let the tenant uid traverse them.
	for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	e := isoEnv{base: base, ws: filepath.Join(base, "ws"), sibling: filepath.Join(base, "other"), data: filepath.Join(base, "data")}
	for _, d := range []string{e.ws, e.sibling, e.data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "secret"), []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(e.ws, testUID, testUID); err != nil {
		t.Fatal(err)
	}
	return e
}

func newIsoRunner(t testing.TB, name string, limits sandbox.Limits) *sandbox.Runner {
	t.Helper()
	needBwrap(t)
	r, err := sandbox.New(sandbox.Options{
		Instance:  instancePrefix + name,
		KillGrace: testGrace,
		Isolation: sandbox.IsolationBwrap,
		OwnerUID:  func(string) (int, error) { return testUID, nil },
		Limits:    limits,
		Logger:    testLogger(t.(*testing.T)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("runner close: %v", err)
		}
	})
	return r
}

func (e isoEnv) sh(script string) sandbox.Cmd {
	return sandbox.Cmd{
		Kind: "run", Owner: "t1", Workspace: "w1",
		Path: "sh", Args: []string{"-c", script},
		Env: baseEnv("HOME=" + e.ws), Dir: e.ws,
		Binds: []sandbox.Bind{{Host: e.ws}},
	}
}

// run starts c, waits for it and returns its output and status.
func run(t *testing.T, r *sandbox.Runner, c sandbox.Cmd) (string, sandbox.ExitStatus) {
	t.Helper()
	var out lockedBuffer
	c.Stdout, c.Stderr = &out, &out
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v (output %q)", err, out.String())
	}
	return out.String(), st
}

func TestBwrapConfinement(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "confine", sandbox.Limits{})
	if r.Isolation() != sandbox.IsolationBwrap {
		t.Fatalf("Isolation = %q", r.Isolation())
	}
	script := fmt.Sprintf(`
echo uid=$(id -u)
test -e %[1]s/secret && echo SEES_SIBLING
test -e %[2]s/secret && echo SEES_DATA
cat %[3]s/secret
echo pids=$(ls /proc | grep -c '^[0-9]')
test -e /proc/%[4]d/environ && echo SEES_SERVER_PID
echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,)
echo hello > %[3]s/written
touch /usr/x 2>/dev/null && echo WROTE_USR
test -e /etc/shadow && echo SEES_SHADOW
echo caps=$(grep CapEff /proc/self/status | cut -f2)
`, e.sibling, e.data, e.ws, os.Getpid())
	out, st := run(t, r, e.sh(script))
	if st.Code != 0 {
		t.Fatalf("exit %+v; output:\n%s", st, out)
	}
	for _, bad := range []string{"SEES_SIBLING", "SEES_DATA", "SEES_SERVER_PID", "WROTE_USR", "SEES_SHADOW"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s; output:\n%s", bad, out)
		}
	}
	for _, want := range []string{"uid=" + strconv.Itoa(testUID) + "\n", "secret\n", "ifaces=lo,\n", "caps=0000000000000000\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Only the sandbox's own few processes are in its /proc.
	if i := strings.Index(out, "pids="); i >= 0 {
		n, _ := strconv.Atoi(strings.Fields(out[i+5:])[0])
		if n == 0 || n > 6 {
			t.Errorf("sandbox sees %d pids; output:\n%s", n, out)
		}
	}
	var st2 syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.ws, "written"), &st2); err != nil {
		t.Fatal(err)
	} else if int(st2.Uid) != testUID {
		t.Errorf("file written in the workspace belongs to uid %d, want %d", st2.Uid, testUID)
	}
}

func TestNewIsolationOptions(t *testing.T) {
	r, err := sandbox.New(sandbox.Options{Instance: instancePrefix + "opts"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Isolation() != sandbox.IsolationNone || r.Cgroups() != (sandbox.CgroupSupport{}) {
		t.Errorf("default: %q %+v", r.Isolation(), r.Cgroups())
	}
	_ = r.Close()
	if _, err := sandbox.New(sandbox.Options{Instance: "x", Isolation: "jail"}); err == nil {
		t.Error("unknown isolation accepted")
	}
	if _, err := sandbox.New(sandbox.Options{Instance: "x", Isolation: sandbox.IsolationBwrap, BwrapPath: "/nonexistent/bwrap"}); !errors.Is(err, sandbox.ErrNoBwrap) {
		t.Errorf("missing bwrap: %v", err)
	}
	if _, err := sandbox.New(sandbox.Options{Instance: "x", Isolation: sandbox.IsolationBwrap, ReadOnlyPaths: []string{"rel"}}); err == nil {
		t.Error("relative read-only path accepted")
	}
}

func TestBwrapWithoutOwnerUID(t *testing.T) {
	t.Parallel()
	needBwrap(t)
	e := newIsoEnv(t)
	r, err := sandbox.New(sandbox.Options{
		Instance: instancePrefix + "nouid", Isolation: sandbox.IsolationBwrap,
		KillGrace: testGrace, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, _ := run(t, r, e.sh(fmt.Sprintf("id -u; test -e %s/secret && echo SEES_SIBLING; grep CapEff /proc/self/status", e.sibling)))
	if want := strconv.Itoa(os.Getuid()) + "\n"; !strings.HasPrefix(out, want) || strings.Contains(out, "SEES_SIBLING") || !strings.Contains(out, "0000000000000000") {
		t.Errorf("output %q", out)
	}
}

func TestBwrapNetwork(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "net", sandbox.Limits{})
	c := e.sh(`tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,`)
	c.Network = sandbox.NetworkFull
	out, _ := run(t, r, c)
	host, _ := os.ReadFile("/proc/net/dev")
	if bytes.Count(host, []byte("\n")) > 3 && out == "lo," {
		t.Errorf("NetworkFull sees only loopback: %q", out)
	}
}

func TestBwrapProcessAPI(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "api", sandbox.Limits{})
	if _, st := run(t, r, e.sh("exit 3")); st.Code != 3 {
		t.Errorf("exit code = %+v, want 3", st)
	}

	// Close ends a running process (and Signal reaches the command).
	c := e.sh(`trap 'echo got-int; exit 7' INT; echo ready; while :; do sleep 0.05; done`)
	var out lockedBuffer
	c.Stdout = &out
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready", func() bool { return strings.Contains(out.String(), "ready") })
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	eventually(t, "trap", func() bool { return strings.Contains(out.String(), "got-int") })
	if st, _ := p.Wait(); st.Code != 7 {
		t.Errorf("after SIGINT: %+v", st)
	}

	p, err = r.Start(t.Context(), e.sh("sleep 1000"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); !errors.Is(err, sandbox.ErrStopped) {
		t.Errorf("Wait after Close = %v, want ErrStopped", err)
	}

	// A command outside every bind is refused without naming a path.
	bad := e.sh("true")
	bad.Dir = e.sibling
	if _, err := r.Start(t.Context(), bad); !errors.Is(err, sandbox.ErrInvalidCmd) || strings.Contains(err.Error(), e.base) {
		t.Errorf("Start outside binds = %v", err)
	}
}

func TestBwrapPTY(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "pty", sandbox.Limits{})
	c := sandbox.Cmd{
		Kind: "terminal", Owner: "t1", Workspace: "w1",
		Path: "bash", Args: []string{"--norc", "--noprofile", "-i"},
		Env: baseEnv("TERM=dumb", "PS1=$ ", "HOME="+e.ws), Dir: e.ws,
		Binds: []sandbox.Bind{{Host: e.ws}}, PTY: &sandbox.Winsize{Cols: 80, Rows: 24},
	}
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	pr := readPTY(p.PTY())
	pr.expect(t, "$ ")
	if _, err := io.WriteString(p.PTY(), "echo $((6*7)); stty size\n"); err != nil {
		t.Fatal(err)
	}
	pr.expect(t, "42")
	pr.expect(t, "24 80")
	if _, err := io.WriteString(p.PTY(), "exit 5\n"); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Code != 5 {
		t.Errorf("Wait = %+v, %v", st, err)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

// helperBin copies the test binary where the tenant uid can run it.
func helperBin(t *testing.T, e isoEnv) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(e.ws, "helper")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBwrapSeccomp(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "seccomp", sandbox.Limits{})
	bin := helperBin(t, e)

	// TIOCSTI on its own terminal (a PTY command has no --new-session).
	c := sandbox.Cmd{
		Kind: "terminal", Owner: "t1", Workspace: "w1",
		Path: bin, Args: []string{helperArg, "iso:tiocsti"},
		Env: baseEnv(), Dir: e.ws, Binds: []sandbox.Bind{{Host: e.ws}},
		PTY: &sandbox.Winsize{Cols: 80, Rows: 24},
	}
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	pr := readPTY(p.PTY())
	pr.expect(t, "EPERM")
	_, _ = p.Wait()
	_ = p.Close()

	// ptrace is refused unless the command is a debugger.
	c = sandbox.Cmd{
		Kind: "run", Owner: "t1", Workspace: "w1",
		Path: bin, Args: []string{helperArg, "iso:ptrace"},
		Env: baseEnv(), Dir: e.ws, Binds: []sandbox.Bind{{Host: e.ws}},
	}
	if out, _ := run(t, r, c); strings.TrimSpace(out) != "EPERM" {
		t.Errorf("ptrace without Ptrace: %q", out)
	}
	c.Ptrace = true
	if out, _ := run(t, r, c); strings.TrimSpace(out) != "ok" {
		t.Errorf("ptrace with Ptrace: %q", out)
	}
}

func TestBwrapFileSizeLimit(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "fsize", sandbox.Limits{FileSize: 1 << 20})
	out, st := run(t, r, e.sh("grep -i 'file size' /proc/self/limits; dd if=/dev/zero of=big bs=64k count=64 2>&1; echo rc=$?"))
	if strings.Contains(out, "rc=0") {
		t.Errorf("4 MiB write succeeded under a 1 MiB limit: %q %+v", out, st)
	}
	fi, err := os.Stat(filepath.Join(e.ws, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 1<<20 {
		t.Errorf("file grew to %d bytes", fi.Size())
	}
}

// sandboxed returns the host pids whose command line holds arg.
func sandboxed(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(b, []byte(arg)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestBwrapEscapeesKilled(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "escape", sandbox.Limits{})
	// A setsid'ed, nohup'ed child with a cleared environment (no marker).
	const tag = "987.6543"
	out, _ := run(t, r, e.sh("setsid nohup env -i sleep "+tag+" >/dev/null 2>&1 & sleep 0.2; echo started"))
	if !strings.Contains(out, "started") {
		t.Fatalf("output %q", out)
	}
	if left := sandboxed(tag); len(left) > 0 {
		t.Errorf("escapee survived: %v", left)
	}
}

func TestBwrapPidsLimit(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	const limit = 64
	r := newIsoRunner(t, "pids", sandbox.Limits{Pids: limit})
	if r.Cgroups().Pids == "" {
		t.Skip("this host's cgroups cannot limit pids")
	}
	const tag = "99.4321"
	c := e.sh(fmt.Sprintf(`(for i in $(seq 300); do sleep %s & done) 2>/dev/null; echo forked; read x`, tag))
	var out lockedBuffer
	c.Stdout = &out
	inR, inW := io.Pipe()
	c.Stdin = inR
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "loop end", func() bool { return strings.Contains(out.String(), "forked") })
	n := len(sandboxed(tag))
	if n >= limit || n < limit/2 {
		t.Errorf("%d processes under a pids limit of %d", n, limit)
	}
	_ = inW.Close()
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	eventually(t, "sleeps gone", func() bool { return len(sandboxed(tag)) == 0 })
}

func TestBwrapForkBomb(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	const limit = 64
	r := newIsoRunner(t, "bomb", sandbox.Limits{Pids: limit})
	if r.Cgroups().Pids == "" {
		t.Skip("this host's cgroups cannot limit pids")
	}
	// RLIMIT_NPROC of the tenant uid is a guard should the cgroup not hold.
	// Every process of the bomb forks two more and stays (as a sleep
	// carrying the tag), so the count climbs to the limit and holds there
	// however slowly a loaded machine forks, rather than flickering.
	const tag = "987.71"
	// The bomb starts in a subshell: the shell that forks a pipeline's
	// second half may find the limit reached by its first half and exit,
	// which must not be the sandbox's main process.
	p, err := r.Start(t.Context(), e.sh(`ulimit -u 300; b() { b | b & exec sleep `+tag+`; }; (b) 2>/dev/null & exec sleep `+tag))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Part of the limit goes to processes without the tag (the pipelines' own
	// shells): a quarter is reached and kept, well clear of the count's
	// wobble.
	eventually(t, "the bomb to grow", func() bool { return len(sandboxed(tag)) >= limit/4 })
	for range 20 {
		if n := len(sandboxed(tag)); n > limit {
			t.Fatalf("%d processes under a pids limit of %d", n, limit)
		}
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if n := len(sandboxed(tag)); n > 0 {
		t.Errorf("%d bomb processes survived Close", n)
	}
}

func TestBwrapMemoryLimit(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "mem", sandbox.Limits{Memory: 32 << 20})
	if r.Cgroups().Memory == "" {
		t.Skip("this host's cgroups cannot limit memory")
	}
	// tail buffers an endless line; the address-space rlimit is a guard
	// should the cgroup not hold (tail then fails with rc=1, not 137).
	out, _ := run(t, r, e.sh("ulimit -v 400000; tail /dev/zero; echo rc=$?"))
	if !strings.Contains(out, "rc=137") {
		t.Errorf("memory hog was not killed by the cgroup: %q", out)
	}
}

// rssKB returns the resident set of pid in KiB.
func rssKB(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// BenchmarkShellPrompt is the start-up cost of an interactive shell: Start
// until the first prompt, then Close. It reports the resident memory a
// sandbox adds (sandbox-rss-KiB): bubblewrap's own two processes, and
// slirp4netns for a shell with the network (bwrap-net).
func BenchmarkShellPrompt(b *testing.B) {
	for _, mode := range []struct {
		name string
		iso  sandbox.Isolation
		net  sandbox.Network
	}{
		{"none", sandbox.IsolationNone, sandbox.NetworkNone},
		{"bwrap", sandbox.IsolationBwrap, sandbox.NetworkNone},
		{"bwrap-net", sandbox.IsolationBwrap, sandbox.NetworkOutbound},
	} {
		b.Run(mode.name, func(b *testing.B) {
			if mode.iso == sandbox.IsolationBwrap {
				needBwrap(b)
			}
			e := newIsoEnv(b)
			instance := instancePrefix + "bench-" + mode.name
			r, err := sandbox.New(sandbox.Options{
				Instance: instance, Isolation: mode.iso, KillGrace: testGrace,
				OwnerUID: func(string) (int, error) { return testUID, nil },
			})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			c := sandbox.Cmd{
				Kind: "terminal", Owner: "t1", Workspace: "w1",
				Path: "bash", Args: []string{"--norc", "--noprofile", "-i"},
				Env: baseEnv("TERM=dumb", "PS1=READY$ ", "HOME="+e.ws), Dir: e.ws,
				Binds: []sandbox.Bind{{Host: e.ws}}, PTY: &sandbox.Winsize{Cols: 80, Rows: 24},
				Network: mode.net,
			}
			var rss, n int
			for b.Loop() {
				p, err := r.Start(b.Context(), c)
				if err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 4096)
				var got []byte
				for !bytes.Contains(got, []byte("READY$ ")) {
					k, err := p.PTY().Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					got = append(got, buf[:k]...)
				}
				if mode.iso == sandbox.IsolationBwrap {
					rss += rssKB(p.Pid())
					for _, pid := range childrenOf(p.Pid()) {
						rss += rssKB(pid)
					}
					for _, pid := range markedPids(sandbox.MarkerVar + "=" + instance + "/") {
						if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(comm)) == "slirp4netns" {
							rss += rssKB(pid)
						}
					}
					n++
				}
				_ = p.Close()
			}
			if n > 0 {
				b.ReportMetric(float64(rss)/float64(n), "sandbox-rss-KiB")
			}
		})
	}
}

func childrenOf(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []int
	for f := range strings.FieldsSeq(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkStartWaitBwrap is BenchmarkStartWait in a sandbox.
func BenchmarkStartWaitBwrap(b *testing.B) {
	needBwrap(b)
	e := newIsoEnv(b)
	r, err := sandbox.New(sandbox.Options{
		Instance: instancePrefix + "bench-bwrap", Isolation: sandbox.IsolationBwrap,
		OwnerUID: func(string) (int, error) { return testUID, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := sandbox.Cmd{Kind: "run", Owner: "t1", Workspace: "w1", Path: "true", Env: baseEnv(), Dir: e.ws,
		Binds: []sandbox.Bind{{Host: e.ws}}}
	for b.Loop() {
		p, err := r.Start(b.Context(), c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
