package sandbox_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ideserver/ideserver/sandbox"
)

// escapeScript starts a child of every kind that escapes a plain process
// group kill; each writes its pid to a file in $D.
const escapeScript = `
sleep 1000 & echo $! > "$D/bg"
nohup sh -c 'echo $$ > "$D/nohup"; exec sleep 1000' >/dev/null 2>&1 &
setsid sh -c 'echo $$ > "$D/setsid"; exec sleep 1000' </dev/null >/dev/null 2>&1 &
(sh -c 'sh -c '\''echo $$ > "$D/dfork"; exec sleep 1000'\'' &' &)
sh -c 'trap "" TERM HUP; echo $$ > "$D/noterm"; exec sleep 1000' &
`

var escapeNames = []string{"bg", "nohup", "setsid", "dfork", "noterm"}

func TestCloseKillsEscapees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pty  bool
		ctx  bool // end by cancelling the context instead of Close
	}{
		{"pipes close", false, false},
		{"pipes cancel", false, true},
		{"pty close", true, false},
		{"pty cancel", true, true},
	}
	r := newRunner(t, "escape")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "escape.sh"), []byte(escapeScript), 0o600); err != nil {
				t.Fatal(err)
			}
			var c sandbox.Cmd
			if tt.pty {
				c = bashCmd(t, "D="+dir)
			} else {
				c = shCmd(t, `. "$D/escape.sh"; exec sleep 1000`)
				c.Env = baseEnv("D=" + dir)
				c.Stdout = new(lockedBuffer) // a pipe the children inherit
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			p, err := r.Start(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var pr *ptyReader
			if tt.pty {
				pr = readPTY(p.PTY())
				if _, err := p.PTY().Write([]byte(`. "$D/escape.sh"` + "\n")); err != nil {
					t.Fatal(err)
				}
			}
			pids := readPids(t, dir, escapeNames...)
			for name, pid := range pids {
				if !alive(pid) {
					t.Fatalf("%s child %d not running", name, pid)
				}
			}

			if tt.ctx {
				cancel()
				<-p.Done()
				_, err := p.Wait()
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Wait error = %v, want context.Canceled", err)
				}
				if tt.pty {
					// The master is still open: EIO comes from the kill.
					if err := pr.ended(t); !errors.Is(err, syscall.EIO) {
						t.Errorf("pty read = %v, want EIO", err)
					}
				}
			} else {
				if err := p.Close(); err != nil {
					t.Fatalf("Close = %v", err)
				}
				if _, err := p.Wait(); !errors.Is(err, sandbox.ErrStopped) {
					t.Errorf("Wait error = %v, want ErrStopped", err)
				}
			}
			for name, pid := range pids {
				if alive(pid) {
					t.Errorf("%s child %d survived", name, pid)
				}
			}
			if alive(p.Pid()) {
				t.Errorf("main process %d survived", p.Pid())
			}
			if err := p.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
			if tt.pty {
				pr.ended(t)
			}
		})
	}
}

// TestLeaderExitCleansUp: what the main process leaves behind is killed when
// it exits on its own.
func TestLeaderExitCleansUp(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "leaderexit")
	dir := t.TempDir()
	c := shCmd(t, `setsid sh -c 'echo $$ > "$D/p"; exec sleep 1000' &
while [ ! -s "$D/p" ]; do sleep 0.01; done
exit 0`)
	c.Env = baseEnv("D=" + dir)
	p, err := r.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil || st != (sandbox.ExitStatus{}) {
		t.Errorf("Wait = %+v, %v; want code 0, nil", st, err)
	}
	pid := readPids(t, dir, "p")["p"]
	if alive(pid) {
		t.Errorf("setsid child %d outlived the main process", pid)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(waitShort):
		t.Fatal("Close after Done blocked")
	}
}

// TestCloseSparesOthers: closing one process touches neither another process
// of the same runner, nor one of another runner (another Instance), nor a
// process the server started itself, nor the server.
func TestCloseSparesOthers(t *testing.T) {
	t.Parallel()
	ra, rb := newRunner(t, "sparesA"), newRunner(t, "sparesB")
	start := func(r *sandbox.Runner, dir string) *sandbox.Process {
		c := shCmd(t, `setsid sh -c 'echo $$ > "$D/p"; exec sleep 1000' & exec sleep 1000`)
		c.Env = baseEnv("D=" + dir)
		p, err := r.Start(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	victim, sibling, other := start(ra, dirs[0]), start(ra, dirs[1]), start(rb, dirs[2])
	var kids []int
	for _, d := range dirs {
		kids = append(kids, readPids(t, d, "p")["p"])
	}
	bystander := exec.Command("sleep", "1000")
	bystander.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bystander.Process.Kill(); _ = bystander.Wait() }()

	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(victim.Pid()) || alive(kids[0]) {
		t.Error("victim or its child survived")
	}
	for name, pid := range map[string]int{
		"sibling": sibling.Pid(), "sibling child": kids[1],
		"other runner": other.Pid(), "other runner child": kids[2],
		"bystander": bystander.Process.Pid,
	} {
		if !alive(pid) {
			t.Errorf("%s %d was killed", name, pid)
		}
	}
	if n := ra.Count(); n != 1 {
		t.Errorf("runner A Count = %d, want 1", n)
	}
}

func TestRunnerClose(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "runnerclose")
	var procs []*sandbox.Process
	var kids []int
	for i := range 3 {
		dir := t.TempDir()
		c := shCmd(t, `setsid sh -c 'echo $$ > "$D/p"; exec sleep 1000' & exec sleep 1000`)
		c.Env = baseEnv("D=" + dir)
		if i == 0 {
			c = bashCmd(t, "D="+dir)
		}
		p, err := r.Start(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := p.PTY().Write([]byte(`setsid sh -c 'echo $$ > "$D/p"; exec sleep 1000' &` + "\n")); err != nil {
				t.Fatal(err)
			}
		}
		procs = append(procs, p)
		kids = append(kids, readPids(t, dir, "p")["p"])
	}
	if n := r.Count(); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := r.Count(); n != 0 {
		t.Errorf("Count after Close = %d", n)
	}
	for i, p := range procs {
		if alive(p.Pid()) || alive(kids[i]) {
			t.Errorf("process %d or its child survived Runner.Close", i)
		}
	}
	if _, err := r.Start(t.Context(), shCmd(t, "true")); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}
