package sandbox_test

import (
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

// BenchmarkStartWait is the cost of one short-lived process: start, exit,
// cleanup scan, reap.
func BenchmarkStartWait(b *testing.B) {
	r, err := sandbox.New(sandbox.Options{Instance: instancePrefix + "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := sandbox.Cmd{Kind: "run", Owner: "t1", Path: "true", Env: baseEnv(), Dir: "/"}
	for b.Loop() {
		p, err := r.Start(b.Context(), c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartClose is the cost of ending a running process with Close.
func BenchmarkStartClose(b *testing.B) {
	r, err := sandbox.New(sandbox.Options{Instance: instancePrefix + "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := sandbox.Cmd{Kind: "run", Owner: "t1", Path: "sleep", Args: []string{"1000"}, Env: baseEnv(), Dir: "/"}
	for b.Loop() {
		p, err := r.Start(b.Context(), c)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPTYStartClose is a terminal's lifetime: bash on a PTY, closed.
func BenchmarkPTYStartClose(b *testing.B) {
	r, err := sandbox.New(sandbox.Options{Instance: instancePrefix + "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := sandbox.Cmd{
		Kind: "terminal", Owner: "t1", Path: "bash", Args: []string{"--norc", "--noprofile", "-i"},
		Env: baseEnv("TERM=dumb"), Dir: "/", PTY: &sandbox.Winsize{Cols: 80, Rows: 24},
	}
	for b.Loop() {
		p, err := r.Start(b.Context(), c)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
