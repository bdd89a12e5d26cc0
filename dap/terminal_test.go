package dap_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/terminal"
)

// termConn is a WebSocket client of a terminal for the test: input queued
// by type_, output collected.
type termConn struct {
	in     chan []byte
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	out    bytes.Buffer
	wake   chan struct{}
}

func newTermConn() *termConn {
	return &termConn{in: make(chan []byte, 16), closed: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// attach attaches c to sess through a WebSocket, as the server does, and
// sends Attach's result to attached.
func (c *termConn) attach(t *testing.T, sess *terminal.Terminal, attached chan<- error) {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			attached <- err
			return
		}
		conn := bridge.NewConn(ws, 0)
		err = sess.Attach(context.Background(), conn)
		conn.CloseWith(bridge.CloseCode(err))
		attached <- err
	}))
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() { // input
		for {
			select {
			case b := <-c.in:
				if ws.WriteMessage(websocket.BinaryMessage, b) != nil {
					return
				}
			case <-c.closed:
				return
			}
		}
	}()
	go func() { // output
		defer close(read)
		for {
			typ, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.BinaryMessage {
				c.mu.Lock()
				c.out.Write(data)
				c.mu.Unlock()
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		c.once.Do(func() { close(c.closed) })
		_ = ws.Close()
		<-read
		srv.Close()
	})
}

// expect waits until the terminal output holds s.
func (c *termConn) expect(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		c.mu.Lock()
		got := c.out.String()
		c.mu.Unlock()
		if strings.Contains(got, s) {
			return
		}
		select {
		case <-c.wake:
		case <-deadline:
			t.Fatalf("terminal output has no %q within %v: %q", s, waitLong, got)
		}
	}
}

const stdinMain = `package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	fmt.Println("name?")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Printf("hello, %s", line)
}
`

// newTerminalFixture is newFixtureMode on stdinMain with a
// terminal.Manager (maxTerms terminals per workspace; 0: its default) as the
// manager's Terminals; the terminal manager is closed at cleanup.
func newTerminalFixture(tb testing.TB, dlv string, bwrap bool, maxTerms int) (*fixture, *terminal.Manager) {
	tb.Helper()
	var tm *terminal.Manager
	f := newFixtureMode(tb, dlv, map[string]string{"go.mod": "module stdin\n\ngo 1.26\n", "main.go": stdinMain}, bwrap,
		func(r *sandbox.Runner, workspaces *wstest.Env, o *dap.Options) {
			var err error
			tm, err = terminal.New(terminal.Options{MaxPerWorkspace: maxTerms})
			if err != nil {
				tb.Fatal(err)
			}
			o.Terminals = tm
		})
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := tm.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	return f, tm
}

// initTerminal initializes c as a client that can attach to terminals
// (supportsRunInTerminalRequest).
func (c *client) initTerminal() {
	c.t.Helper()
	if r := c.response(c.send("initialize", map[string]any{"adapterID": "go", "pathFormat": "path", "supportsRunInTerminalRequest": true})); r.str("success") != "true" {
		c.t.Fatalf("initialize: %v", r)
	}
}

// TestIntegratedTerminal launches with console "integratedTerminal": the
// program runs in a listed, attachable workspace terminal that gives it a
// real stdin, breakpoints still work, and ending the session ends the
// terminal and everything in it.
func TestIntegratedTerminal(t *testing.T) {
	integratedTerminal(t, false)
}

// integratedTerminal is TestIntegratedTerminal, with bwrap inside
// bubblewrap (newFixtureMode).
func integratedTerminal(t *testing.T, bwrap bool) {
	dlv := requireDlv(t)
	f, tm := newTerminalFixture(t, dlv, bwrap, 1)

	// Without supportsRunInTerminalRequest the client could not attach:
	// refused, nothing started.
	c := f.open()
	initialize(c)
	if r := c.response(c.send("launch", map[string]any{"program": "/workspace", "console": "integratedTerminal"})); r.str("success") != "false" {
		t.Fatalf("launch without runInTerminal support: %v", r)
	}
	if n := tm.Count(); n != 0 {
		t.Fatalf("%d terminals after a refused launch", n)
	}
	_ = c.p.Close()
	<-c.served

	c = f.open()
	if r := c.response(c.send("initialize", map[string]any{
		"adapterID": "go", "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path",
		"supportsRunInTerminalRequest": true,
	})); r.str("success") != "true" {
		t.Fatalf("initialize: %v", r)
	}
	start := time.Now()
	launch := c.send("launch", map[string]any{"mode": "debug", "program": "/workspace", "console": "integratedTerminal"})
	ev := c.event(dap.TerminalEvent)
	id := ev.str("body", "terminalId")
	list := tm.List(f.h)
	if id == "" || len(list) != 1 || list[0].ID != id {
		t.Fatalf("terminal event %v; terminals %+v", ev, list)
	}
	sess, err := tm.Get(f.h, id)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTermConn()
	attached := make(chan error, 1)
	tc.attach(t, sess, attached)

	c.event("initialized")
	bp := c.response(c.send("setBreakpoints", map[string]any{
		"source": map[string]any{"path": "/workspace/main.go"}, "breakpoints": []any{map[string]any{"line": 12}},
	}))
	if !strings.Contains(bp.str("body", "breakpoints"), `"verified":true`) {
		t.Fatalf("setBreakpoints: %v", bp)
	}
	c.response(c.send("configurationDone", nil))
	if r := c.response(launch); r.str("success") != "true" {
		t.Fatalf("launch: %v", r)
	}
	tc.expect(t, "name?")
	t.Logf("launch → program prompt in the terminal: %v", time.Since(start))
	tc.in <- []byte("gopher\r")
	stopped := c.event("stopped")
	thread := num(stopped.str("body", "threadId"))
	st := c.response(c.send("stackTrace", map[string]any{"threadId": thread, "levels": 1}))
	if !strings.Contains(st.str("body", "stackFrames"), `"path":"/workspace/main.go"`) || !strings.Contains(st.str("body", "stackFrames"), `"line":12`) {
		t.Fatalf("stackTrace: %v", st.str("body", "stackFrames"))
	}
	c.response(c.send("continue", map[string]any{"threadId": thread}))
	tc.expect(t, "hello, gopher")
	c.event("terminated")
	c.response(c.send("disconnect", map[string]any{}))
	select {
	case <-c.served:
	case <-time.After(waitLong):
		t.Fatal("Serve did not return after disconnect")
	}
	select {
	case <-attached:
	case <-time.After(waitLong):
		t.Fatal("the terminal attachment did not end with the session")
	}
	if n := tm.Count(); n != 0 {
		t.Errorf("%d terminals after the session", n)
	}
	c.assertNoHostPath(f.secrets)
	tc.mu.Lock()
	out := tc.out.String()
	tc.mu.Unlock()
	t.Logf("terminal output: %q", out)
	for _, s := range f.secrets {
		if strings.Contains(out, s) {
			t.Errorf("terminal output holds host path %q: %q", s, out)
		}
	}
	assertGone(t, f)
}

// TestIntegratedTerminalClosed: dropping the DAP client mid-session ends
// dlv, the debuggee and the terminal; so does a terminal at its limit
// refuse the launch cleanly.
func TestIntegratedTerminalClosed(t *testing.T) {
	dlv := requireDlv(t)
	f, tm := newTerminalFixture(t, dlv, false, 1)
	c := f.open()
	c.initTerminal()
	launch := c.send("launch", map[string]any{"program": ".", "console": "integratedTerminal"})
	c.event(dap.TerminalEvent)
	c.event("initialized")
	c.response(c.send("configurationDone", nil))
	if r := c.response(launch); r.str("success") != "true" {
		t.Fatalf("launch: %v", r)
	}

	// The workspace is at its terminal limit: a second session's
	// terminal launch is refused and leaves nothing.
	c2 := f.open()
	c2.initTerminal()
	if r := c2.response(c2.send("launch", map[string]any{"program": ".", "console": "integratedTerminal"})); r.str("success") != "false" || !strings.Contains(r.str("message"), "terminals") {
		t.Fatalf("launch at the terminal limit: %v", r)
	}
	_ = c2.p.Close()
	<-c2.served

	_ = c.p.Close() // the program waits for input
	select {
	case <-c.served:
	case <-time.After(waitLong):
		t.Fatal("Serve did not return")
	}
	if n := tm.Count(); n != 0 {
		t.Errorf("%d terminals after the session", n)
	}
	assertGone(t, f)
}

// TestIntegratedTerminalNoDebugAndDelete: noDebug runs in the terminal
// too; deleting the terminal ends the debug session with terminated.
func TestIntegratedTerminalNoDebugAndDelete(t *testing.T) {
	dlv := requireDlv(t)
	f, tm := newTerminalFixture(t, dlv, false, 0)
	open := func() *client {
		t.Helper()
		c := f.open()
		c.t = t
		c.initTerminal()
		return c
	}

	c := open()
	launch := c.send("launch", map[string]any{"program": ".", "console": "integratedTerminal", "noDebug": true})
	id := c.event(dap.TerminalEvent).str("body", "terminalId")
	sess, err := tm.Get(f.h, id)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTermConn()
	attached := make(chan error, 1)
	tc.attach(t, sess, attached)
	if r := c.response(launch); r.str("success") != "true" {
		t.Fatalf("launch: %v", r)
	}
	tc.expect(t, "name?")
	tc.in <- []byte("noDebug\r")
	tc.expect(t, "hello, noDebug")
	c.event("terminated")
	_ = c.p.Close()
	<-c.served
	<-attached

	c = open()
	launch = c.send("launch", map[string]any{"program": ".", "console": "integratedTerminal"})
	id = c.event(dap.TerminalEvent).str("body", "terminalId")
	c.event("initialized")
	c.response(c.send("configurationDone", nil))
	if r := c.response(launch); r.str("success") != "true" {
		t.Fatalf("launch: %v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := tm.Delete(ctx, f.h, id); err != nil {
		t.Fatal(err)
	}
	c.event("terminated")
	select {
	case <-c.served:
	case <-time.After(waitLong):
		t.Fatal("Serve did not return after the terminal was deleted")
	}
	assertGone(t, f)
}

// BenchmarkLaunchToStopped measures launch → stopped at a breakpoint on
// main's first line, with output events (internalConsole) and in a
// terminal (integratedTerminal: a second dlv started in the terminal and
// initialized before the launch).
func BenchmarkLaunchToStopped(b *testing.B) {
	dlv := requireDlv(b)
	b.Run("direct", func(b *testing.B) { launchToStopped(b, dlv, false) })
	b.Run("bwrap", func(b *testing.B) { launchToStopped(b, dlv, true) })
}

// launchToStopped is BenchmarkLaunchToStopped with dlv started directly
// or, with bwrap, inside bubblewrap as the tenant's uid.
func launchToStopped(b *testing.B, dlv string, bwrap bool) {
	f, _ := newTerminalFixture(b, dlv, bwrap, 0)
	for _, console := range []string{"internalConsole", "integratedTerminal"} {
		b.Run(console, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				c := f.open()
				c.t = b
				c.response(c.send("initialize", map[string]any{"adapterID": "go", "pathFormat": "path", "supportsRunInTerminalRequest": true}))
				b.StartTimer()
				launch := c.send("launch", map[string]any{"program": ".", "console": console})
				c.event("initialized")
				c.response(c.send("setBreakpoints", map[string]any{
					"source": map[string]any{"path": "/workspace/main.go"}, "breakpoints": []any{map[string]any{"line": 10}},
				}))
				c.response(c.send("configurationDone", nil))
				if r := c.response(launch); r.str("success") != "true" {
					b.Fatalf("launch: %v", r)
				}
				c.event("stopped")
				b.StopTimer()
				c.response(c.send("disconnect", map[string]any{}))
				<-c.served
				b.StartTimer()
			}
		})
	}
}

// TestStopDuringMoveToTerminal: a session stopped while its dlv moves into
// a terminal must not adopt the new dlv (the dlv pump would follow it and
// Serve would never return, leaving dlv running).
func TestStopDuringMoveToTerminal(t *testing.T) {
	dlv := requireDlv(t)
	// The peer check of the dlv in the terminal (it has dialled in) waits
	// for gate: the test stops the session in between.
	gt := struct{ asked, gate chan struct{} }{make(chan struct{}, 1), make(chan struct{})}
	f, tm := newTerminalFixture(t, dlv, false, 1)
	f.m.SetPeerCheckHook(func() {
		select {
		case gt.asked <- struct{}{}:
		default:
		}
		<-gt.gate
	})
	c := f.open()
	c.initTerminal()
	c.send("launch", map[string]any{"program": ".", "console": "integratedTerminal"})
	select {
	case <-gt.asked:
	case <-time.After(waitLong):
		t.Fatal("dlv in the terminal did not dial in")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		stopped <- f.m.Stop(ctx, f.workspaceID)
	}()
	<-c.p.closed // serve is ending: it closes the client, then dlv's connection
	close(gt.gate)
	select {
	case <-c.served:
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after Stop")
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	if code, reason := c.p.closeCode(); code != bridge.CloseGoingAway || reason != "workspace stopped" {
		t.Errorf("close %d %q, want 1001 \"workspace stopped\"", code, reason)
	}
	if n := tm.Count(); n != 0 {
		t.Errorf("%d terminals after the session", n)
	}
	assertGone(t, f)
}
