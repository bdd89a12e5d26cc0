package lsp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/lsp"
	"github.com/ideserver/ideserver/sandbox"
)

// rpc is a minimal LSP client over any transport: send writes one message;
// a reader goroutine routes responses by id and keeps notifications.
type rpc struct {
	send    func([]byte) error
	mu      sync.Mutex
	waiting map[int]chan json.RawMessage
	notes   chan map[string]any
	nextID  int
}

func newRPC(send func([]byte) error) *rpc {
	return &rpc{send: send, waiting: make(map[int]chan json.RawMessage), notes: make(chan map[string]any, 1024)}
}

func (r *rpc) deliver(b []byte) {
	var m struct {
		ID     *int            `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal(b, &m) != nil {
		return
	}
	if m.Method == "" && m.ID != nil {
		r.mu.Lock()
		ch := r.waiting[*m.ID]
		delete(r.waiting, *m.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- b
		}
		return
	}
	if m.Method != "" && m.ID == nil {
		var n map[string]any
		_ = json.Unmarshal(b, &n)
		select {
		case r.notes <- n:
		default:
		}
	}
}

func (r *rpc) call(tb testing.TB, method string, params any) json.RawMessage {
	r.mu.Lock()
	r.nextID++
	id := r.nextID
	ch := make(chan json.RawMessage, 1)
	r.waiting[id] = ch
	r.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err := r.send(b); err != nil {
		tb.Fatal(err)
	}
	select {
	case resp := <-ch:
		return resp
	case <-time.After(waitLong):
		tb.Fatalf("%s: no answer", method)
		return nil
	}
}

func (r *rpc) notify(tb testing.TB, method string, params any) {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
	if err := r.send(b); err != nil {
		tb.Fatal(err)
	}
}

func (r *rpc) awaitDiagnostics(tb testing.TB) {
	deadline := time.After(waitLong)
	for {
		select {
		case n := <-r.notes:
			if n["method"] == "textDocument/publishDiagnostics" {
				return
			}
		case <-deadline:
			tb.Fatal("no diagnostics")
		}
	}
}

// openHello runs initialize, initialized and didOpen of main.go at uri.
func (r *rpc) openHello(tb testing.TB, root, uri string) {
	r.call(tb, "initialize", map[string]any{"processId": nil, "rootUri": root, "capabilities": map[string]any{},
		"workspaceFolders": []any{map[string]any{"uri": root, "name": "w"}}})
	r.notify(tb, "initialized", map[string]any{})
	r.notify(tb, "textDocument/didOpen", map[string]any{"textDocument": map[string]any{
		"uri": uri, "languageId": "go", "version": 1, "text": helloMain}})
}

// dialProxy serves m over a loopback WebSocket and connects an rpc to it.
func dialProxy(tb testing.TB, m *lsp.Manager, target lsp.Target) (*rpc, func()) {
	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		conn, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		c := bridge.NewConn(conn, 0) // as package server does
		c.CloseWith(bridge.CloseCode(m.ServeTarget(req.Context(), target, c)))
	}))
	r, closeRPC := dialRPC(tb, "ws"+strings.TrimPrefix(ts.URL, "http"))
	return r, func() {
		closeRPC()
		wg.Wait()
		ts.Close()
	}
}

// dialRPC connects an rpc to the LSP WebSocket at url; the function
// returned closes it and waits for its reader.
func dialRPC(tb testing.TB, url string) (*rpc, func()) {
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var wmu sync.Mutex
	r := newRPC(func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return conn.WriteMessage(websocket.TextMessage, b)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			r.deliver(b)
		}
	}()
	return r, func() {
		_ = conn.Close()
		<-done
	}
}

// startDirect starts gopls through sandbox with the same environment and
// talks to it over stdio, with no proxy.
func startDirect(tb testing.TB, e *env, gopls string) (*rpc, int, func()) {
	runner, err := sandbox.New(sandbox.Options{Instance: instance + "-direct", KillGrace: 500 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	procEnv, _ := e.ProcessEnv("t1")
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	p, err := runner.Start(context.Background(), sandbox.Cmd{Kind: "gopls", Owner: "t1", Workspace: e.workspaceID, Path: gopls,
		Env: procEnv, Dir: e.Dir(e.workspaceID), Stdin: inR, Stdout: outW})
	_ = inR.Close()
	_ = outW.Close()
	if err != nil {
		tb.Fatal(err)
	}
	var wmu sync.Mutex
	r := newRPC(func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return bridge.WriteFrame(inW, b)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(outR)
		for {
			b, err := bridge.ReadFrame(br, 64<<20)
			if err != nil {
				return
			}
			r.deliver(b)
		}
	}()
	return r, p.Pid(), func() {
		_ = p.Close()
		_ = inW.Close()
		_ = outR.Close()
		<-done
		_ = runner.Close()
	}
}

func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*q)]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkHover compares hover round trips through the proxy (a loopback
// WebSocket, the proxy, gopls's stdio) with gopls's stdio directly, on
// the hello workspace, alternating the two. Run with -benchtime=500x.
func BenchmarkHover(b *testing.B) {
	gopls := requireGopls(b)
	compareHover(b, newEnv(b, helloFiles), gopls, 20, "Println")
}

// compareHover measures hover round trips to gopls (the binary at exe)
// through the proxy over a loopback WebSocket against its stdio directly,
// alternating the two after warmup rounds of each. A non-empty want must
// be in every answer.
func compareHover(b *testing.B, e *env, exe string, warmup int, want string) {
	compareCalls(b, e, exe, warmup, "textDocument/hover", func(uri string) any { return hoverParams(uri, 5, 6) }, want)
}

// compareCalls measures round trips of one request (method, with the
// parameters params gives for main.go's URI) to gopls (the binary at exe)
// through the proxy over a loopback WebSocket against its stdio directly,
// alternating the two after warmup rounds of each, on the hello
// workspace. A non-empty want must be in every answer. It reports the
// percentiles of both, the p50 the proxy adds, and the size of the last
// answer through the proxy.
func compareCalls(b *testing.B, e *env, exe string, warmup int, method string, params func(uri string) any, want string) {
	m := newManager(b, e, exe, func(o *lsp.Options) { o.MessageRate = 1e6; o.MessageBurst = 1e6 })
	proxy, closeProxy := dialProxy(b, m, e.target("t1", e.workspaceID))
	defer closeProxy()
	direct, _, closeDirect := startDirect(b, e, exe)
	defer closeDirect()

	hostRoot := "file://" + filepath.ToSlash(e.Dir(e.workspaceID))
	proxy.openHello(b, "file:///workspace", "file:///workspace/main.go")
	direct.openHello(b, hostRoot, hostRoot+"/main.go")
	var size int
	call := func(r *rpc, uri string) time.Duration {
		start := time.Now()
		resp := r.call(b, method, params(uri))
		d := time.Since(start)
		if want != "" && !strings.Contains(string(resp), want) {
			b.Fatalf("%s: %s", method, resp)
		}
		size = len(resp)
		return d
	}
	for range warmup {
		call(proxy, "file:///workspace/main.go")
		call(direct, hostRoot+"/main.go")
	}
	var viaProxy, viaStdio []time.Duration
	b.ResetTimer()
	for range b.N {
		viaProxy = append(viaProxy, call(proxy, "file:///workspace/main.go"))
		viaStdio = append(viaStdio, call(direct, hostRoot+"/main.go"))
	}
	b.StopTimer()
	pp50, pp99 := percentile(viaProxy, 0.5), percentile(viaProxy, 0.99)
	dp50, dp99 := percentile(viaStdio, 0.5), percentile(viaStdio, 0.99)
	b.ReportMetric(us(pp50), "proxy-p50-µs")
	b.ReportMetric(us(pp99), "proxy-p99-µs")
	b.ReportMetric(us(dp50), "stdio-p50-µs")
	b.ReportMetric(us(dp99), "stdio-p99-µs")
	b.ReportMetric(us(pp50-dp50), "added-p50-µs")
	b.ReportMetric(float64(size)/1024, "reply-KiB")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFirstDiagnostics measures, per iteration, a new LSP connection
// over a loopback WebSocket: from the WebSocket opening to the first
// diagnostics for the hello workspace (the tenant's build cache persists
// between iterations, as it does for a real tenant; the first iteration is
// cold), and the resident memory of its gopls then; with gopls started
// directly and inside bubblewrap as the tenant's uid (when possible). Run
// with -benchtime=5x. It uses the package's own layout (no Handle, no
// shared caches); BenchmarkNewUserFirstDiagnostics measures a new user as
// the server serves one.
func BenchmarkFirstDiagnostics(b *testing.B) {
	gopls := requireGopls(b)
	b.Run("direct", func(b *testing.B) {
		e := newEnv(b, helloFiles)
		firstDiagnostics(b, e, newManager(b, e, gopls, nil))
	})
	b.Run("bwrap", func(b *testing.B) {
		e := newBwrapEnv(b)
		runner, g := isolate(b, e, gopls)
		firstDiagnostics(b, e, newManagerWith(b, runner, e, g, nil))
	})
}

func firstDiagnostics(b *testing.B, e *env, m *lsp.Manager) {
	var times []time.Duration
	var rss []float64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		r, closeProxy := dialProxy(b, m, e.target("t1", e.workspaceID))
		r.openHello(b, "file:///workspace", "file:///workspace/main.go")
		r.awaitDiagnostics(b)
		times = append(times, time.Since(start))
		b.StopTimer()
		for _, pid := range goplsPids(b) {
			rss = append(rss, rssMiB(pid))
		}
		closeProxy()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(times[0])/float64(time.Millisecond), "first-cold-ms")
	if len(times) > 1 {
		b.ReportMetric(float64(percentile(times[1:], 0.5))/float64(time.Millisecond), "warm-p50-ms")
	}
	if len(rss) > 0 {
		b.ReportMetric(slices.Max(rss), "gopls-rss-MiB")
	}
}

// rssMiB reads VmRSS of pid.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkProxyOverhead isolates the proxy's cost: hover round trips to
// the fake gopls (which answers at once, with host paths to rewrite)
// through the proxy over a loopback WebSocket, against its stdio directly.
// Run with -benchtime=2000x.
func BenchmarkProxyOverhead(b *testing.B) {
	e := newEnv(b, helloFiles)
	e.fake = true
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	compareHover(b, e, exe, 100, "")
}
