package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

// shCmd returns a Cmd running script with sh in a temporary directory.
func shCmd(t *testing.T, script string) sandbox.Cmd {
	return sandbox.Cmd{
		Kind: "run", Owner: "t1", Workspace: "w1",
		Path: "sh", Args: []string{"-c", script},
		Env: baseEnv(), Dir: t.TempDir(),
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "exit")
	tests := []struct {
		name   string
		script string
		want   sandbox.ExitStatus
	}{
		{"zero", "exit 0", sandbox.ExitStatus{Code: 0}},
		{"three", "exit 3", sandbox.ExitStatus{Code: 3}},
		{"killed", "kill -9 $$", sandbox.ExitStatus{Code: -1, Signal: "killed"}},
		{"terminated", "kill -TERM $$", sandbox.ExitStatus{Code: -1, Signal: "terminated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := r.Start(t.Context(), shCmd(t, tt.script))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Wait()
			if err != nil {
				t.Errorf("Wait error = %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("Wait = %+v, want %+v", got, tt.want)
			}
			if err := p.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
		})
	}
}

func TestStdio(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "stdio")
	var stdout, stderr bytes.Buffer
	c := shCmd(t, "cat; echo out; echo err >&2")
	c.Stdin = strings.NewReader("in\n")
	c.Stdout, c.Stderr = &stdout, &stderr
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "in\nout\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := stderr.String(), "err\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}

	// One writer for both keeps the order.
	var both bytes.Buffer
	c = shCmd(t, "echo 1; echo 2 >&2; echo 3")
	c.Stdout, c.Stderr = &both, &both
	p, err = r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if got, want := both.String(), "1\n2\n3\n"; got != want {
		t.Errorf("combined = %q, want %q", got, want)
	}
}

func TestDir(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "dir")
	var out bytes.Buffer
	c := shCmd(t, "pwd -P")
	c.Stdout = &out
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(c.Dir)
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("pwd = %q, want %q", got, want)
	}
}

// TestEnvExact checks the child sees exactly Cmd.Env plus the marker: not
// the server's environment, and not a marker smuggled in through Env.
func TestEnvExact(t *testing.T) {
	t.Setenv("SANDBOX_TEST_CANARY", "leaked")
	r := newRunner(t, "env")
	var out bytes.Buffer
	c := shCmd(t, "")
	c.Path, c.Args = "env", nil
	c.Env = baseEnv("FOO=bar", sandbox.MarkerVar+"=forged/1")
	c.Stdout = &out
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if slices.ContainsFunc(got, func(kv string) bool { return strings.Contains(kv, "CANARY") }) {
		t.Errorf("server environment leaked: %q", got)
	}
	var marker string
	rest := slices.DeleteFunc(slices.Clone(got), func(kv string) bool {
		if strings.HasPrefix(kv, sandbox.MarkerVar+"=") {
			marker = kv
			return true
		}
		return false
	})
	if want := baseEnv("FOO=bar"); !slices.Equal(rest, want) {
		t.Errorf("env without marker = %q, want %q", rest, want)
	}
	if !strings.HasPrefix(marker, sandbox.MarkerVar+"="+instancePrefix+"env/") {
		t.Errorf("marker = %q, want the runner's", marker)
	}
	if n := strings.Count(out.String(), sandbox.MarkerVar+"="); n != 1 {
		t.Errorf("%d marker entries, want 1", n)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "starterr")
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	valid := func() sandbox.Cmd {
		return sandbox.Cmd{Kind: "run", Owner: "t1", Path: "true", Env: baseEnv(), Dir: dir}
	}
	tests := []struct {
		name   string
		modify func(*sandbox.Cmd)
		want   error
	}{
		{"no kind", func(c *sandbox.Cmd) { c.Kind = "" }, sandbox.ErrInvalidCmd},
		{"no tenant", func(c *sandbox.Cmd) { c.Owner = "" }, sandbox.ErrInvalidCmd},
		{"no path", func(c *sandbox.Cmd) { c.Path = "" }, sandbox.ErrInvalidCmd},
		{"no dir", func(c *sandbox.Cmd) { c.Dir = "" }, sandbox.ErrInvalidCmd},
		{"relative dir", func(c *sandbox.Cmd) { c.Dir = "." }, sandbox.ErrInvalidCmd},
		{"dir is a file", func(c *sandbox.Cmd) { c.Dir = file }, sandbox.ErrInvalidCmd},
		{"missing dir", func(c *sandbox.Cmd) { c.Dir = filepath.Join(dir, "nope") }, sandbox.ErrInvalidCmd},
		{"pty with stdout", func(c *sandbox.Cmd) { c.PTY = &sandbox.Winsize{Cols: 80, Rows: 24}; c.Stdout = os.Stdout }, sandbox.ErrInvalidCmd},
		{"bad env", func(c *sandbox.Cmd) { c.Env = []string{"NOEQUALS"} }, sandbox.ErrInvalidCmd},
		{"bad network", func(c *sandbox.Cmd) { c.Network = 7 }, sandbox.ErrInvalidCmd},
		{"not in PATH", func(c *sandbox.Cmd) { c.Path = "no-such-tool-xyz" }, sandbox.ErrNotFound},
		{"no PATH in env", func(c *sandbox.Cmd) { c.Env = nil }, sandbox.ErrNotFound},
		{"not executable", func(c *sandbox.Cmd) { c.Path = file }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.modify(&c)
			p, err := r.Start(t.Context(), c)
			if err == nil {
				_ = p.Close()
				t.Fatal("Start succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Start error = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), dir) {
				t.Errorf("error %q holds a host path", err)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := r.Start(ctx, valid()); !errors.Is(err, context.Canceled) {
			t.Errorf("Start error = %v, want context.Canceled", err)
		}
	})
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts sandbox.Options
		ok   bool
	}{
		{"ok", sandbox.Options{Instance: "x"}, true},
		{"no instance", sandbox.Options{}, false},
		{"nul instance", sandbox.Options{Instance: "a\x00b"}, false},
		{"negative grace", sandbox.Options{Instance: "x", KillGrace: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := sandbox.New(tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("New error = %v, want ok=%v", err, tt.ok)
			}
			if r != nil {
				if err := r.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestSignalAndConcurrentWait(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "signal")
	c := shCmd(t, "")
	c.Path, c.Args = "sleep", []string{"1000"}
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Resize(sandbox.Winsize{Cols: 1, Rows: 1}); !errors.Is(err, sandbox.ErrNoPTY) {
		t.Errorf("Resize without pty = %v, want ErrNoPTY", err)
	}
	var wg sync.WaitGroup
	statuses := make([]sandbox.ExitStatus, 8)
	for i := range statuses {
		wg.Go(func() {
			var err error
			if statuses[i], err = p.Wait(); err != nil {
				t.Errorf("Wait: %v", err)
			}
		})
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, st := range statuses {
		if st.Signal != "terminated" {
			t.Errorf("waiter %d: status %+v, want terminated", i, st)
		}
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want os.ErrProcessDone", err)
	}
	for range 4 {
		wg.Go(func() {
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
}
