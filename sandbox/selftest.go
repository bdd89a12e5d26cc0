package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SelfTestProbe describes the probe [Runner.SelfTest] runs: a tenant
// process as the server would start one, and what it must not see.
type SelfTestProbe struct {
	// Owner is the isolation principal the probe runs as (its
	// [Options.OwnerUID]). Required.
	Owner string
	// Binds are what a tenant process gets; the first is the workspace:
	// it must be a writable directory, and the probe runs in it. Required.
	Binds []Bind
	// Hidden are host paths the probe must not see: the data directory,
	// another workspace, another tenant's caches.
	Hidden []string
	// Network is the probe's network; with [NetworkNone] it must see only
	// the loopback interface.
	Network Network
}

// SelfTestCheck is one check of a [SelfTestReport]. Detail never holds a
// host path.
type SelfTestCheck struct {
	Name    string // e.g. "hidden-paths", "pid-namespace", "tenant-uid"
	OK      bool   // the check passed (or was skipped)
	Skipped bool   // the check does not apply or cannot be probed
	Detail  string // why it failed or was skipped; "" when it passed
}

// SelfTestReport is the outcome of [Runner.SelfTest].
type SelfTestReport struct {
	Isolation Isolation // the runner's mode
	Checks    []SelfTestCheck
}

// OK reports whether isolation is in force and every check passed.
func (r SelfTestReport) OK() bool {
	if r.Isolation == IsolationNone || len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the checks that did not pass.
func (r SelfTestReport) Failed() []SelfTestCheck {
	var f []SelfTestCheck
	for _, c := range r.Checks {
		if !c.OK {
			f = append(f, c)
		}
	}
	return f
}

// The checks of a self-test, in report order.
var selfTestChecks = []string{
	"workspace", "hidden-paths", "pid-namespace", "server-pid", "network",
	"tenant-uid", "no-capabilities", "seccomp", "system-read-only", "tiocsti",
}

// selfTestTimeout bounds a self-test whose context has no earlier deadline.
const selfTestTimeout = 20 * time.Second

// selfTestScript runs inside the sandbox. Its arguments are the host paths
// that must be hidden; the rest comes from ST_* variables. It prints one
// line per check: "name ok" or "name fail detail".
const selfTestScript = `
r() { if [ "$2" = 0 ]; then echo "$1 ok"; else echo "$1 fail $3"; fi; }
echo probe > "$ST_FILE"; r workspace $? "workspace is not writable"
[ "$(pwd)" = "$ST_DIR" ]; r workspace-dir $? "working directory is not the translated one"
i=0; bad=""
for p in "$@"; do i=$((i+1)); if [ -e "$p" ] || [ -L "$p" ]; then bad="$bad $i"; fi; done
[ -z "$bad" ]; r hidden-paths $? "hidden paths visible:$bad"
[ "$(readlink /proc/self/ns/pid)" != "$ST_PIDNS" ]; r pid-namespace $? "the server's pid namespace"
s=0
if [ -e /proc/$ST_SPID/stat ]; then
  [ "$(sed 's/^.*) //' /proc/$ST_SPID/stat | cut -d' ' -f20)" != "$ST_SSTART" ] || s=1
fi
r server-pid $s "the server's process is visible"
if [ "$ST_NONET" = 1 ]; then
  n=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,)
  [ "$n" = "lo," ]; r network $? "interfaces other than lo"
fi
[ "$(id -u)" = "$ST_UID" ]; r tenant-uid $? "runs as uid $(id -u) inside"
[ "$(grep '^CapEff:' /proc/self/status | cut -f2)" = 0000000000000000 ]; r no-capabilities $? "effective capabilities"
grep -q '^Seccomp:[[:space:]]*2' /proc/self/status; r seccomp $? "no seccomp filter"
s=1; touch /usr/.ideserver-selftest 2>/dev/null || s=0
r system-read-only $s "/usr is writable"
`

// SelfTest starts a probe (/bin/sh and coreutils) inside the sandbox as
// the server would start a tenant process, and reports what it sees from
// inside: that the workspace is writable (and the working directory is
// translated, see [Cmd.Binds]), that probe.Hidden and the workspace's host
// path (when bound elsewhere) are not visible, that its pid namespace is not
// the server's and the server's process is absent from its /proc, that
// only lo exists with [NetworkNone], that it runs as the tenant's uid (inside,
// and on the host: the owner of the file it wrote), without capabilities, under a seccomp filter,
// and that /usr is read-only. TIOCSTI itself is not probed (sh has no way to
// issue the ioctl; the seccomp check shows the filter that refuses it is in
// place): its check is marked skipped.
//
// With [IsolationNone] nothing runs: the report has one failed check,
// "isolation", saying nothing is isolated. An error means the probe could not
// run or answer (invalid probe: [ErrInvalidCmd]); a failed check is not an
// error. SelfTest blocks until the probe ended, at most 20 s or ctx's
// deadline; it leaves nothing behind but removes the file it wrote in the
// workspace. Safe concurrently with other methods.
func (r *Runner) SelfTest(ctx context.Context, probe SelfTestProbe) (SelfTestReport, error) {
	rep := SelfTestReport{Isolation: r.iso}
	if r.iso == IsolationNone {
		rep.Checks = []SelfTestCheck{{Name: "isolation", Detail: "isolation is none: nothing is isolated"}}
		return rep, nil
	}
	if probe.Owner == "" || len(probe.Binds) == 0 || probe.Binds[0].ReadOnly {
		return rep, fmt.Errorf("self-test: %w: an owner and a writable workspace bind are required", ErrInvalidCmd)
	}
	ws := probe.Binds[0]
	if fi, err := os.Stat(ws.Host); err != nil || !fi.IsDir() {
		return rep, fmt.Errorf("self-test: %w: the workspace is not a directory", ErrInvalidCmd)
	}
	uid := os.Getuid()
	if r.ownerUID != nil {
		u, err := r.ownerUID(probe.Owner)
		if err != nil {
			return rep, fmt.Errorf("self-test: owner identity: %w", err)
		}
		uid = u
	}
	pidns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return rep, fmt.Errorf("self-test: %w", err)
	}
	self, err := readStat(os.Getpid())
	if err != nil {
		return rep, fmt.Errorf("self-test: %w", err)
	}
	name := ".ideserver-selftest-" + r.nonce
	hostFile := filepath.Join(ws.Host, name)
	defer os.Remove(hostFile)
	hidden := append([]string(nil), probe.Hidden...)
	if ws.Target != "" && ws.Target != ws.Host {
		hidden = append(hidden, ws.Host)
	}
	env := []string{
		"PATH=/usr/bin:/bin", "LANG=C", "HOME=" + ws.target(),
		"ST_FILE=" + filepath.Join(ws.target(), name), "ST_DIR=" + ws.target(),
		"ST_PIDNS=" + pidns, "ST_SPID=" + strconv.Itoa(os.Getpid()),
		"ST_SSTART=" + strconv.FormatUint(self.start, 10), "ST_UID=" + strconv.Itoa(uid),
	}
	if probe.Network == NetworkNone {
		env = append(env, "ST_NONET=1")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, selfTestTimeout)
		defer cancel()
	}
	var out lockedWriter
	p, err := r.Start(ctx, Cmd{
		Kind: "selftest", Owner: probe.Owner, Workspace: "selftest",
		Path: "/bin/sh", Args: append([]string{"-c", selfTestScript, "selftest"}, hidden...),
		Env: env, Dir: ws.Host, Stdout: &out, Stderr: &out,
		Network: probe.Network, Binds: probe.Binds,
	})
	if err != nil {
		return rep, fmt.Errorf("self-test: %w", err)
	}
	st, err := p.Wait()
	if err != nil {
		return rep, fmt.Errorf("self-test: %w", err)
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("self-test: %w", ctx.Err())
	}
	got := parseSelfTest(out.String())
	if len(got) == 0 {
		return rep, fmt.Errorf("self-test: probe gave no answer (exit %d)", st.Code)
	}
	for _, n := range selfTestChecks {
		c := SelfTestCheck{Name: n}
		res, answered := got[n]
		switch {
		case n == "tiocsti":
			c.OK, c.Skipped, c.Detail = true, true, "not probeable from sh; see seccomp"
		case n == "network" && probe.Network != NetworkNone:
			c.OK, c.Skipped, c.Detail = true, true, "network allowed: "+probe.Network.String()
		case !answered:
			c.Detail = "no answer from the probe"
		case n == "workspace":
			c.OK, c.Detail = res.ok, res.detail
			if res.ok && !got["workspace-dir"].ok {
				c.OK, c.Detail = false, got["workspace-dir"].detail
			}
			if b, err := os.ReadFile(hostFile); c.OK && (err != nil || string(b) != "probe\n") {
				c.OK, c.Detail = false, "the file written inside is not in the host directory"
			}
		case n == "tenant-uid":
			// bubblewrap nests user namespaces, so the uid_map inside does
			// not show the host uid: the owner of the file it wrote does.
			c.OK, c.Detail = res.ok, res.detail
			if fi, err := os.Stat(hostFile); c.OK && err == nil {
				if sys, ok := fi.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != uid {
					c.OK, c.Detail = false, "files it creates belong to uid "+strconv.Itoa(int(sys.Uid))+" on the host"
				}
			}
		default:
			c.OK, c.Detail = res.ok, res.detail
		}
		rep.Checks = append(rep.Checks, c)
	}
	return rep, nil
}

type selfTestResult struct {
	ok     bool
	detail string
}

// parseSelfTest reads the probe's "name ok" / "name fail detail" lines.
func parseSelfTest(out string) map[string]selfTestResult {
	m := make(map[string]selfTestResult)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), " ")
		verdict, detail, _ := strings.Cut(rest, " ")
		switch verdict {
		case "ok":
			m[name] = selfTestResult{ok: true}
		case "fail":
			m[name] = selfTestResult{detail: detail}
		}
	}
	return m
}

// errSelfTestOutput is returned by lockedWriter when the probe writes too
// much.
var errSelfTestOutput = errors.New("self-test output too long")

// lockedWriter collects the probe's output (up to 64 KiB) for stdout and
// stderr alike.
type lockedWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len()+len(b) > 64<<10 {
		return 0, errSelfTestOutput
	}
	return w.buf.Write(b)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
