package sandbox_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/sandbox"
)

// mountLine is one line of /proc/<pid>/mountinfo: the mounted directory
// of its file system (root) and where it is mounted (point).
type mountLine struct{ root, point string }

// parseMountinfo returns the lines of a mountinfo text.
func parseMountinfo(text string) []mountLine {
	var ms []mountLine
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 {
			ms = append(ms, mountLine{unescapeMount(f[3]), unescapeMount(f[4])})
		}
	}
	return ms
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space...).
func unescapeMount(s string) string {
	return regexp.MustCompile(`\\[0-7]{3}`).ReplaceAllStringFunc(s, func(e string) string {
		var c byte
		_, _ = fmt.Sscanf(e[1:], "%o", &c)
		return string(c)
	})
}

// fsRelative returns host path p as mountinfo shows a bind of it: relative
// to the root of the file system it lies on (found in the test's own
// mountinfo, longest mount point first).
func fsRelative(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	best := mountLine{point: ""}
	for _, m := range parseMountinfo(string(b)) {
		if within(p, m.point) && len(m.point) >= len(best.point) {
			best = m
		}
	}
	rel, err := filepath.Rel(best.point, p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(best.root, rel)
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// swapper exchanges directories with symbolic links to / in a tight
// loop, as a tenant process that owns their parents can: for each of its
// entries, dir/name and dir/name.swap (a link to /) trade places and back
// with renameat2(RENAME_EXCHANGE), through a descriptor of dir, so the
// test itself never renames anything outside its own tree.
type swapper struct {
	dirs  []int // O_PATH descriptors of the parents
	names []string
	stop  atomic.Bool
	wg    sync.WaitGroup
	swaps atomic.Int64
}

func newSwapper(t *testing.T, paths ...string) *swapper {
	t.Helper()
	s := &swapper{}
	for _, p := range paths {
		fd, err := unix.Open(filepath.Dir(p), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/", p+".swap"); err != nil {
			t.Fatal(err)
		}
		s.dirs = append(s.dirs, fd)
		s.names = append(s.names, filepath.Base(p))
	}
	s.wg.Go(func() {
		for !s.stop.Load() {
			for i, fd := range s.dirs {
				// Each exchange is undone at once, so a path is a link for
				// about one system call's time.
				for range 2 {
					if unix.Renameat2(fd, s.names[i], fd, s.names[i]+".swap", unix.RENAME_EXCHANGE) == nil {
						s.swaps.Add(1)
					}
				}
			}
			// A short pause between rounds lets some starts find every
			// source in place (with none, almost every start is refused).
			time.Sleep(50 * time.Microsecond)
		}
	})
	t.Cleanup(s.close)
	return s
}

// close stops the swapping; every directory is back at its path then.
func (s *swapper) close() {
	if s.stop.Swap(true) {
		return
	}
	s.wg.Wait()
	for _, fd := range s.dirs {
		_ = unix.Close(fd)
	}
}

// SBX-01: a tenant process that keeps swapping every bind source it can
// write (HOME, a cache, a directory and its parent bound separately) with
// a symbolic link to / while sandboxes of the same owner start: every
// sandbox mounts exactly the expected sources, or its start is refused
// with a clear error; the host's root is never mounted. A third outcome
// is bubblewrap's own: it mounts an fd source by the path the descriptor
// has at that moment (it cannot mount a descriptor of another user
// namespace), then checks that what it mounted is the descriptor's inode,
// and exits before running the command when it is not (or when the path
// no longer exists).
func TestBwrapBindSourceRace(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "bindrace", sandbox.Limits{})
	own := filepath.Join(e.base, "owner") // writable by the owner: its entries can be swapped
	home, cache := filepath.Join(own, "home"), filepath.Join(own, "cache")
	sub := filepath.Join(own, "sub")
	mod := filepath.Join(sub, "mod")
	for _, d := range []string{own, home, cache, sub, mod} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, testUID, testUID); err != nil {
			t.Fatal(err)
		}
	}
	c := sandbox.Cmd{
		Kind: "run", Owner: "t1", Workspace: "w1",
		Path: "cat", Args: []string{"/proc/self/mountinfo"},
		Env: baseEnv("HOME=" + home), Dir: e.ws,
		Binds: []sandbox.Bind{
			{Host: e.ws, Target: "/workspace"},
			{Host: home, Target: "/home/user"},
			{Host: cache, Target: "/cache"},
			{Host: mod, Target: "/mod", ReadOnly: true},
		},
	}
	want := map[string]string{}
	for _, b := range c.Binds {
		want[b.Target] = fsRelative(t, b.Host)
	}

	// The descriptors the runner opens are bubblewrap's, not the command's,
	// and none the test process inherited reaches it (3 is the shell's
	// listing of the directory).
	fdc := c
	fdc.Path, fdc.Args = "sh", []string{"-c", "cd /proc/self/fd && echo *"}
	out, _ := run(t, r, fdc)
	for _, f := range strings.Fields(out) {
		if n, err := strconv.Atoi(f); err != nil || n > 3 {
			t.Errorf("descriptor %s open in the sandbox (all: %q)", f, out)
		}
	}

	n := 200
	if testing.Short() {
		n = 40
	}
	sw := newSwapper(t, home, cache, sub, mod)
	var (
		mu       sync.Mutex
		started  int
		aborted  = map[string]int{}
		refusals = map[string]int{}
	)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var out lockedBuffer
			cc := c
			cc.Stdout, cc.Stderr = &out, &out
			p, err := r.Start(t.Context(), cc)
			if err != nil {
				if !errors.Is(err, sandbox.ErrInvalidCmd) || strings.Contains(err.Error(), e.base) {
					t.Errorf("start refused with %v", err)
				}
				mu.Lock()
				refusals[strings.TrimPrefix(err.Error(), sandbox.ErrInvalidCmd.Error()+": ")]++
				mu.Unlock()
				return
			}
			st, err := p.Wait()
			if err == nil && st.Code == 1 && bwrapAborted(out.String()) {
				mu.Lock()
				aborted[strings.TrimSpace(out.String())]++
				mu.Unlock()
				return
			}
			if err != nil || st.Code != 0 {
				t.Errorf("sandbox ended with %+v, %v; output:\n%s", st, err, out.String())
				return
			}
			mu.Lock()
			started++
			mu.Unlock()
			seen := map[string]int{}
			for _, m := range parseMountinfo(out.String()) {
				exp, ok := want[m.point]
				if !ok {
					continue
				}
				seen[m.point]++
				// A source renamed away by the swapper at the moment the
				// sandbox reads mountinfo shows under its ".swap" name.
				if got := strings.ReplaceAll(m.root+"/", ".swap/", "/"); got != exp+"/" {
					t.Errorf("%s is mounted from %q, want %q", m.point, m.root, exp)
				}
			}
			for target := range want {
				if seen[target] != 1 {
					t.Errorf("%s mounted %d times:\n%s", target, seen[target], out.String())
				}
			}
		})
	}
	wg.Wait()
	sw.close()
	t.Logf("%d sandboxes started, stopped by bubblewrap %v, refusals %v, %d swaps", started, aborted, refusals, sw.swaps.Load())
	if started == 0 {
		t.Error("no sandbox started while the sources were swapped")
	}
	if sw.swaps.Load() == 0 {
		t.Error("the swapper never swapped")
	}
	for msg := range refusals {
		if !strings.Contains(msg, "symbolic link") && !strings.Contains(msg, "does not exist") {
			t.Errorf("unclear refusal %q", msg)
		}
	}
}

// bwrapAborted reports whether out is bubblewrap's one-line message that
// it stopped while setting up the mounts ("Race condition binding dirfd",
// "Can't find source path", "Can't bind mount"...: the path changed under
// it), so the command never ran.
func bwrapAborted(out string) bool {
	out = strings.TrimSpace(out)
	return !strings.Contains(out, "\n") && strings.HasPrefix(out, "bwrap: ")
}

// SBX-02: a bind whose source is, or lies inside, another read-write
// bind's source is refused, naming both binds by their Target and no host
// path; read-only binds may nest.
func TestBindNestedInWritableRefused(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	inner := filepath.Join(e.ws, "go", "pkg", "mod")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(inner, testUID, testUID); err != nil {
		t.Fatal(err)
	}
	r := newIsoRunner(t, "nested", sandbox.Limits{})
	start := func(binds ...sandbox.Bind) error {
		c := e.sh("true")
		c.Binds = binds
		p, err := r.Start(t.Context(), c)
		if err == nil {
			_, err = p.Wait()
		}
		return err
	}
	for _, tc := range []struct {
		name  string
		binds []sandbox.Bind
		names []string // the targets the error must name
	}{
		{"read-only inside read-write", []sandbox.Bind{{Host: e.ws, Target: "/home/user"}, {Host: inner, Target: "/gomodcache", ReadOnly: true}}, []string{"/gomodcache", "/home/user"}},
		{"read-write inside read-write", []sandbox.Bind{{Host: inner, Target: "/gomodcache"}, {Host: e.ws, Target: "/home/user"}}, []string{"/gomodcache", "/home/user"}},
		{"same source twice", []sandbox.Bind{{Host: e.ws, Target: "/a", ReadOnly: true}, {Host: e.ws, Target: "/b"}}, []string{"/a", "/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := start(tc.binds...)
			if !errors.Is(err, sandbox.ErrInvalidCmd) {
				t.Fatalf("err = %v, want ErrInvalidCmd", err)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
			if strings.Contains(err.Error(), e.base) {
				t.Errorf("error names a host path: %v", err)
			}
		})
	}
	t.Run("read-only path inside read-write", func(t *testing.T) {
		ro, err := sandbox.New(sandbox.Options{
			Instance: instancePrefix + "nested-ro", Isolation: sandbox.IsolationBwrap,
			OwnerUID:      func(string) (int, error) { return testUID, nil },
			ReadOnlyPaths: []string{inner}, Logger: testLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		_, err = ro.Start(t.Context(), e.sh("true"))
		if !errors.Is(err, sandbox.ErrInvalidCmd) || strings.Contains(err.Error(), e.base) {
			t.Errorf("err = %v, want ErrInvalidCmd without a host path", err)
		}
	})
	for _, tc := range []struct {
		name  string
		binds []sandbox.Bind
	}{
		{"read-write inside read-only", []sandbox.Bind{{Host: e.ws, Target: "/home/user", ReadOnly: true}, {Host: inner, Target: "/gomodcache"}}},
		{"read-only inside read-only", []sandbox.Bind{{Host: e.ws, Target: "/home/user", ReadOnly: true}, {Host: inner, Target: "/gomodcache", ReadOnly: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := start(tc.binds...); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}

// SBX-01: a bind source that is, or passes through, a symbolic link is
// refused with a clear error that holds no host path, even when the link
// leads back into the same tree.
func TestBwrapBindSymlinkRefused(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "bindlink", sandbox.Limits{})
	if err := os.Symlink(e.ws, filepath.Join(e.base, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(e.ws, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{filepath.Join(e.base, "link"), filepath.Join(e.base, "link", "sub")} {
		c := e.sh("true")
		c.Binds = []sandbox.Bind{{Host: e.ws}, {Host: host, Target: "/linked", ReadOnly: true}}
		_, err := r.Start(t.Context(), c)
		if !errors.Is(err, sandbox.ErrInvalidCmd) || !strings.Contains(err.Error(), "symbolic link") ||
			!strings.Contains(err.Error(), "/linked") || strings.Contains(err.Error(), e.base) {
			t.Errorf("bind through a link: %v", err)
		}
	}
}

// SBX-07: inside a sandbox, /proc/1/cmdline and the environment (its own
// and pid 1's) hold no host data-directory path, and the marker variable
// only the instance and process id. With the data directory on a file
// system of its own (a tmpfs the test mounts), mountinfo holds none
// either; on the root file system mountinfo shows bind sources as full
// paths, which the Bind documentation states.
func TestBwrapNoHostPathsInside(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "hostpaths", sandbox.Limits{})
	script := `cat /proc/1/cmdline; echo; echo ENV; cat /proc/self/environ; echo; echo PID1ENV; cat /proc/1/environ; echo; echo MOUNTS; cat /proc/self/mountinfo`
	check := func(t *testing.T, data string, ownFS bool) {
		ws, home := filepath.Join(data, "ws"), filepath.Join(data, "home")
		for _, d := range []string{ws, home} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(d, testUID, testUID); err != nil {
				t.Fatal(err)
			}
		}
		c := sandbox.Cmd{
			Kind: "run", Owner: "t1", Workspace: "w1",
			Path: "sh", Args: []string{"-c", script},
			Env: baseEnv("HOME="+home, "GOPATH="+home+"/go", "WS="+ws+"/sub", "PATH=/usr/bin:"+home+"/go/bin"),
			Dir: ws,
			Binds: []sandbox.Bind{
				{Host: ws, Target: "/workspace"},
				{Host: home, Target: "/home/user"},
			},
		}
		out, st := run(t, r, c)
		if st.Code != 0 {
			t.Fatalf("exit %+v; output:\n%s", st, out)
		}
		head, mounts, _ := strings.Cut(out, "\nMOUNTS\n")
		cmdline, env, _ := strings.Cut(head, "\nENV\n")
		if !strings.Contains(cmdline, "bwrap\x00--args\x00") {
			t.Errorf("pid 1's command line %q", cmdline)
		}
		for _, leak := range []string{data, e.base} {
			if strings.Contains(cmdline, leak) {
				t.Errorf("/proc/1/cmdline holds %s: %q", leak, cmdline)
			}
			if strings.Contains(env, leak) {
				t.Errorf("the environment holds %s: %q", leak, env)
			}
		}
		if !strings.Contains(env, "HOME=/home/user\x00") || !strings.Contains(env, "WS=/workspace/sub\x00") {
			t.Errorf("environment not translated: %q", env)
		}
		marker := regexp.MustCompile(sandbox.MarkerVar+`=([^\x00]*)`).FindAllStringSubmatch(env, -1)
		if len(marker) != 2 {
			t.Errorf("marker entries %q, want one in each environment", marker)
		}
		for _, m := range marker {
			if !regexp.MustCompile(`^` + regexp.QuoteMeta(instancePrefix+"hostpaths") + `/[0-9a-f]+-[0-9]+$`).MatchString(m[1]) {
				t.Errorf("marker %q holds more than the instance and the process id", m[1])
			}
		}
		if ownFS && strings.Contains(mounts, data) {
			t.Errorf("mountinfo holds %s although it is a file system of its own:\n%s", data, mounts)
		}
		if !ownFS {
			t.Logf("on the root file system, mountinfo shows the data directory: %v", strings.Contains(mounts, data))
		}
	}
	t.Run("data on its own file system", func(t *testing.T) {
		data := filepath.Join(e.base, "datafs")
		if err := os.Mkdir(data, 0o711); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", data, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=8m,mode=0711"); err != nil {
			t.Skipf("cannot mount a tmpfs: %v", err)
		}
		t.Cleanup(func() { _ = unix.Unmount(data, unix.MNT_DETACH) })
		check(t, data, true)
	})
	t.Run("data on the root file system", func(t *testing.T) {
		check(t, e.data, false)
	})
}
