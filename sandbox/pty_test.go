package sandbox_test

import (
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ideserver/ideserver/sandbox"
)

// ptyReader is the single reader of a PTY master.
type ptyReader struct {
	mu     sync.Mutex
	buf    strings.Builder
	notify chan struct{} // signalled after each read
	done   chan struct{} // closed when Read failed
	err    error         // set before done is closed
}

func readPTY(f *os.File) *ptyReader {
	pr := &ptyReader{notify: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			pr.mu.Lock()
			pr.buf.Write(b[:n])
			pr.mu.Unlock()
			select {
			case pr.notify <- struct{}{}:
			default:
			}
			if err != nil {
				pr.err = err
				close(pr.done)
				return
			}
		}
	}()
	return pr
}

// expect waits until the output holds s.
func (pr *ptyReader) expect(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(waitShort)
	for {
		pr.mu.Lock()
		out := pr.buf.String()
		pr.mu.Unlock()
		if strings.Contains(out, s) {
			return
		}
		select {
		case <-pr.notify:
		case <-pr.done:
			t.Fatalf("pty closed (%v) before %q; output %q", pr.err, s, out)
		case <-timeout:
			t.Fatalf("timed out waiting for %q; output %q", s, out)
		}
	}
}

// ended waits until the reader got an error and returns it.
func (pr *ptyReader) ended(t *testing.T) error {
	t.Helper()
	select {
	case <-pr.done:
		return pr.err
	case <-time.After(waitShort):
		t.Fatal("pty read did not end")
		return nil
	}
}

func bashCmd(t *testing.T, extraEnv ...string) sandbox.Cmd {
	return sandbox.Cmd{
		Kind: "terminal", Owner: "t1", Workspace: "w1",
		Path: "bash", Args: []string{"--norc", "--noprofile", "-i"},
		Env: baseEnv(append([]string{"TERM=dumb", "PS1=$ "}, extraEnv...)...),
		Dir: t.TempDir(), PTY: &sandbox.Winsize{Cols: 80, Rows: 24},
	}
}

func TestPTYEchoResizeExit(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "pty")
	p, err := r.Start(t.Context(), bashCmd(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pr := readPTY(p.PTY())
	write := func(s string) {
		if _, err := p.PTY().Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write("echo AB$((40+2))CD\n")
	pr.expect(t, "AB42CD")

	write("stty size\n")
	pr.expect(t, "24 80")
	if err := p.Resize(sandbox.Winsize{Cols: 100, Rows: 40}); err != nil {
		t.Fatal(err)
	}
	write("stty size\n")
	pr.expect(t, "40 100")

	write("exit 5\n")
	if err := pr.ended(t); !errors.Is(err, syscall.EIO) {
		t.Errorf("read after exit = %v, want EIO", err)
	}
	st, err := p.Wait()
	if err != nil || st.Code != 5 {
		t.Errorf("Wait = %+v, %v; want code 5", st, err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := p.Resize(sandbox.Winsize{Cols: 1, Rows: 1}); err == nil {
		t.Error("Resize after Close succeeded")
	}
}

// TestPTYOrphanHoldsSlave is TTY-07: a setsid'ed grandchild keeps the slave
// open after the shell exits; the cleanup kills it, so the master reads EIO
// without anyone closing the master.
func TestPTYOrphanHoldsSlave(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "ptyorphan")
	dir := t.TempDir()
	p, err := r.Start(t.Context(), bashCmd(t, "D="+dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pr := readPTY(p.PTY())
	if _, err := p.PTY().Write([]byte(`setsid sh -c 'echo $$ > "$D/p"; exec sleep 1000' &` + "\n")); err != nil {
		t.Fatal(err)
	}
	pid := readPids(t, dir, "p")["p"]
	if !alive(pid) {
		t.Fatalf("setsid child %d not running", pid)
	}
	if _, err := p.PTY().Write([]byte("exit\n")); err != nil {
		t.Fatal(err)
	}
	if err := pr.ended(t); !errors.Is(err, syscall.EIO) {
		t.Errorf("read = %v, want EIO", err)
	}
	<-p.Done()
	if alive(pid) {
		t.Errorf("setsid child %d survived the shell", pid)
	}
}
