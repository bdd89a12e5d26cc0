package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/creack/pty"
)

// stdio holds the descriptors and copying goroutines of one process.
type stdio struct {
	child  []*os.File // the child's ends; closed in the parent after start
	stdinW *os.File   // parent end of the stdin pipe; closed when the process ended
	stdin  io.Reader  // copied into stdinW
	outs   []outCopy  // output pipes and where they go
	ptmx   *os.File   // PTY master, owned by Process

	wg   sync.WaitGroup // output copiers
	errs []error        // one per output copier
}

type outCopy struct {
	r *os.File
	w io.Writer
}

// setup wires c's standard streams (or a PTY) into cmd.
func (s *stdio) setup(c *Cmd, cmd *exec.Cmd) error {
	if c.PTY != nil {
		ptmx, tty, err := pty.Open()
		if err != nil {
			return fmt.Errorf("open pty: %w", err)
		}
		if err := pty.Setsize(ptmx, &pty.Winsize{Rows: c.PTY.Rows, Cols: c.PTY.Cols}); err != nil {
			_ = ptmx.Close()
			_ = tty.Close()
			return fmt.Errorf("size pty: %w", err)
		}
		s.ptmx = ptmx
		s.child = append(s.child, tty)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		return nil
	}
	switch in := c.Stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = in
	default:
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("stdin pipe: %w", err)
		}
		s.child = append(s.child, r)
		s.stdinW, s.stdin = w, in
		cmd.Stdin = r
	}
	var err error
	if cmd.Stdout, err = s.output(c.Stdout); err != nil {
		s.abort()
		return err
	}
	if c.Stderr != nil && sameWriter(c.Stdout, c.Stderr) {
		cmd.Stderr = cmd.Stdout // one pipe keeps the interleaving
		return nil
	}
	if cmd.Stderr, err = s.output(c.Stderr); err != nil {
		s.abort()
		return err
	}
	return nil
}

// output returns what the child writes to for w.
func (s *stdio) output(w io.Writer) (io.Writer, error) {
	switch w := w.(type) {
	case nil:
		return nil, nil // os/exec opens /dev/null
	case *os.File:
		return w, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	s.child = append(s.child, pw)
	s.outs = append(s.outs, outCopy{r: r, w: w})
	return pw, nil
}

// sameWriter reports a == b without panicking on uncomparable types.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// started closes the child's ends in the parent (so that a PTY master or a
// pipe sees EOF once the children close theirs) and starts the copiers.
func (s *stdio) started() {
	for _, f := range s.child {
		_ = f.Close()
	}
	s.child = nil
	if s.stdinW != nil {
		w, in := s.stdinW, s.stdin
		go func() { // not waited for: in.Read may block until the caller closes it
			_, _ = io.Copy(w, in)
			_ = w.Close()
		}()
	}
	s.errs = make([]error, len(s.outs))
	for i, o := range s.outs {
		s.wg.Go(func() {
			_, err := io.Copy(o.w, o.r)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = errors.New("output still held open after the process ended")
			}
			s.errs[i] = err
			_ = o.r.Close()
		})
	}
}

// abort releases everything after a failed start.
func (s *stdio) abort() {
	for _, f := range s.child {
		_ = f.Close()
	}
	s.child = nil
	for _, o := range s.outs {
		_ = o.r.Close()
	}
	s.outs = nil
	if s.stdinW != nil {
		_ = s.stdinW.Close()
	}
	if s.ptmx != nil {
		_ = s.ptmx.Close()
		s.ptmx = nil
	}
}

// finish is called once the process and what it left have ended. It stops
// feeding stdin and waits for the output copiers; if some untracked process
// still holds an output pipe after limit, the reads are cut off.
func (s *stdio) finish(limit time.Duration) error {
	if s.stdinW != nil {
		_ = s.stdinW.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		for _, o := range s.outs {
			_ = o.r.SetReadDeadline(time.Now())
		}
		<-done
	}
	if err := errors.Join(s.errs...); err != nil {
		return fmt.Errorf("copy output: %w", err)
	}
	return nil
}
