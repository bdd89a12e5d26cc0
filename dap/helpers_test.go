package dap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

const waitLong = 60 * time.Second // bound for a debug build and launch

// requireDlv returns the pinned dlv (go tool -n dlv in ../tools); it fails
// when CI is set and dlv is unavailable, else skips.
func requireDlv(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("go", "tool", "-n", "dlv")
	cmd.Dir = filepath.Join("..", "tools")
	out, err := cmd.Output()
	p := strings.TrimSpace(string(out))
	if err == nil {
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("dlv unavailable: %v", err)
	}
	t.Skipf("dlv unavailable: %v", err)
	return ""
}

func goEnv(t testing.TB, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// fixture is a manager with one workspace.
type fixture struct {
	t           testing.TB
	m           *dap.Manager
	runner      *sandbox.Runner
	workspaces  *wstest.Env
	h           *workspace.Handle // the workspace's handle (Manager.Open)
	owner       string            // h.Owner.Key()
	workspaceID string            // h.WorkspaceID
	tmp         string            // the manager's RunDir
	secrets     []string
}

const helloMain = `package main

import "fmt"

func main() {
	msg := "Hello, ideserver!"
	fmt.Println(msg)
	n := len(msg)
	fmt.Println("len", n)
}
`

const helloTest = `package main

import "testing"

func TestHello(t *testing.T) {
	want := 17
	if got := len("Hello, ideserver!"); got != want {
		t.Fatalf("len = %d", got)
	}
	t.Log("tested")
}
`

func newFixture(t testing.TB, dlv string, files map[string]string) *fixture {
	t.Helper()
	return newFixtureWith(t, dlv, files, nil)
}

// newFixtureWith is newFixture with a hook that completes the manager's
// Options (e.g. Terminals) before New.
func newFixtureWith(t testing.TB, dlv string, files map[string]string, hook func(*sandbox.Runner, *wstest.Env, *dap.Options)) *fixture {
	t.Helper()
	return newFixtureMode(t, dlv, files, false, hook)
}

// newFixtureMode is newFixtureWith on a real workspace.Manager
// (internal/wstest) whose runner, when bwrap is set, runs the user inside
// bubblewrap as isotest.UID (see isolate). The user's build cache starts
// empty, and the users' shared build cache (sharedCache) holds fmt and
// testing prebuilt, as on a server: without it every debug build would
// compile the runtime.
func newFixtureMode(t testing.TB, dlv string, files map[string]string, bwrap bool, hook func(*sandbox.Runner, *wstest.Env, *dap.Options)) *fixture {
	t.Helper()
	return newFixtureOpts(t, dlv, files, fixtureOptions{bwrap: bwrap, hook: hook})
}

// fixtureOptions are newFixtureOpts's choices.
type fixtureOptions struct {
	bwrap bool                                             // the user runs inside bubblewrap
	hook  func(*sandbox.Runner, *wstest.Env, *dap.Options) // completes the Options
	// cold gives the user no shared build cache unless buildCache is
	// set (else the package's, sharedCache).
	cold       bool
	buildCache *workspace.BuildCache
}

// newFixtureOpts is newFixtureMode with every choice of fixtureOptions.
func newFixtureOpts(t testing.TB, dlv string, files map[string]string, fo fixtureOptions) *fixture {
	t.Helper()
	bwrap, hook := fo.bwrap, fo.hook
	goroot, gocache := goEnv(t, "GOROOT"), goEnv(t, "GOCACHE")
	wo := wstest.Options{GoRoot: goroot, BuildCache: fo.buildCache}
	if bwrap {
		if why := isotest.Unavailable(); why != "" {
			t.Skip(why)
		}
		dlv = isolate(t, dlv, &wo)
	}
	if !fo.cold && wo.BuildCache == nil {
		wo.BuildCache = sharedCache(t, bwrap)
	}
	e := wstest.New(t, wo)
	h := e.Handle(t, workspace.Owner{Tenant: "tenant1", User: "u1"}, files)

	tmp := filepath.Join(e.Data, "run")
	if err := os.MkdirAll(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	opts := dap.Options{
		Runner: e.Runner,
		Dlv:    func(context.Context) (string, error) { return dlv, nil },
		RunDir: tmp,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if hook != nil {
		hook(e.Runner, e, &opts)
	}
	m, err := dap.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return &fixture{t: t, m: m, runner: e.Runner, workspaces: e, h: h, owner: h.Owner.Key(), workspaceID: h.WorkspaceID, tmp: tmp,
		secrets: []string{e.Data, goroot, gocache}}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// pipe is an in-memory client connection (what *bridge.Conn is to
// Serve): the test is the client.
type pipe struct {
	in     chan []byte // client → proxy
	out    chan []byte // proxy → client
	closed chan struct{}
	once   sync.Once
	code   atomic.Int32 // the close code, once closed
	reason atomic.Value // the close reason (a string), once closed
}

func newPipe() *pipe {
	return &pipe{in: make(chan []byte, 16), out: make(chan []byte, 4096), closed: make(chan struct{})}
}

func (p *pipe) ReadText() ([]byte, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-p.closed:
		return nil, io.EOF
	}
}

func (p *pipe) WriteText(m []byte) error {
	select {
	case <-p.closed:
		return io.ErrClosedPipe
	default:
	}
	select {
	case p.out <- append([]byte(nil), m...):
		return nil
	case <-p.closed:
		return io.ErrClosedPipe
	}
}

// Stop closes the pipe with the code bridge.CloseCode gives cause, as
// *bridge.Conn does; the first close wins.
func (p *pipe) Stop(cause error) { p.closeWith(bridge.CloseCode(cause)) }

// Close is the client closing its side (a normal closure).
func (p *pipe) Close() error { p.closeWith(bridge.CloseNormal, ""); return nil }

func (p *pipe) closeWith(code int, reason string) {
	p.once.Do(func() {
		p.code.Store(int32(code))
		p.reason.Store(reason)
		close(p.closed)
	})
}

// closeCode returns the code and reason the pipe was closed with.
func (p *pipe) closeCode() (int, string) {
	<-p.closed
	r, _ := p.reason.Load().(string)
	return int(p.code.Load()), r
}

// client drives one session over a pipe.
type client struct {
	t        testing.TB
	p        *pipe
	seq      int
	received [][]byte
	pending  []msg         // received, not yet awaited
	served   chan struct{} // closed when Serve returned
	err      error         // Serve's result, set before served is closed
}

// open serves a new session of the fixture's workspace.
func (f *fixture) open() *client {
	f.t.Helper()
	s, err := f.m.Open(f.h)
	if err != nil {
		f.t.Fatal(err)
	}
	c := &client{t: f.t, p: newPipe(), served: make(chan struct{})}
	go func() { c.err = s.ServeClient(context.Background(), c.p); close(c.served) }()
	f.t.Cleanup(func() {
		_ = c.p.Close()
		select {
		case <-c.served:
		case <-time.After(30 * time.Second):
			f.t.Error("Serve did not return")
		}
	})
	return c
}

// msg is a decoded DAP message.
type msg map[string]any

func (m msg) str(keys ...string) string {
	var v any = map[string]any(m)
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = o[k]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (c *client) send(command string, args any) int {
	c.t.Helper()
	c.seq++
	b, err := json.Marshal(map[string]any{"seq": c.seq, "type": "request", "command": command, "arguments": args})
	if err != nil {
		c.t.Fatal(err)
	}
	c.p.in <- b
	return c.seq
}

// next returns the next message from the proxy.
func (c *client) next(timeout time.Duration) (msg, bool) {
	c.t.Helper()
	select {
	case b := <-c.p.out:
		c.received = append(c.received, b)
		var m msg
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("proxy sent invalid JSON %q: %v", b, err)
		}
		return m, true
	case <-time.After(timeout):
		return nil, false
	}
}

// await returns the first message for which ok is true, failing after
// timeout; output events on the way are collected.
func (c *client) await(what string, timeout time.Duration, ok func(msg) bool) msg {
	c.t.Helper()
	for i, m := range c.pending {
		if ok(m) {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return m
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		m, got := c.next(time.Until(deadline))
		if !got {
			c.t.Fatalf("no %s within %v; received:\n%s", what, timeout, c.transcript())
		}
		if ok(m) {
			return m
		}
		c.pending = append(c.pending, m)
	}
}

func (c *client) response(seq int) msg {
	c.t.Helper()
	return c.await(fmt.Sprintf("response to %d", seq), waitLong, func(m msg) bool {
		return m.str("type") == "response" && m.str("request_seq") == strconv.Itoa(seq)
	})
}

func (c *client) event(name string) msg {
	c.t.Helper()
	return c.await("event "+name, waitLong, func(m msg) bool {
		return m.str("type") == "event" && m.str("event") == name
	})
}

// output is everything the client got in output events of category.
func (c *client) output(category string) string {
	var b strings.Builder
	for _, raw := range c.received {
		var m msg
		_ = json.Unmarshal(raw, &m)
		if m.str("event") == "output" && m.str("body", "category") == category {
			b.WriteString(m.str("body", "output"))
		}
	}
	return b.String()
}

// awaitOutput waits until the output events of category hold want (a
// program's last output may follow the terminated event: dlv reads the
// program's pipes apart from waiting for it) and returns all of it.
func (c *client) awaitOutput(category, want string) string {
	c.t.Helper()
	if !strings.Contains(c.output(category), want) {
		c.await("output "+strconv.Quote(want), waitLong, func(msg) bool { return strings.Contains(c.output(category), want) })
	}
	return c.output(category)
}

func (c *client) transcript() string {
	var b strings.Builder
	for _, r := range c.received {
		b.Write(r)
		b.WriteByte('\n')
	}
	return b.String()
}

// assertNoHostPath scans every byte the client received.
func (c *client) assertNoHostPath(secrets []string) {
	c.t.Helper()
	for _, raw := range c.received {
		for _, s := range secrets {
			if strings.Contains(string(raw), s) {
				c.t.Errorf("client received host path %q in %s", s, raw)
			}
		}
	}
}

// processesUnder lists live processes whose command line or executable
// mentions dir.
func processesUnder(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if strings.Contains(string(cmd), dir) || strings.Contains(exe, dir) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}
