package terminal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/terminal"
	"github.com/ideserver/ideserver/workspace"
)

func TestEchoUTF8AndResize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.create(t, terminal.CreateOptions{Cols: 80, Rows: 24})
	c := e.attach(t, s, false)
	c.send("echo $((40+2))-ok; printf '\\xe2\\x82\\xac \\xc3\\xa9\\n'\n")
	c.expect(t, "42-ok")
	c.expect(t, "€ é")
	c.control(`{"type":"resize","cols":100,"rows":30}`)
	c.send("stty size\n")
	c.expect(t, "30 100")
	if i := s.Info(); i.Cols != 100 || i.Rows != 30 {
		t.Errorf("Info size = %dx%d, want 100x30", i.Cols, i.Rows)
	}
	// The default environment: TERM, LANG, the workspace directory.
	c.send("echo \"T=$TERM L=$LANG\"; pwd\n")
	c.expect(t, "T=xterm-256color L=C.UTF-8")
	c.expect(t, e.dir)
}

// TestBadControlMessages (TTY-10): zero, negative and huge resizes are
// refused and leave the size alone (TestLimits: the same at creation).
func TestBadControlMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.create(t, terminal.CreateOptions{})
	c := e.attach(t, s, false)
	for _, m := range []string{
		`not json`,
		`{"type":"paint"}`,
		`{"type":"resize","cols":0,"rows":24}`,
		`{"type":"resize","cols":-1,"rows":24}`,
		`{"type":"resize","cols":100000,"rows":24}`,
		`{"type":"resize","cols":80}`,
	} {
		c.control(m)
	}
	c.waitFor(t, "six error replies", func() bool { return len(c.controls()) >= 6 })
	for _, m := range c.controls() {
		if !strings.HasPrefix(m, `{"type":"error"`) {
			t.Errorf("reply %s, want an error message", m)
		}
	}
	// Binary garbage goes to the PTY; the attachment goes on.
	c.send("echo ready-$((1+1))\n")
	c.expect(t, "ready-2")
	c.send("\xff\xfe\x01\x15")
	c.send("echo still-$((1+2))\n")
	c.expect(t, "still-3")
	if i := s.Info(); i.Cols != terminal.DefaultCols || i.Rows != terminal.DefaultRows {
		t.Errorf("size changed to %dx%d by refused resizes", i.Cols, i.Rows)
	}
}

func TestInputTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *terminal.Options) { o.MaxInput = 1024 })
	s := e.create(t, terminal.CreateOptions{})
	c := e.attach(t, s, false)
	c.send(strings.Repeat("x", 2048))
	if err := c.wait(t, "end"); !errors.Is(err, terminal.ErrInputTooLarge) {
		t.Fatalf("Attach = %v, want ErrInputTooLarge", err)
	}
	if err := c.closeFrame(t); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("client saw %v, want a 1009 close", err)
	}
}

func TestReattachReplaysOnceAndTwoClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.create(t, terminal.CreateOptions{})
	c1 := e.attach(t, s, false)
	c1.send("echo first-$((6*7))\n")
	c1.expect(t, "first-42")
	if err := c1.detach(t); err == nil {
		t.Log("detached")
	}
	if n := s.Info().Clients; n != 0 {
		t.Fatalf("clients after detach = %d", n)
	}
	// Output while nobody is attached is kept too.
	c2 := e.attach(t, s, false)
	c2.expect(t, "first-42")
	c3 := e.attach(t, s, false)
	c3.expect(t, "first-42")
	c2.send("echo second-$((6*8))\n")
	c2.expect(t, "second-48")
	c3.expect(t, "second-48")
	for _, c := range []*client{c2, c3} {
		out := c.output()
		if n := strings.Count(out, "first-42"); n != 1 {
			t.Errorf("replay holds first-42 %d times: %q", n, out)
		}
	}
	// Both see the same bytes: c3 attached later, so its replay and the
	// live output together equal c2's stream.
	c2.send("exit 3\n")
	for _, c := range []*client{c2, c3} {
		c.waitFor(t, "exit message", func() bool {
			cs := c.controls()
			return len(cs) > 0 && cs[len(cs)-1] == `{"type":"exit","code":3}`
		})
		if code, reason := bridge.CloseCode(c.wait(t, "end after exit")); code != bridge.CloseNormal || reason != "terminal exited" {
			t.Errorf("Attach after exit closes with %d %q, want 1000 \"terminal exited\"", code, reason)
		}
	}
	if c2.output() != c3.output() {
		t.Errorf("clients saw different bytes:\n%q\n%q", c2.output(), c3.output())
	}
	if _, err := e.m.Get(e.h, s.ID()); !errors.Is(err, terminal.ErrNotFound) {
		t.Errorf("exited terminal still listed after delivery: %v", err)
	}
}

func TestExitWithoutClientKeptUntilDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.create(t, terminal.CreateOptions{Command: []string{"sh", "-c", "echo bye-$((2+3)); exit 7"}})
	select {
	case <-s.Done():
	case <-time.After(waitShort):
		t.Fatal("command did not end")
	}
	l := e.m.List(e.h)
	if len(l) != 1 || !l[0].Exited || l[0].ExitCode != 7 {
		t.Fatalf("List = %+v, want the exited terminal with code 7", l)
	}
	c := e.attach(t, s, false)
	c.waitFor(t, "exit", func() bool { return len(c.controls()) > 0 })
	if !strings.Contains(c.output(), "bye-5") || c.controls()[0] != `{"type":"exit","code":7}` {
		t.Errorf("output %q control %q", c.output(), c.controls())
	}
	c.detach(t)
	if l := e.m.List(e.h); len(l) != 0 {
		t.Errorf("List after delivery = %+v", l)
	}
}

func TestDeleteKillsEverything(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.create(t, terminal.CreateOptions{})
	c := e.attach(t, s, false)
	c.send("sleep 1000 & setsid sleep 1000 & nohup sleep 1000 >/dev/null 2>&1 & echo started-$((1+1))\n")
	c.expect(t, "started-2")
	waitPids(t, e.instance, func(n int) bool { return n >= 4 }) // bash + 3 sleeps
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	if err := e.m.Delete(ctx, e.h, s.ID()); err != nil {
		t.Fatal(err)
	}
	if pids := markedPids(e.instance); len(pids) > 0 {
		t.Fatalf("processes survived Delete: %v", pids)
	}
	select {
	case <-s.Done(): // the read loop ended
	default:
		t.Fatal("reader still running after Delete")
	}
	c.waitFor(t, "exit message", func() bool {
		cs := c.controls()
		return len(cs) > 0 && strings.HasPrefix(cs[len(cs)-1], `{"type":"exit"`)
	})
	if _, err := e.m.Get(e.h, s.ID()); !errors.Is(err, terminal.ErrNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	if err := e.m.Delete(ctx, e.h, s.ID()); !errors.Is(err, terminal.ErrNotFound) {
		t.Errorf("second Delete = %v", err)
	}
}

// waitPids waits until the count of the instance's live processes satisfies ok.
func waitPids(tb testing.TB, instance string, ok func(int) bool) {
	tb.Helper()
	deadline := time.Now().Add(waitShort)
	for !ok(len(markedPids(instance))) {
		if time.Now().After(deadline) {
			tb.Fatalf("process count %d never as expected", len(markedPids(instance)))
		}
		time.Sleep(10 * time.Millisecond) // polling the process table
	}
}

// TestStalledClientDuringFlood (TTY-04): an output flood while one
// client reads nothing: the buffer is the bounded scrollback, the other
// client and the shell go on, and the stalled one resumes after an
// overrun notice with no more than the scrollback.
func TestStalledClientDuringFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.create(t, terminal.CreateOptions{})
	stalled := e.attach(t, s, true)
	live := e.attach(t, s, false)
	// About 4 MiB, 16 scrollbacks, while one client reads nothing.
	live.send("head -c 3000000 /dev/zero | od -v -An -tx1 | head -c 4000000; echo; echo flood-$((3*3))-done\n")
	live.expect(t, "flood-9-done")
	live.send("echo alive-$((5*5))\n")
	live.expect(t, "alive-25")
	// The stalled client resumes at the oldest retained byte and is told.
	close(stalled.stall)
	stalled.expect(t, "alive-25")
	if cs := stalled.controls(); len(cs) == 0 || cs[0] != `{"type":"overrun"}` {
		t.Errorf("stalled client's control messages %q, want an overrun first", cs)
	}
	if n := len(stalled.output()); n > 2*terminal.DefaultScrollback {
		t.Errorf("stalled client received %d bytes, more than the scrollback allows", n)
	}
}

// TestLimits: terminal counts per workspace and tenant, sizes at creation
// (TTY-10), commands, and another tenant's terminal id is not found
// (TTY-11).
func TestLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *terminal.Options) { o.MaxPerWorkspace = 2; o.MaxPerTenant = 3 })
	ctx := context.Background()
	sh := terminal.CreateOptions{Command: []string{"sleep", "1000"}}
	w1, w2, w3 := e.h, e.handle(t, owner1), e.handle(t, workspace.Owner{Tenant: "t1", User: "u2"})
	t2, t3 := workspace.Owner{Tenant: "t2", User: "u1"}, workspace.Owner{Tenant: "t3", User: "u1"}
	for range 2 {
		if _, err := e.m.Create(ctx, w1, sh); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.Create(ctx, w1, sh); !errors.Is(err, terminal.ErrLimit) {
		t.Errorf("third in workspace: %v, want ErrLimit", err)
	}
	if _, err := e.m.Create(ctx, w2, sh); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Create(ctx, w3, sh); !errors.Is(err, terminal.ErrLimit) {
		t.Errorf("fourth of tenant: %v, want ErrLimit", err)
	}
	if _, err := e.m.Create(ctx, e.handle(t, t2), sh); err != nil {
		t.Errorf("other tenant: %v", err)
	}
	other := e.handle(t, t3)
	for _, o := range []terminal.CreateOptions{
		{Cols: 0, Rows: 5}, {Cols: -1, Rows: 5}, {Cols: 5000, Rows: 5}, {Cols: 80, Rows: 1001},
	} {
		if _, err := e.m.Create(ctx, other, o); !errors.Is(err, terminal.ErrInvalidSize) {
			t.Errorf("Create %dx%d: %v, want ErrInvalidSize", o.Cols, o.Rows, err)
		}
	}
	for _, cmd := range [][]string{{}, {""}, {"a\x00b"}} {
		if _, err := e.m.Create(ctx, other, terminal.CreateOptions{Command: cmd}); !errors.Is(err, terminal.ErrInvalidCommand) {
			t.Errorf("Create %q: %v, want ErrInvalidCommand", cmd, err)
		}
	}
	// Tenants and workspaces are kept apart.
	l := e.m.List(w1)
	if len(l) != 2 {
		t.Fatalf("List of w1 = %d terminals", len(l))
	}
	// A handle of another tenant on w1 (which Open never gives: the
	// manager keeps owners apart on its own).
	if _, err := e.m.Get(&workspace.Handle{Owner: t2, WorkspaceID: w1.WorkspaceID}, l[0].ID); !errors.Is(err, terminal.ErrNotFound) {
		t.Errorf("other tenant's Get: %v", err)
	}
	if err := e.m.Delete(ctx, w2, l[0].ID); !errors.Is(err, terminal.ErrNotFound) {
		t.Errorf("Delete through another workspace: %v", err)
	}
	if err := e.m.StopWorkspace(ctx, w1.WorkspaceID); err != nil {
		t.Fatal(err)
	}
	if l := e.m.List(w1); len(l) != 0 {
		t.Errorf("List after StopWorkspace = %+v", l)
	}
	if l := e.m.List(w2); len(l) != 1 {
		t.Errorf("StopWorkspace(w1) ended w2's terminal too")
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *terminal.Options) { o.IdleTimeout = 200 * time.Millisecond })
	s := e.create(t, terminal.CreateOptions{})
	c := e.attach(t, s, false)
	c.send("echo x-$((1+1))\n")
	c.expect(t, "x-2")
	// While attached, the timer does not run.
	select {
	case <-s.Done():
		t.Fatal("attached terminal ended by the idle timer")
	case <-time.After(500 * time.Millisecond):
	}
	c.detach(t)
	select {
	case <-s.Done():
	case <-time.After(waitShort):
		t.Fatal("detached terminal not ended by the idle timer")
	}
	waitPids(t, e.instance, func(n int) bool { return n == 0 })
}

func TestCloseThenCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.create(t, terminal.CreateOptions{})
	c := e.attach(t, s, false)
	c.send("sleep 1000 &\n")
	ctx := context.Background()
	if err := e.m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if pids := markedPids(e.instance); len(pids) > 0 {
		t.Fatalf("processes survived Close: %v", pids)
	}
	if _, err := e.m.Create(ctx, e.h, terminal.CreateOptions{}); !errors.Is(err, terminal.ErrClosed) {
		t.Errorf("Create after Close: %v", err)
	}
}

func TestExplicitCommandAndEnvironment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := os.WriteFile(filepath.Join(e.dir, "f.txt"), []byte("in-workspace"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e.create(t, terminal.CreateOptions{Command: []string{"cat", "f.txt"}})
	c := e.attach(t, s, false)
	c.expect(t, "in-workspace")
	c.waitFor(t, "exit", func() bool { return len(c.controls()) > 0 })
	if got := c.controls()[0]; got != `{"type":"exit","code":0}` {
		t.Errorf("exit = %s", got)
	}
	if _, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{Command: []string{"no-such-program-" + strconv.Itoa(os.Getpid())}}); err == nil || strings.Contains(err.Error(), e.dir) {
		t.Errorf("unknown program: %v", err)
	}
}

// TestReaderHoldsNoThread: a terminal waiting for output parks its reader
// in the runtime's poller ("IO wait") instead of holding an OS thread in
// read(2) ("syscall"), which for an idle terminal was a thread and its
// stacks, and sat in every echo.
func TestReaderHoldsNoThread(t *testing.T) {
	e := newEnv(t)
	term := e.create(t, terminal.CreateOptions{Command: []string{"sh", "-c", "echo ready; exec cat"}})
	c := e.attach(t, term, false)
	c.expect(t, "ready")
	deadline := time.Now().Add(waitShort)
	for {
		state := readerState()
		if state == "IO wait" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal's reader is in state %q, want IO wait", state)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Input and resizes go through the same descriptor.
	c.control(`{"type":"resize","cols":101,"rows":31}`)
	c.send("still here\n")
	c.expect(t, "still here")
}

// readerState is the state of the goroutines running a terminal's
// readLoop in a dump of all goroutines: "IO wait" when all are parked in
// the poller, else the first other state ("" if there is none).
func readerState() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	found := ""
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "terminal.(*Terminal).readLoop") {
			continue
		}
		head, _, _ := strings.Cut(g, "\n") // goroutine N [state, 2 minutes]:
		_, state, _ := strings.Cut(head, "[")
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",")
		if state != "IO wait" {
			return state
		}
		found = state
	}
	return found
}
