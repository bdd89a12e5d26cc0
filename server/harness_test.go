package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Wait budgets: every wait is for an event; these only bound how long a
// broken implementation can hang a test.
const (
	waitShort = 5 * time.Second
	portal    = "https://portal.example"
)

// harness is a real server: bbolt in a temporary directory, a real
// workspace Manager and Watchers, an httptest listener on 127.0.0.1, and
// credentials for several tenants and users.
type harness struct {
	tb       testing.TB
	srv      *server.Server
	ts       *httptest.Server
	db       *store.DB
	mgr      *workspace.Manager
	watchers *workspace.Watchers
	reg      *prometheus.Registry
	logs     *logState
	client   *http.Client
	opts     server.Options // as passed to server.New

	dataDir string // holds the database and the workspaces
	wsRoot  string // ManagerOptions.Dir
	host    string // 127.0.0.1:PORT
	origin  string // http://127.0.0.1:PORT

	tokA, tokA2, tokB, tokAdmin string // a/a1, a/a2, b/b1, ops/root (admin)
	tokAID                      string // id of tokA
	wsA, wsB                    string // a1's and b1's workspaces
}

// initialA is tenant A's workspace content.
var initialA = map[string]string{
	"go.mod":      "module example.com/a\n\ngo 1.26\n",
	"main.go":     "package main\n\nfunc main() { println(\"needle\") }\n",
	"dir/sub.txt": "hello from a subdirectory\n",
}

// harnessSeq numbers the harnesses' runners, so their Instances differ.
var harnessSeq atomic.Int32

// newHarness starts a server. mutate, when given, adjusts the Options
// before server.New (limits, JWT, tickets, TLS, ...).
func newHarness(tb testing.TB, mutate ...func(*server.Options)) *harness {
	tb.Helper()
	h := &harness{tb: tb, dataDir: tb.TempDir()}
	h.logs = &logState{tb: tb}
	level := slog.LevelDebug
	if _, ok := tb.(*testing.B); ok {
		level = slog.LevelWarn // keep b.Log quiet: no per-request records
	}
	logger := slog.New(newTestHandler(h.logs, level))

	var err error
	h.db, err = store.Open(store.Options{Path: filepath.Join(h.dataDir, "ideserver.db")})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	h.watchers = workspace.NewWatchers(workspace.WatcherOptions{Logger: logger.With("component", "watch")})
	h.wsRoot = filepath.Join(h.dataDir, "workspaces")
	// The runner starts the handles' processes (terminals, debuggers),
	// without isolation; it closes after everything that uses it.
	runner, err := sandbox.New(sandbox.Options{Instance: "srvharness-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(int(harnessSeq.Add(1))), KillGrace: 300 * time.Millisecond})
	if err != nil {
		tb.Fatalf("new runner: %v", err)
	}
	tb.Cleanup(func() { _ = runner.Close() })
	h.mgr, err = workspace.NewManager(workspace.ManagerOptions{
		Store: h.db, Dir: h.wsRoot, TenantsDir: filepath.Join(h.dataDir, "tenants"), Runner: runner,
		Watchers: h.watchers, Logger: logger.With("component", "workspace"),
	})
	if err != nil {
		tb.Fatalf("new manager: %v", err)
	}

	h.ts = httptest.NewUnstartedServer(nil)
	h.host = h.ts.Listener.Addr().String()
	h.origin = "http://" + h.host
	policy, err := auth.NewOriginPolicy([]string{portal}, []string{h.host})
	if err != nil {
		tb.Fatalf("origin policy: %v", err)
	}
	h.reg = prometheus.NewRegistry()
	h.opts = server.Options{
		Store:      h.db,
		Workspaces: h.mgr,
		Watchers:   h.watchers,
		Origins:    policy,
		Tickets:    auth.NewTickets(auth.TicketOptions{}),
		Registerer: h.reg,
		Gatherer:   h.reg,
		Logger:     logger,
	}
	for _, m := range mutate {
		m(&h.opts)
	}
	h.srv, err = server.New(h.opts)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	h.ts.Config.Handler = h.srv.Handler()
	h.ts.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	h.ts.Start()
	h.client = &http.Client{
		Transport: &http.Transport{},
		// Never follow a redirect: docs/api.md forbids answering a bad path
		// with one, and a followed redirect would hide it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	tb.Cleanup(h.close)

	var tok store.Token
	tok, h.tokA = h.issue("a", "a1")
	h.tokAID = tok.ID
	_, h.tokA2 = h.issue("a", "a2")
	_, h.tokB = h.issue("b", "b1")
	_, h.tokAdmin = h.issue("ops", "root")
	if err := h.db.SetUserAdmin("ops", "root", true); err != nil {
		tb.Fatalf("set admin: %v", err)
	}
	h.wsA = h.createWorkspace("a", "a1", "a-ws", initialA)
	h.wsB = h.createWorkspace("b", "b1", "b-ws", map[string]string{"main.go": "package main\n"})
	return h
}

// close tears down in the order cmd/ideserver uses, then stops logging
// through tb (goroutines must not log after the test ends).
func (h *harness) close() {
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	if err := h.srv.CloseWebSockets(ctx); err != nil {
		h.tb.Errorf("CloseWebSockets: %v", err)
	}
	h.ts.Close()
	h.client.CloseIdleConnections()
	if err := h.srv.Close(); err != nil {
		h.tb.Errorf("server Close: %v", err)
	}
	if err := h.mgr.Close(ctx); err != nil {
		h.tb.Errorf("manager Close: %v", err)
	}
	if err := h.watchers.Close(); err != nil {
		h.tb.Errorf("watchers Close: %v", err)
	}
	if err := h.db.Close(); err != nil {
		h.tb.Errorf("store Close: %v", err)
	}
	h.logs.finish()
}

func (h *harness) issue(tenant, user string) (store.Token, string) {
	h.tb.Helper()
	tok, secret, err := server.IssueToken(h.db, tenant, user, "test", "")
	if err != nil {
		h.tb.Fatalf("IssueToken(%s, %s): %v", tenant, user, err)
	}
	return tok, secret
}

func (h *harness) createWorkspace(tenant, user, name string, files map[string]string) string {
	h.tb.Helper()
	ws, err := h.mgr.Create(context.Background(), workspace.Owner{Tenant: tenant, User: user}, workspace.CreateOptions{Name: name, Files: files})
	if err != nil {
		h.tb.Fatalf("create workspace: %v", err)
	}
	return ws.ID
}

// wsDir is the host directory of workspace id.
func (h *harness) wsDir(workspaceID string) string { return filepath.Join(h.wsRoot, workspaceID) }

// ---- HTTP requests ----

// reqOpt adjusts a request before it is sent.
type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func withHeader(k, v string) reqOpt {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

func withCookie(name, value string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: value}) }
}

// csrf is the header cookie-authenticated state changes need.
var csrf = withHeader("X-Requested-With", "ideserver")

// cookie presents a login cookie under the name the server uses.
func (h *harness) cookie(value string) reqOpt {
	name := "ideserver_session"
	if h.opts.TLS {
		name = "__Host-ideserver_session"
	}
	return withCookie(name, value)
}

// result is a response with its body read.
type result struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r result) String() string {
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body))
}

// do sends a request to path (a URL path with optional query, cleaned by
// nothing but Go's URL parser). A non-nil body defaults to
// application/json. Every body read is checked for the data directory.
func (h *harness) do(method, path string, body []byte, opts ...reqOpt) result {
	h.tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, rd)
	if err != nil {
		h.tb.Fatalf("new request %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	return h.send(req)
}

func (h *harness) send(req *http.Request) result {
	h.tb.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		h.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, err = io.ReadAll(resp.Body)
		if err != nil {
			h.tb.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
		}
	}
	h.checkNoLeak(req.Method+" "+req.URL.String(), body)
	return result{resp.StatusCode, resp.Header, body}
}

// raw sends one request with requestURI written verbatim on the request
// line over a fresh TCP connection, so no client-side cleaning happens.
func (h *harness) raw(method, requestURI string, body []byte, headers ...string) result {
	h.tb.Helper()
	conn, err := net.DialTimeout("tcp", h.host, waitShort)
	if err != nil {
		h.tb.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitShort))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n", method, requestURI, h.host, len(body))
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", headers[i], headers[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		h.tb.Fatalf("write request: %v", err)
	}
	if _, err := conn.Write(body); err != nil {
		h.tb.Fatalf("write body: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		h.tb.Fatalf("%s %s: read response: %v", method, requestURI, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.tb.Fatalf("%s %s: read body: %v", method, requestURI, err)
	}
	h.checkNoLeak(method+" "+requestURI, data)
	return result{resp.StatusCode, resp.Header, data}
}

// checkNoLeak fails the test when a response body holds a host path.
func (h *harness) checkNoLeak(what string, body []byte) {
	h.tb.Helper()
	if bytes.Contains(body, []byte(h.dataDir)) {
		h.tb.Errorf("%s: response body reveals a host path: %s", what, body)
	}
}

// apiErr is the error body of docs/api.md.
type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks status and the {"error":{"code","message"}} shape, and
// that code matches when given.
func wantError(tb testing.TB, what string, r result, status int, code string) {
	tb.Helper()
	if r.Status != status {
		tb.Errorf("%s: got %s, want status %d", what, r, status)
		return
	}
	var e apiErr
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		tb.Errorf("%s: body %q is not {\"error\":{\"code\",\"message\"}} (%v)", what, r.Body, err)
		return
	}
	if code != "" && e.Error.Code != code {
		tb.Errorf("%s: error code %q, want %q (%s)", what, e.Error.Code, code, e.Error.Message)
	}
}

func wantStatus(tb testing.TB, what string, r result, status int) {
	tb.Helper()
	if r.Status != status {
		tb.Errorf("%s: got %s, want status %d", what, r, status)
	}
}

func decode[T any](tb testing.TB, r result) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		tb.Fatalf("decode %s: %v", r, err)
	}
	return v
}

// ---- WebSockets ----

// dial opens a WebSocket to path with hdr. On a refused handshake it
// returns the status; conn is then nil.
func (h *harness) dial(path string, hdr http.Header, d *websocket.Dialer) (*websocket.Conn, result) {
	h.tb.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: waitShort}
	}
	conn, resp, err := d.Dial("ws://"+h.host+path, hdr)
	if err != nil {
		if resp == nil {
			h.tb.Fatalf("dial %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		h.checkNoLeak("dial "+path, body)
		return nil, result{resp.StatusCode, resp.Header, body}
	}
	h.tb.Cleanup(func() { _ = conn.Close() })
	return conn, result{Status: resp.StatusCode, Header: resp.Header}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// gauge reads an unlabelled gauge from the server's registry.
func (h *harness) gauge(name string) float64 {
	h.tb.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.tb.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	h.tb.Fatalf("metric %s not registered", name)
	return 0
}

// waitNoSockets waits until no WebSocket is open and no slot reserved.
func (h *harness) waitNoSockets() {
	h.tb.Helper()
	waitFor(h.tb, "all WebSockets closed and slots freed", func() bool {
		open, reserved := h.srv.SocketCounts()
		return open == 0 && reserved == 0 && h.gauge("ideserver_websockets") == 0
	})
}

// waitFor polls cond until it holds or waitShort passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitShort)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wsReader reads messages of conn in a goroutine, so tests can wait for
// one with a timeout (a gorilla read deadline breaks the connection).
type wsReader struct {
	msgs chan wsMsg
	done chan struct{}
	err  error // set before done is closed
}

type wsMsg struct {
	typ  int
	data []byte
}

func readAll(tb testing.TB, conn *websocket.Conn) *wsReader {
	r := &wsReader{msgs: make(chan wsMsg, 256), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				r.err = err
				return
			}
			select {
			case r.msgs <- wsMsg{typ, data}:
			default: // a test that stopped listening: drop
			}
		}
	}()
	tb.Cleanup(func() {
		_ = conn.Close()
		<-r.done
	})
	return r
}

// next returns the next message, or fails after waitShort.
func (r *wsReader) next(tb testing.TB) (wsMsg, bool) {
	tb.Helper()
	select {
	case m := <-r.msgs:
		return m, true
	case <-r.done:
		select {
		case m := <-r.msgs:
			return m, true
		default:
			return wsMsg{}, false
		}
	case <-time.After(waitShort):
		tb.Fatalf("no WebSocket message within %v", waitShort)
		return wsMsg{}, false
	}
}

// closed waits until the connection ends and returns the read error.
func (r *wsReader) closed(tb testing.TB) error {
	tb.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitShort):
		tb.Fatalf("WebSocket still open after %v", waitShort)
		return nil
	}
}

// ---- file system snapshots ----

// snapshot maps every entry under dir to its content ("dir/" for
// directories, "-> target" for symlinks).
func snapshot(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel] = "dir/"
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

func sameSnapshot(tb testing.TB, what string, before, after map[string]string) {
	tb.Helper()
	for k, v := range before {
		if got, ok := after[k]; !ok {
			tb.Errorf("%s: %s disappeared", what, k)
		} else if got != v {
			tb.Errorf("%s: %s changed from %q to %q", what, k, v, got)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			tb.Errorf("%s: %s appeared", what, k)
		}
	}
}

// ---- logging ----

// logState is shared by a test handler and its derived handlers: records
// go to tb.Log, and an Error record fails the test unless its message was
// declared expected with allowErrors.
type logState struct {
	tb      testing.TB
	mu      sync.Mutex
	done    bool
	allowed []string
}

// allowErrors declares Error records with these messages expected.
func (s *logState) allowErrors(msgs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed = append(s.allowed, msgs...)
}

func (s *logState) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
}

func (s *logState) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

type testHandler struct {
	st    *logState
	inner slog.Handler
}

func newTestHandler(st *logState, level slog.Level) *testHandler {
	return &testHandler{st: st, inner: slog.NewTextHandler(st, &slog.HandlerOptions{Level: level})}
}

func (h *testHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *testHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.st.mu.Lock()
		ok := h.st.done
		for _, m := range h.st.allowed {
			ok = ok || m == r.Message
		}
		if !ok {
			h.st.tb.Errorf("unexpected Error log record: %q", r.Message)
		}
		h.st.mu.Unlock()
	}
	return h.inner.Handle(ctx, r)
}

func (h *testHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &testHandler{st: h.st, inner: h.inner.WithAttrs(as)}
}

func (h *testHandler) WithGroup(name string) slog.Handler {
	return &testHandler{st: h.st, inner: h.inner.WithGroup(name)}
}
