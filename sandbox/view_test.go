package sandbox_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/sandbox"
)

// newViewRunner returns a bwrap runner whose processes run as testUID,
// the owner of e.data (standing in for the tenant's HOME).
func newViewRunner(t *testing.T, e isoEnv) *sandbox.Runner {
	t.Helper()
	needBwrap(t)
	if err := os.Chown(e.data, testUID, testUID); err != nil {
		t.Fatal(err)
	}
	r, err := sandbox.New(sandbox.Options{
		Instance:  instancePrefix + "view",
		KillGrace: testGrace,
		Isolation: sandbox.IsolationBwrap,
		OwnerUID:  func(string) (int, error) { return testUID, nil },
		Logger:    testLogger(t),
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

// viewBinds are the binds of a workspace process in e, as
// workspace.Handle.Start gives them: e.ws at /workspace, e.data at
// /home/user.
func viewBinds(e isoEnv) []sandbox.Bind {
	return []sandbox.Bind{{Host: e.data, Target: "/home/user"}, {Host: e.ws, Target: "/workspace"}}
}

// TestBwrapView checks that Cmd.Binds are mounted at their
// targets and that Dir, Path and host paths in Env are translated, so the
// process never sees a host path; and that it has a user of its own.
func TestBwrapView(t *testing.T) {
	e := newIsoEnv(t)
	r := newViewRunner(t, e)
	script := filepath.Join(e.ws, "probe.sh")
	if err := os.WriteFile(script, []byte(`echo "home=$HOME cache=$GOCACHE path=$PATH pwd=$(pwd) user=$(id -un) $(grep -c . /etc/passwd)"
ls /workspace/secret
echo x > "$HOME/written"
`), 0o755); err != nil {
		t.Fatal(err)
	}
	c := sandbox.Cmd{
		Kind: "run", Owner: "t1", Workspace: "w1",
		Path: script,
		Env: baseEnv("HOME="+e.data, "GOCACHE="+filepath.Join(e.data, ".cache"), "USER=alice",
			"PATH="+filepath.Join(e.data, "bin")+":/usr/bin:/bin"),
		Dir:   e.ws,
		Binds: viewBinds(e),
	}
	out, st := run(t, r, c)
	if st.Code != 0 {
		t.Fatalf("exit %d: %s", st.Code, out)
	}
	want := "home=/home/user cache=/home/user/.cache path=/home/user/bin:/usr/bin:/bin pwd=/workspace user=alice 3"
	if !strings.Contains(out, want) || !strings.Contains(out, "/workspace/secret") {
		t.Errorf("output %q, want %q and /workspace/secret", out, want)
	}
	if strings.Contains(out, e.base) {
		t.Errorf("the process saw a host path: %q", out)
	}
	if _, err := os.Stat(filepath.Join(e.data, "written")); err != nil {
		t.Errorf("HOME is not the bound host directory: %v", err)
	}
}

// TestViewPathOfBinds: the pure ViewPath maps below the longest bind's
// host to its target and leaves other paths alone.
func TestViewPathOfBinds(t *testing.T) {
	binds := []sandbox.Bind{
		{Host: "/data/ws/w1", Target: "/workspace"},
		{Host: "/data/home", Target: "/home/user"},
		{Host: "/data/home/go/pkg/mod/cache", Target: "/cache", ReadOnly: true},
		{Host: "/opt/tools"},
	}
	for host, want := range map[string]string{
		"/data/ws/w1":                   "/workspace",
		"/data/ws/w1/a/b.go":            "/workspace/a/b.go",
		"/data/ws/w10":                  "/data/ws/w10",
		"/data/home/go/pkg/mod/x":       "/home/user/go/pkg/mod/x",
		"/data/home/go/pkg/mod/cache/d": "/cache/d",
		"/opt/tools/gopls":              "/opt/tools/gopls",
		"/usr/local/go":                 "/usr/local/go",
	} {
		if got := sandbox.ViewPath(binds, host); got != want {
			t.Errorf("ViewPath(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestOwnerUIDs: a runner with Options.OwnerUID runs owners as its uid;
// a direct runner runs everyone as the server's.
func TestOwnerUIDs(t *testing.T) {
	e := newIsoEnv(t)
	r := newViewRunner(t, e)
	if uid, ok, err := r.OwnerUID("t1"); uid != testUID || !ok || err != nil {
		t.Errorf("OwnerUID = %d, %v, %v; want %d, true", uid, ok, err, testUID)
	}

	direct := newRunner(t, "view-direct")
	if uid, ok, err := direct.OwnerUID("t1"); uid != os.Getuid() || ok || err != nil {
		t.Errorf("direct OwnerUID = %d, %v, %v", uid, ok, err)
	}
}

// TestOwns checks Process.Owns and UID: bubblewrap's pid is the main pid,
// the command inside is a descendant, the server is not.
func TestOwns(t *testing.T) {
	e := newIsoEnv(t)
	r := newViewRunner(t, e)
	var out lockedBuffer
	c := sandbox.Cmd{
		Kind: "run", Owner: "t1", Workspace: "w1", Path: "sh",
		Args: []string{"-c", "sleep 60 & echo started; wait"},
		Env:  baseEnv(), Dir: e.ws, Stdout: &out, Binds: viewBinds(e),
	}
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	eventually(t, "the command started", func() bool { return strings.Contains(out.String(), "started") })
	if p.UID() != testUID {
		t.Errorf("UID = %d, want %d", p.UID(), testUID)
	}
	var sleeper int
	eventually(t, "the sleep is found", func() bool {
		for _, pid := range descendants(p.Pid()) {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
				sleeper = pid
				return true
			}
		}
		return false
	})
	for _, tc := range []struct {
		pid  int
		want bool
	}{{p.Pid(), true}, {sleeper, true}, {os.Getpid(), false}, {1, false}, {0, false}} {
		if got := p.Owns(tc.pid); got != tc.want {
			t.Errorf("Owns(%d) = %v, want %v", tc.pid, got, tc.want)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.Owns(sleeper) {
		t.Error("Owns is true after Close")
	}
}

// descendants returns every process below pid.
func descendants(pid int) []int {
	var out []int
	for _, c := range childrenOf(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
}

// TestBwrapUserNetwork: a NetworkOutbound process has a network of its
// own (slirp4netns) that reaches the outside but not the host's loopback,
// where the server and other local services listen.
func TestBwrapUserNetwork(t *testing.T) {
	needBwrap(t)
	if _, err := os.Stat("/usr/bin/slirp4netns"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("slirp4netns is not installed (CI is set)")
		}
		t.Skip("slirp4netns is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	e := newIsoEnv(t)
	r := newIsoRunner(t, "usernet", sandbox.Limits{})
	probe := func(host, port string) string {
		return `if timeout 5 bash -c 'exec 3<>/dev/tcp/` + host + `/` + port + `' 2>/dev/null; then echo "` + host + ` open"; else echo "` + host + ` closed"; fi; `
	}
	c := e.sh(`tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ,; echo; ` +
		probe("127.0.0.1", port) + probe("10.0.2.2", port) + `cat /etc/resolv.conf`)
	c.Network = sandbox.NetworkOutbound
	out, _ := run(t, r, c)
	for _, want := range []string{"lo,tap0,", "127.0.0.1 closed", "10.0.2.2 closed", "nameserver 10.0.2.3"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q, want %q", out, want)
		}
	}

	// The outside is reachable when the host reaches it (the module proxy).
	if conn, err := net.DialTimeout("tcp", "proxy.golang.org:443", 5*time.Second); err != nil {
		t.Logf("the host cannot reach proxy.golang.org (%v): outbound check skipped", err)
		return
	} else {
		_ = conn.Close()
	}
	c = e.sh(`getent hosts proxy.golang.org >/dev/null && echo resolved; ` + probe("proxy.golang.org", "443"))
	c.Network = sandbox.NetworkOutbound
	if out, _ := run(t, r, c); !strings.Contains(out, "resolved") || !strings.Contains(out, "proxy.golang.org open") {
		t.Errorf("outbound from the sandbox: %q", out)
	}
}

// TestNetworksByKind: Options.Networks overrides Cmd.Network by kind.
func TestNetworksByKind(t *testing.T) {
	needBwrap(t)
	e := newIsoEnv(t)
	r, err := sandbox.New(sandbox.Options{
		Instance: instancePrefix + "netkind", KillGrace: testGrace, Isolation: sandbox.IsolationBwrap,
		OwnerUID: func(string) (int, error) { return testUID, nil },
		Networks: map[string]sandbox.Network{"run": sandbox.NetworkNone},
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	c := e.sh(`tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,`)
	c.Network = sandbox.NetworkFull
	if out, _ := run(t, r, c); out != "lo," {
		t.Errorf("kind run with Networks none sees %q, want only lo", out)
	}
}
