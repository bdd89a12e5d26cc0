package terminal_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/terminal"
)

const waitShort = 15 * time.Second // bound for events that normally take milliseconds

// instancePrefix starts the Instance of every runner these tests create, so
// TestMain can check that none of their processes survive.
var instancePrefix = "termtest-" + strconv.Itoa(os.Getpid()) + "-"

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
		if pids := markedPids(instancePrefix); len(pids) > 0 {
			fmt.Fprintln(os.Stderr, "processes of these tests survived:", pids)
			code = 1
		}
	}
	os.Exit(code)
}

// markedPids lists live processes whose sandbox marker starts with prefix.
func markedPids(prefix string) []int {
	want := []byte(sandbox.MarkerVar + "=" + prefix)
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue // a zombie is dead
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.HasPrefix(kv, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

var instSeq struct {
	sync.Mutex
	n int
}

// env is one test's manager with its runner, instance and workspace.
type env struct {
	m        *terminal.Manager
	runner   *sandbox.Runner
	instance string
	dir      string
}

func newEnv(tb testing.TB, mutate ...func(*terminal.Options)) *env {
	tb.Helper()
	instSeq.Lock()
	instSeq.n++
	instance := instancePrefix + strconv.Itoa(instSeq.n)
	instSeq.Unlock()
	r, err := sandbox.New(sandbox.Options{Instance: instance, KillGrace: 300 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	home := tb.TempDir()
	dir := tb.TempDir()
	opts := terminal.Options{
		Runner: r,
		Env: func(tenant string, extra ...string) ([]string, error) {
			e := []string{"HOME=" + home, "PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin", "USER=" + tenant, "PS1=$ "}
			return append(e, extra...), nil
		},
		Dir: func(string) string { return dir },
	}
	for _, f := range mutate {
		f(&opts)
	}
	m, err := terminal.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{m: m, runner: r, instance: instance, dir: dir}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitShort)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			tb.Errorf("close manager: %v", err)
		}
		if err := r.Close(); err != nil {
			tb.Errorf("close runner: %v", err)
		}
	})
	return e
}

// create starts a terminal of tenant "t1" in workspace "w1".
func (e *env) create(tb testing.TB, o terminal.CreateOptions) *terminal.Session {
	tb.Helper()
	info, err := e.m.Create(context.Background(), "t1", "w1", o)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := e.m.Get("t1", "w1", info.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// client is a fake attached client: it records output bytes and control
// messages, and sends input. With stall set its writes block until
// unstalled.
type client struct {
	in     chan msg
	mu     sync.Mutex
	out    bytes.Buffer
	ctrl   []string
	notify chan struct{}
	stall  chan struct{} // when non-nil, WriteMessage waits for it to close
	done   chan struct{} // closed by CloseRead
	once   sync.Once
	result chan error // Attach's result
}

type msg struct {
	binary bool
	data   []byte
}

func (c *client) ReadMessage() (bool, []byte, error) {
	select {
	case m := <-c.in:
		return m.binary, m.data, nil
	case <-c.done:
		return false, nil, fmt.Errorf("read closed")
	}
}

func (c *client) WriteMessage(binary bool, data []byte) error {
	if c.stall != nil {
		select {
		case <-c.stall:
		case <-c.done:
			return fmt.Errorf("write closed")
		}
	}
	c.mu.Lock()
	if binary {
		c.out.Write(data)
	} else {
		c.ctrl = append(c.ctrl, string(data))
	}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

func (c *client) CloseRead() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// attach starts Attach of a new client in a goroutine.
func attach(tb testing.TB, s *terminal.Session, stalled bool) *client {
	tb.Helper()
	c := &client{in: make(chan msg, 64), notify: make(chan struct{}, 1), done: make(chan struct{}), result: make(chan error, 1)}
	if stalled {
		c.stall = make(chan struct{})
	}
	go func() { c.result <- s.Attach(context.Background(), c) }()
	tb.Cleanup(func() { c.detach(tb) })
	return c
}

// detach ends the attachment as a vanished client would and waits for
// Attach to return.
func (c *client) detach(tb testing.TB) error {
	tb.Helper()
	_ = c.CloseRead()
	return c.wait(tb, "return after the client went away")
}

// wait waits for Attach to return and gives its result (kept for later
// calls); if it does not, the test fails with "Attach did not " + what.
func (c *client) wait(tb testing.TB, what string) error {
	tb.Helper()
	select {
	case err := <-c.result:
		c.result <- err
		return err
	case <-time.After(waitShort):
		tb.Fatal("Attach did not " + what)
		return nil
	}
}

func (c *client) send(s string) { c.in <- msg{binary: true, data: []byte(s)} }

func (c *client) control(s string) { c.in <- msg{data: []byte(s)} }

func (c *client) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *client) controls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ctrl...)
}

// waitFor waits until cond holds on the client's state.
func (c *client) waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	timeout := time.After(waitShort)
	for !cond() {
		select {
		case <-c.notify:
		case <-timeout:
			tb.Fatalf("timed out waiting for %s; output %q; control %q", what, tail(c.output()), c.controls())
		}
	}
}

// expect waits until the output holds s.
func (c *client) expect(tb testing.TB, s string) {
	tb.Helper()
	c.waitFor(tb, fmt.Sprintf("%q", s), func() bool { return strings.Contains(c.output(), s) })
}

func tail(s string) string {
	if len(s) > 400 {
		return "..." + s[len(s)-400:]
	}
	return s
}
