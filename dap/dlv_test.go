package dap_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/bridge"
)

func initialize(c *client) {
	c.t.Helper()
	r := c.response(c.send("initialize", map[string]any{
		"adapterID": "go", "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path",
	}))
	if r.str("success") != "true" {
		c.t.Fatalf("initialize failed: %v", r)
	}
}

// TestDebugMain walks the debugger contract of docs/api.md against real dlv: launch
// main, stop at a breakpoint, read the stack and a local, step, continue,
// see the output, end; nothing of the host leaks and nothing survives.
func TestDebugMain(t *testing.T) {
	dlv := requireDlv(t)
	debugMain(t, newFixture(t, dlv, map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain}))
}

// debugMain is TestDebugMain's walk over f, a fixture of helloMain.
func debugMain(t *testing.T, f *fixture) {
	c := f.open()
	initialize(c)

	start := time.Now()
	launch := c.send("launch", map[string]any{"mode": "debug", "program": "/workspace"})
	c.event("initialized")
	bp := c.response(c.send("setBreakpoints", map[string]any{
		"source": map[string]any{"path": "/workspace/main.go"}, "breakpoints": []any{map[string]any{"line": 7}},
	}))
	if bp.str("success") != "true" || !strings.Contains(bp.str("body", "breakpoints"), `"verified":true`) {
		t.Fatalf("setBreakpoints: %v", bp)
	}
	c.response(c.send("configurationDone", nil))
	if r := c.response(launch); r.str("success") != "true" {
		t.Fatalf("launch: %v", r)
	}
	stopped := c.event("stopped")
	t.Logf("launch → stopped: %v", time.Since(start))
	thread := stopped.str("body", "threadId")

	st := c.response(c.send("stackTrace", map[string]any{"threadId": num(thread), "levels": 5}))
	frames := st.str("body", "stackFrames")
	if !strings.Contains(frames, `"path":"/workspace/main.go"`) || !strings.Contains(frames, `"line":7`) {
		t.Fatalf("stackTrace: %s", frames)
	}
	frameID := firstFrameID(t, st)
	sc := c.response(c.send("scopes", map[string]any{"frameId": frameID}))
	ref := scopeRef(t, sc)
	vars := c.response(c.send("variables", map[string]any{"variablesReference": ref}))
	if !strings.Contains(vars.str("body", "variables"), `Hello, ideserver!`) {
		t.Fatalf("variables: %v", vars)
	}

	c.response(c.send("next", map[string]any{"threadId": num(thread)}))
	c.event("stopped")
	st = c.response(c.send("stackTrace", map[string]any{"threadId": num(thread), "levels": 1}))
	if !strings.Contains(st.str("body", "stackFrames"), `"line":8`) {
		t.Fatalf("after next: %v", st.str("body", "stackFrames"))
	}
	c.response(c.send("continue", map[string]any{"threadId": num(thread)}))
	c.event("terminated")
	if out := c.awaitOutput("stdout", "len 17\n"); !strings.Contains(out, "Hello, ideserver!\n") {
		t.Errorf("program output = %q", out)
	}
	c.response(c.send("disconnect", map[string]any{}))
	select {
	case <-c.served:
		if c.err != nil {
			t.Errorf("Serve = %v", c.err)
		}
	case <-time.After(waitLong):
		t.Fatal("Serve did not return after disconnect")
	}
	if code, reason := c.p.closeCode(); code != bridge.CloseNormal {
		t.Errorf("dlv ended the session: close %d %q, want 1000", code, reason)
	}
	c.assertNoHostPath(f.secrets)
	assertGone(t, f)
}

func TestDebugTestAndNoDebug(t *testing.T) {
	dlv := requireDlv(t)
	f := newFixture(t, dlv, map[string]string{
		"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain, "main_test.go": helloTest,
	})
	t.Run("test", func(t *testing.T) {
		c := f.open()
		c.t = t
		initialize(c)
		launch := c.send("launch", map[string]any{"mode": "test", "program": "/workspace", "args": []string{"-test.run", "TestHello", "-test.v"}})
		c.event("initialized")
		bp := c.response(c.send("setBreakpoints", map[string]any{
			"source": map[string]any{"path": "main_test.go"}, "breakpoints": []any{map[string]any{"line": 7}},
		}))
		if !strings.Contains(bp.str("body", "breakpoints"), `"verified":true`) {
			t.Fatalf("setBreakpoints: %v", bp)
		}
		c.response(c.send("configurationDone", nil))
		if r := c.response(launch); r.str("success") != "true" {
			t.Fatalf("launch: %v", r)
		}
		stopped := c.event("stopped")
		st := c.response(c.send("stackTrace", map[string]any{"threadId": num(stopped.str("body", "threadId")), "levels": 1}))
		if !strings.Contains(st.str("body", "stackFrames"), `"path":"/workspace/main_test.go"`) {
			t.Fatalf("stackTrace: %v", st.str("body", "stackFrames"))
		}
		c.response(c.send("continue", map[string]any{"threadId": num(stopped.str("body", "threadId"))}))
		c.event("terminated")
		if out := c.awaitOutput("stdout", "PASS"); !strings.Contains(out, "tested") {
			t.Errorf("test output = %q", out)
		}
		c.assertNoHostPath(f.secrets)
	})
	t.Run("auto noDebug", func(t *testing.T) {
		c := f.open()
		c.t = t
		initialize(c)
		launch := c.send("launch", map[string]any{"mode": "auto", "program": "main.go", "noDebug": true})
		if r := c.response(launch); r.str("success") != "true" {
			t.Fatalf("launch: %v", r)
		}
		c.event("terminated")
		c.awaitOutput("stdout", "Hello, ideserver!")
		c.assertNoHostPath(f.secrets)
	})
}

func TestBuildErrorShowsWorkspacePaths(t *testing.T) {
	dlv := requireDlv(t)
	f := newFixture(t, dlv, map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": "package main\n\nfunc main() { undefinedThing() }\n"})
	c := f.open()
	initialize(c)
	r := c.response(c.send("launch", map[string]any{"program": "/workspace"}))
	if r.str("success") != "false" {
		t.Fatalf("launch of a broken program: %v", r)
	}
	if out := c.output("stderr"); !strings.Contains(out, "undefinedThing") || !strings.Contains(out, "main.go:3") {
		t.Errorf("build error output = %q", out)
	}
	c.assertNoHostPath(f.secrets)
}

// TestCloseMidSession drops the client while the debuggee loops: dlv and
// the program are gone and the session directory removed when Serve
// returns; pause works before that.
//
// DAP-09: a client gone mid-session leaves no dlv, no debuggee and no
// session directory (with the __debug_bin in it).
func TestCloseMidSession(t *testing.T) {
	dlv := requireDlv(t)
	loop := "package main\n\nimport \"time\"\n\nfunc main() {\n\tfor {\n\t\ttime.Sleep(time.Millisecond)\n\t}\n}\n"
	f := newFixture(t, dlv, map[string]string{"go.mod": "module loop\n\ngo 1.26\n", "main.go": loop})
	c := f.open()
	initialize(c)
	launch := c.send("launch", map[string]any{"program": "."})
	c.event("initialized")
	c.response(c.send("configurationDone", nil))
	if r := c.response(launch); r.str("success") != "true" {
		t.Fatalf("launch: %v", r)
	}
	c.response(c.send("pause", map[string]any{"threadId": 1}))
	c.event("stopped")
	if len(processesUnder(f.tmp)) == 0 {
		t.Fatal("no dlv or debuggee found while debugging")
	}
	_ = c.p.Close()
	select {
	case <-c.served:
	case <-time.After(waitLong):
		t.Fatal("Serve did not return")
	}
	assertGone(t, f)
}

func assertGone(t *testing.T, f *fixture) {
	t.Helper()
	if ps := processesUnder(f.tmp); len(ps) > 0 {
		t.Errorf("processes survive the session: %v", ps)
	}
	if n := f.runner.Count(); n != 0 {
		t.Errorf("runner has %d live processes", n)
	}
	if ents, _ := os.ReadDir(f.tmp); len(ents) != 0 {
		t.Errorf("session directory left behind: %v", ents)
	}
}

// TestRefusedStartNothing: each refused form gets an error response and
// starts no process besides the session's dlv; then dlv is killed and the
// client gets terminated.
//
// DAP-01 (exec mode, a program outside the workspace), DAP-03 (env,
// dlvCwd, cwd), DAP-04 (buildFlags), DAP-05 (output), DAP-06 (core,
// replay, substitutePath): each is refused before dlv sees it.
func TestRefusedStartNothing(t *testing.T) {
	dlv := requireDlv(t)
	f := newFixture(t, dlv, map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain})
	c := f.open()
	initialize(c)
	refused := []struct {
		command string
		args    any
	}{
		{"launch", map[string]any{"mode": "exec", "program": "/bin/sh", "args": []string{"-c", "touch /tmp/pwned"}}},
		{"launch", map[string]any{"program": "/etc"}},
		{"launch", map[string]any{"program": "/workspace", "cwd": "../.."}},
		{"launch", map[string]any{"program": "/workspace", "buildFlags": "-toolexec=/bin/sh"}},
		{"launch", map[string]any{"program": "/workspace", "buildFlags": "-ldflags=-extld=/bin/sh"}},
		{"launch", map[string]any{"program": "/workspace", "env": map[string]any{"LD_PRELOAD": "/tmp/x.so"}}},
		{"launch", map[string]any{"program": "/workspace", "dlvCwd": "/"}},
		{"launch", map[string]any{"program": "/workspace", "output": "/tmp/x"}},
		{"launch", map[string]any{"mode": "core", "program": "/workspace", "coreFilePath": "/etc/shadow"}},
		{"launch", map[string]any{"mode": "replay", "traceDirPath": "/tmp"}},
		{"launch", map[string]any{"program": "/workspace", "substitutePath": []any{map[string]any{"from": "/workspace", "to": "/"}}}},
		{"launch", map[string]any{"program": "/workspace", "backend": "rr"}},
		{"attach", map[string]any{"mode": "local", "processId": os.Getpid()}},
		{"restart", map[string]any{}},
		{"runInTerminal", map[string]any{"args": []string{"/bin/sh"}}},
		{"setBreakpoints", map[string]any{"source": map[string]any{"path": "/etc/passwd"}, "breakpoints": []any{map[string]any{"line": 1}}}},
		{"setBreakpoints", map[string]any{"source": map[string]any{"path": "../../etc/passwd"}, "breakpoints": []any{map[string]any{"line": 1}}}},
		{"evaluate", map[string]any{"expression": "dlv config substitutePath / /workspace", "context": "repl"}},
	}
	for _, r := range refused {
		resp := c.response(c.send(r.command, r.args))
		if resp.str("success") != "false" || resp.str("message") == "" {
			t.Errorf("%s %v: %v", r.command, r.args, resp)
		}
	}
	c.p.in <- []byte(`{not json`)
	c.await("output about malformed JSON", waitLong, func(m msg) bool {
		return m.str("event") == "output" && strings.Contains(m.str("body", "output"), "not a valid DAP")
	})
	if ps := processesUnder(f.tmp); len(ps) != 1 || !strings.Contains(ps[0], "dap --client-addr") {
		t.Errorf("processes after refusals: %v, want only dlv", ps)
	}
	ents, _ := os.ReadDir(f.tmp)
	for _, e := range ents {
		if sub, _ := os.ReadDir(f.tmp + "/" + e.Name()); len(sub) != 0 {
			t.Errorf("session directory holds %v", sub)
		}
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Error("/tmp/pwned exists")
	}
	c.assertNoHostPath(f.secrets)

	// dlv killed mid-session: terminated, then Serve ends cleanly.
	for _, p := range processesUnder(f.tmp) {
		pid := num(strings.SplitN(p, ":", 2)[0])
		proc, err := os.FindProcess(pid)
		if err == nil {
			_ = proc.Kill()
		}
	}
	c.event("terminated")
	select {
	case <-c.served:
		if c.err != nil {
			t.Errorf("Serve = %v", c.err)
		}
	case <-time.After(waitLong):
		t.Fatal("Serve did not return after dlv died")
	}
	assertGone(t, f)
}

func TestSessionLimits(t *testing.T) {
	dlv := requireDlv(t)
	f := newFixture(t, dlv, nil)
	var open []*dap.Session
	for range 2 {
		s, err := f.m.Open(f.h)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
	}
	if _, err := f.m.Open(f.h); !errors.Is(err, dap.ErrLimit) || !errors.Is(err, bridge.ErrLimit) {
		t.Fatalf("third session: %v, want ErrLimit", err)
	}
	open[0].Close()
	s, err := f.m.Open(f.h)
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	s.Close()
	open[1].Close()
}
