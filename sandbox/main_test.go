package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/sandbox"
)

const (
	waitShort = 10 * time.Second // bound for events that normally take milliseconds
	testGrace = 300 * time.Millisecond
	helperArg = "sandbox-test-helper"
)

// instancePrefix starts the Instance of every runner these tests create, so
// TestMain can check that none of their processes survive.
var instancePrefix = "sbtest-" + strconv.Itoa(os.Getpid()) + "-"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		if strings.HasPrefix(os.Args[2], isoHelperPrefix) {
			os.Exit(isoHelper(os.Args[2]))
		}
		os.Exit(helperMain(os.Args[2]))
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
		// SIGKILLs sent by the last tests' cleanups may still be in flight.
		deadline := time.Now().Add(3 * time.Second)
		pids := markedPids(sandbox.MarkerVar + "=" + instancePrefix)
		for len(pids) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			pids = markedPids(sandbox.MarkerVar + "=" + instancePrefix)
		}
		if len(pids) > 0 {
			fmt.Fprintln(os.Stderr, "processes of these tests survived:", pids)
			code = 1
		}
	}
	os.Exit(code)
}

// helperMain plays a server that starts a sandboxed sleep, prints its pid
// and waits to be killed (see TestPdeathsig).
func helperMain(instance string) int {
	r, err := sandbox.New(sandbox.Options{Instance: instance})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	p, err := r.Start(context.Background(), sandbox.Cmd{
		Kind: "run", Owner: "t1", Path: "sleep", Args: []string{"1000"},
		Env: baseEnv(), Dir: "/",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(p.Pid())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until killed
	_ = r.Close()
	return 0
}

func baseEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"}, extra...)
}

// markedPids returns running processes with an environment entry that
// starts with prefix.
func markedPids(prefix string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for kv := range bytes.SplitSeq(b, []byte{0}) {
			if bytes.HasPrefix(kv, []byte(prefix)) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// alive reports whether pid runs (exists and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z' && b[i+2] != 'X'
}

// eventually polls cond until it holds or waitShort passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitShort)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newRunner returns a Runner closed at the end of the test, logging through t.
func newRunner(t *testing.T, name string) *sandbox.Runner {
	t.Helper()
	r, err := sandbox.New(sandbox.Options{
		Instance:  instancePrefix + name,
		KillGrace: testGrace,
		Logger:    testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("runner close: %v", err)
		}
		if n := r.Count(); n != 0 {
			t.Errorf("Count after Close = %d", n)
		}
	})
	return r
}

// testLogger logs through t and fails the test on an Error record; records
// after the test's cleanups ran are dropped.
func testLogger(t *testing.T) *slog.Logger {
	h := &tlogHandler{t: t, mu: new(sync.Mutex), over: new(bool)}
	t.Cleanup(func() { h.mu.Lock(); *h.over = true; h.mu.Unlock() })
	return slog.New(h)
}

type tlogHandler struct {
	t     *testing.T
	mu    *sync.Mutex
	over  *bool
	attrs []slog.Attr
}

func (h *tlogHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *tlogHandler) WithGroup(string) slog.Handler            { return h }
func (h *tlogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &h2
}

func (h *tlogHandler) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s", a)
	}
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s", a); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	if *h.over {
		return nil
	}
	h.t.Log(b.String())
	if rec.Level >= slog.LevelError {
		h.t.Errorf("unexpected error log: %s", b.String())
	}
	return nil
}

// readPids waits until each named file in dir holds a pid and returns them.
func readPids(t *testing.T, dir string, names ...string) map[string]int {
	t.Helper()
	pids := make(map[string]int)
	eventually(t, "pid files "+strings.Join(names, ","), func() bool {
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
				return false
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return false
			}
			pids[n] = pid
		}
		return true
	})
	return pids
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
