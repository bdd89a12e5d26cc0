package terminal_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/terminal"
	"github.com/ideserver/ideserver/workspace"
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
	ws       *wstest.Env       // the real workspaces
	h        *workspace.Handle // t1/u1's workspace, where create starts terminals
	runner   *sandbox.Runner
	instance string // the runner's Instance, when newEnv made it
	dir      string // h.Dir

	attachOnce sync.Once
	attachSrv  *attachServer // for attach: in-memory pipes
}

// nextInstance returns a new runner Instance starting with instancePrefix.
func nextInstance() string {
	instSeq.Lock()
	defer instSeq.Unlock()
	instSeq.n++
	return instancePrefix + strconv.Itoa(instSeq.n)
}

// owner1 is the user of env.h.
var owner1 = workspace.Owner{Tenant: "t1", User: "u1"}

// newEnv returns a manager whose terminals run without isolation, in a
// real workspace of owner1 (env.h).
func newEnv(tb testing.TB, mutate ...func(*terminal.Options)) *env {
	tb.Helper()
	instance := nextInstance()
	r, err := sandbox.New(sandbox.Options{Instance: instance, KillGrace: 300 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { // after the manager's Close (cleanups run last first)
		if err := r.Close(); err != nil {
			tb.Errorf("close runner: %v", err)
		}
	})
	e := newEnvOn(tb, r, mutate...)
	e.instance = instance
	return e
}

// newEnvOn is newEnv with the runner r (which the caller closes).
func newEnvOn(tb testing.TB, r *sandbox.Runner, mutate ...func(*terminal.Options)) *env {
	tb.Helper()
	ws := wstest.New(tb, wstest.Options{Runner: r, GoRoot: "/usr/local/go"})
	h := ws.Handle(tb, owner1, nil)
	var opts terminal.Options
	for _, f := range mutate {
		f(&opts)
	}
	m, err := terminal.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{m: m, ws: ws, h: h, runner: r, dir: h.Dir}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitShort)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			tb.Errorf("close manager: %v", err)
		}
	})
	return e
}

// handle returns a new workspace of owner.
func (e *env) handle(tb testing.TB, owner workspace.Owner) *workspace.Handle {
	tb.Helper()
	return e.ws.Handle(tb, owner, nil)
}

// create starts a terminal of owner1 in e.h's workspace.
func (e *env) create(tb testing.TB, o terminal.CreateOptions) *terminal.Terminal {
	tb.Helper()
	info, err := e.m.Create(context.Background(), e.h, o)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := e.m.Get(e.h, info.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// attachServer serves attach WebSockets for the terminals of e.h,
// as package server does: /ID attaches to terminal ID through a
// bridge.Conn and closes with bridge.CloseCode of Attach's result;
// /ID?c=N also reports that result to client N.
type attachServer struct {
	url    string
	dialer *websocket.Dialer
	wg     sync.WaitGroup // handlers

	mu      sync.Mutex
	n       int
	results map[string]chan error
}

// serveAttach starts an attachServer for e. With pipes, connections are
// in-memory pipes that buffer nothing, so a client that stops reading
// stops the server's writes at once (TCP loopback buffers megabytes);
// without, they are TCP on loopback.
func serveAttach(tb testing.TB, e *env, pipes bool, writeTimeout time.Duration) *attachServer {
	a := &attachServer{dialer: websocket.DefaultDialer, results: map[string]chan error{}}
	// The server's write buffers: 64 KiB, pooled (server/websocket.go).
	up := websocket.Upgrader{WriteBufferSize: 64 << 10, WriteBufferPool: &sync.Pool{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := e.m.Get(e.h, strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		a.wg.Add(1)
		defer a.wg.Done()
		conn := bridge.NewConn(ws, writeTimeout)
		err = t.Attach(r.Context(), conn)
		a.mu.Lock()
		res := a.results[r.URL.Query().Get("c")]
		a.mu.Unlock()
		if res != nil {
			res <- err
		}
		conn.CloseWith(bridge.CloseCode(err))
	}))
	if pipes {
		pl := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
		_ = srv.Listener.Close()
		srv.Listener = pl
		a.dialer = &websocket.Dialer{NetDialContext: pl.dial, HandshakeTimeout: waitShort}
	}
	srv.Start()
	tb.Cleanup(func() { srv.Close(); a.wg.Wait() })
	a.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return a
}

// dial opens a WebSocket to terminal id; with a result channel, Attach's
// result is sent to it.
func (a *attachServer) dial(tb testing.TB, id string, result chan error) *websocket.Conn {
	tb.Helper()
	u := a.url + "/" + id
	if result != nil {
		a.mu.Lock()
		a.n++
		c := strconv.Itoa(a.n)
		a.results[c] = result
		a.mu.Unlock()
		u += "?c=" + c
	}
	c, _, err := a.dialer.Dial(u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// pipeListener accepts the in-memory connections its dial makes.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// client is an attached WebSocket client: it records output bytes and
// control messages, and sends input. A stalled client reads nothing until
// unstalled.
type client struct {
	ws     *websocket.Conn
	wmu    sync.Mutex // one writer
	mu     sync.Mutex
	out    bytes.Buffer
	ctrl   []string
	end    error // the reader's error: the close frame, or the connection's end
	notify chan struct{}
	stall  chan struct{} // when non-nil, the reader waits for it to close
	closed chan struct{} // closed by detach
	once   sync.Once
	read   chan struct{} // closed when the reader has ended
	result chan error    // Attach's result
}

// attach attaches a new client to t over an in-memory pipe; the server's
// Attach runs until the client detaches or the terminal is done with it.
func (e *env) attach(tb testing.TB, t *terminal.Terminal, stalled bool) *client {
	tb.Helper()
	e.attachOnce.Do(func() { e.attachSrv = serveAttach(tb, e, true, time.Minute) })
	c := &client{notify: make(chan struct{}, 1), closed: make(chan struct{}), read: make(chan struct{}), result: make(chan error, 1)}
	if stalled {
		c.stall = make(chan struct{})
	}
	c.ws = e.attachSrv.dial(tb, t.ID(), c.result)
	go c.reader()
	tb.Cleanup(func() { c.detach(tb) })
	return c
}

// reader records what the server sends until the connection ends.
func (c *client) reader() {
	defer close(c.read)
	for {
		if c.stall != nil {
			select {
			case <-c.stall:
			case <-c.closed:
				return
			}
		}
		typ, data, err := c.ws.ReadMessage()
		c.mu.Lock()
		switch {
		case err != nil:
			c.end = err
		case typ == websocket.BinaryMessage:
			c.out.Write(data)
		default:
			c.ctrl = append(c.ctrl, string(data))
		}
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// detach ends the attachment as a vanished client would (the connection
// drops, no close frame) and waits for Attach to return.
func (c *client) detach(tb testing.TB) error {
	tb.Helper()
	c.once.Do(func() {
		close(c.closed)
		_ = c.ws.Close()
	})
	err := c.wait(tb, "return after the client went away")
	<-c.read
	return err
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

// closeFrame waits until the server closed the connection and returns the
// close frame's error (a *websocket.CloseError).
func (c *client) closeFrame(tb testing.TB) error {
	tb.Helper()
	c.waitFor(tb, "the connection to close", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.end != nil
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

func (c *client) write(typ int, s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteMessage(typ, []byte(s)) // a failed write shows as missing output
}

func (c *client) send(s string) { c.write(websocket.BinaryMessage, s) }

func (c *client) control(s string) { c.write(websocket.TextMessage, s) }

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
