package sandbox

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestBwrapArgs(t *testing.T) {
	c := &Cmd{Kind: "run", Owner: "t", Dir: "/srv/ws/a/sub", Binds: []Bind{{Host: "/srv/ws/a"}, {Host: "/srv/cache", ReadOnly: true}}}
	a, err := bwrapArgs(c, []string{"/opt/go"}, 1234, false, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	s := " " + strings.Join(a, " ") + " "
	for _, want := range []string{
		" --unshare-user ", " --unshare-pid ", " --unshare-net ", " --new-session ", " --die-with-parent ",
		" --cap-drop ALL ", " --uid 1234 --gid 1234 ", " --bind-fd 11 /srv/ws/a ",
		" --ro-bind-fd 12 /srv/cache ", " --ro-bind-fd 10 /opt/go ", " --size 1048576 --perms 1777 --tmpfs /tmp ",
		" --proc /proc ", " --dev /dev ", " --chdir /srv/ws/a/sub ", " --seccomp 3 ", " --remount-ro / ",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("args lack %q: %s", want, s)
		}
	}
	// SBX-08, RUN-03: outbound without slirp4netns (userNet false) fails
	// closed: a network namespace of its own, never the host's.
	c.Network = NetworkOutbound
	if a, _ = bwrapArgs(c, nil, -1, false, -1); !slices.Contains(a, "--unshare-net") {
		t.Errorf("outbound without slirp4netns shares the host's network: %v", a)
	}
	c.Network, c.PTY = NetworkFull, &Winsize{Cols: 80, Rows: 24}
	a, _ = bwrapArgs(c, nil, -1, false, -1)
	for _, bad := range []string{"--unshare-net", "--new-session", "--uid", "--size"} {
		if slices.Contains(a, bad) {
			t.Errorf("args hold %s: %v", bad, a)
		}
	}
	c.Dir = "/srv/ws/b"
	if _, err := bwrapArgs(c, nil, -1, false, -1); err == nil {
		t.Error("dir outside every bind accepted")
	} else if strings.Contains(err.Error(), "/srv") {
		t.Errorf("error names a host path: %v", err)
	}
}

func TestSeccompProgram(t *testing.T) {
	for _, ptrace := range []bool{false, true} {
		p, err := seccompProgram(ptrace)
		if err == errNoSeccomp {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(p)%8 != 0 || len(p) < 8*10 || len(p) > 8*4096 {
			t.Errorf("program of %d bytes", len(p))
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"ws-1_a.b": "ws-1_a.b", "..": "", "a/b": "", "": ""} {
		got := safeName(in)
		if want != "" && got != want || want == "" && (got == in || strings.ContainsAny(got, "/.")) {
			t.Errorf("safeName(%q) = %q", in, got)
		}
	}
}

func TestCgroupSweep(t *testing.T) {
	h := detectCgroups("sbtest-internal-sweep", Limits{Pids: 10}.withDefaults(), slog.New(slog.DiscardHandler))
	defer h.close()
	if h.support().Kill == "" {
		t.Skip("no usable cgroups on this host")
	}
	cg, err := h.create("w1", "old-1")
	if err != nil {
		t.Fatal(err)
	}
	mine, err := h.create("w1", "new-1")
	if err != nil {
		t.Fatal(err)
	}
	if n := h.sweep("new"); n != 0 {
		t.Errorf("sweep killed %d in empty cgroups", n)
	}
	for _, d := range cg.dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("stale cgroup %s not removed", d)
		}
	}
	for _, d := range mine.dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("own cgroup %s removed", d)
		}
	}
	mine.remove()
}

func TestCgroupLimitsWritten(t *testing.T) {
	h := detectCgroups("sbtest-internal-limits", Limits{Pids: 77, Memory: 64 << 20, CPU: 1500}.withDefaults(), slog.New(slog.DiscardHandler))
	defer h.close()
	cg, err := h.create("w1", "x-1")
	if err != nil {
		t.Fatal(err)
	}
	defer cg.remove()
	want := map[string]string{}
	switch h.support().Pids {
	case "v1", "v2":
		want["pids.max"] = "77"
	}
	switch h.support().CPU {
	case "v1":
		want["cpu.cfs_quota_us"] = "150000"
	case "v2":
		want["cpu.max"] = "150000 100000"
	}
	switch h.support().Memory {
	case "v1":
		want["memory.limit_in_bytes"] = "67108864"
	case "v2":
		want["memory.max"] = "67108864"
	}
	if len(want) == 0 {
		t.Skip("no cgroup limits on this host")
	}
	for f, v := range want {
		found := false
		for _, d := range cg.ws {
			if b, err := os.ReadFile(d + "/" + f); err == nil {
				found = true
				if strings.TrimSpace(string(b)) != v {
					t.Errorf("%s = %q, want %q", f, b, v)
				}
			}
		}
		if !found {
			t.Errorf("%s not found", f)
		}
	}
}

func TestSandboxPath(t *testing.T) {
	binds := []Bind{{Host: "/srv/ws/a", Target: "/workspace"}, {Host: "/srv/ws/a/vendor", Target: "/vendor"}, {Host: "/srv/home"}}
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"bind root", "/srv/ws/a", "/workspace", true},
		{"below bind", "/srv/ws/a/sub/x", "/workspace/sub/x", true},
		{"longest host wins", "/srv/ws/a/vendor/m", "/vendor/m", true},
		{"no target", "/srv/home/.cache", "/srv/home/.cache", true},
		{"read-only path", "/opt/go/bin", "/opt/go/bin", true},
		{"sibling prefix", "/srv/ws/ab", "/srv/ws/ab", false},
		{"outside", "/srv/data", "/srv/data", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sandboxPath(tc.in, binds, []string{"/opt/go"})
			if got != tc.want || ok != tc.ok {
				t.Errorf("sandboxPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestBwrapArgsTarget(t *testing.T) {
	c := &Cmd{Kind: "run", Owner: "t", Dir: "/srv/ws/a/sub", Binds: []Bind{{Host: "/srv/ws/a", Target: "/workspace"}, {Host: "/srv/gmc", Target: "/gomodcache", ReadOnly: true}}}
	a, err := bwrapArgs(c, nil, -1, false, -1)
	if err != nil {
		t.Fatal(err)
	}
	s := " " + strings.Join(a, " ") + " "
	for _, want := range []string{" --bind-fd 10 /workspace ", " --ro-bind-fd 11 /gomodcache ", " --chdir /workspace/sub "} {
		if !strings.Contains(s, want) {
			t.Errorf("args lack %q: %s", want, s)
		}
	}
}

func TestIdentityFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    []string
		uid    int
		passwd string
	}{
		{"tenant", []string{"USER=acme", "HOME=/home/user"}, 200001, "acme:x:200001:200001:acme:/home/user:/bin/bash\n"},
		{"odd user name", []string{"USER=Ac:me\n", "HOME=/home/user"}, 200001, "user:x:200001:200001:user:/home/user:/bin/bash\n"},
		{"relative home", []string{"HOME=home"}, 200001, "user:x:200001:200001:user:/:/bin/bash\n"},
		{"root user name", []string{"USER=root"}, 200001, "user:x:200001:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw, gr := identityFiles(tc.env, tc.uid)
			if !strings.Contains(string(pw), tc.passwd) || strings.Count(string(pw), "\n") != 3 || strings.Count(string(gr), "\n") != 3 {
				t.Errorf("passwd %q group %q, want a line %q", pw, gr, tc.passwd)
			}
		})
	}
	if pw, _ := identityFiles([]string{"USER=acme"}, 0); strings.Count(string(pw), "\n") != 2 || strings.Contains(string(pw), "acme") {
		t.Errorf("uid 0: passwd %q, want root and nobody only", pw)
	}
}

func TestTranslateEnv(t *testing.T) {
	binds := []Bind{{Host: "/data/ws/1", Target: "/workspace"}, {Host: "/data/t/home", Target: "/home/user"}, {Host: "/data/t/home/go/pkg/mod", Target: "/gomodcache"}}
	got := translateEnv([]string{
		"HOME=/data/t/home", "GOMODCACHE=/data/t/home/go/pkg/mod", "PATH=/data/t/home/bin:/usr/bin",
		"X=/data/ws/10", "Y=relative/data/ws/1", "Z=a=b", "EMPTY=",
	}, binds)
	want := []string{
		"HOME=/home/user", "GOMODCACHE=/gomodcache", "PATH=/home/user/bin:/usr/bin",
		"X=/data/ws/10", "Y=relative/data/ws/1", "Z=a=b", "EMPTY=",
	}
	if !slices.Equal(got, want) {
		t.Errorf("translateEnv = %q, want %q", got, want)
	}
}
