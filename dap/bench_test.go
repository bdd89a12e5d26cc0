package dap_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
)

const loopMain = `package main

func main() {
	n := 0
	for i := 0; ; i++ {
		n += i
		n -= i / 2
	}
}
`

// rawConn is a DAP transport for the benchmark: the proxy's client
// stream, or dlv's socket directly.
type rawConn interface {
	send(b []byte) error
	recv() ([]byte, error)
}

type pipeConn struct{ p *pipe }

func (c pipeConn) send(b []byte) error { c.p.in <- b; return nil }
func (c pipeConn) recv() ([]byte, error) {
	select {
	case b := <-c.p.out:
		return b, nil
	case <-time.After(waitLong):
		return nil, context.DeadlineExceeded
	}
}

type sockConn struct {
	c net.Conn
	r *bridge.FrameReader
}

func (c sockConn) send(b []byte) error   { return bridge.WriteFrame(c.c, b) }
func (c sockConn) recv() ([]byte, error) { return c.r.Read() }

// benchClient runs requests over a rawConn.
type benchClient struct {
	tb  testing.TB
	c   rawConn
	seq int
}

func (b *benchClient) request(command string, args any) int {
	b.seq++
	m, _ := json.Marshal(map[string]any{"seq": b.seq, "type": "request", "command": command, "arguments": args})
	if err := b.c.send(m); err != nil {
		b.tb.Fatal(err)
	}
	return b.seq
}

// until reads until a message satisfies ok.
func (b *benchClient) until(ok func(msg) bool) msg {
	for {
		raw, err := b.c.recv()
		if err != nil {
			b.tb.Fatalf("recv: %v", err)
		}
		var m msg
		if err := json.Unmarshal(raw, &m); err != nil {
			b.tb.Fatal(err)
		}
		if ok(m) {
			return m
		}
	}
}

func isResponse(seq int) func(msg) bool {
	return func(m msg) bool { return m.str("type") == "response" && m.str("request_seq") == strconv.Itoa(seq) }
}

func isEvent(name string) func(msg) bool {
	return func(m msg) bool { return m.str("type") == "event" && m.str("event") == name }
}

// stopAtLoop launches, stops at line 6 of loopMain, clears breakpoints,
// and returns the thread id and the time from launch to stopped.
func stopAtLoop(tb testing.TB, bc *benchClient, launchArgs map[string]any, file string) (int, time.Duration) {
	bc.until(isResponse(bc.request("initialize", map[string]any{"adapterID": "go", "pathFormat": "path", "linesStartAt1": true})))
	start := time.Now()
	launch := bc.request("launch", launchArgs)
	bc.until(isEvent("initialized"))
	bc.until(isResponse(bc.request("setBreakpoints", map[string]any{"source": map[string]any{"path": file}, "breakpoints": []any{map[string]any{"line": 6}}})))
	bc.until(isResponse(bc.request("configurationDone", nil)))
	_ = launch
	stopped := bc.until(isEvent("stopped"))
	d := time.Since(start)
	bc.until(isResponse(bc.request("setBreakpoints", map[string]any{"source": map[string]any{"path": file}, "breakpoints": []any{}})))
	return num(stopped.str("body", "threadId")), d
}

// openBench opens a debug session of f's workspace served over an
// in-memory pipe, and returns its client and the function that closes it
// and waits for the session to end.
func openBench(b *testing.B, f *fixture) (*benchClient, func()) {
	s, err := f.m.Open(f.h)
	if err != nil {
		b.Fatal(err)
	}
	p := newPipe()
	done := make(chan struct{})
	go func() { _ = s.ServeClient(context.Background(), p); close(done) }()
	return &benchClient{tb: b, c: pipeConn{p}}, func() { _ = p.Close(); <-done }
}

// nextLoop times b.N `next` round trips (request to the stopped event).
func nextLoop(b *testing.B, bc *benchClient, thread int) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		bc.request("next", map[string]any{"threadId": thread})
		bc.until(isEvent("stopped"))
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}

// BenchmarkNext measures a `next` round trip through the proxy and with
// dlv directly (same dlv, same program, same transport to dlv), and the
// launch → stopped time through the proxy (warm build cache).
func BenchmarkNext(b *testing.B) {
	dlv := requireDlv(b)
	files := map[string]string{"go.mod": "module loop\n\ngo 1.26\n", "main.go": loopMain}
	b.Run("proxy", func(b *testing.B) {
		f := newFixture(b, dlv, files)
		bc, stop := openBench(b, f)
		defer stop()
		thread, d := stopAtLoop(b, bc, map[string]any{"mode": "debug", "program": "/workspace"}, "/workspace/main.go")
		nextLoop(b, bc, thread)
		b.ReportMetric(float64(d.Milliseconds()), "launch-to-stopped-ms") // after ResetTimer, which drops metrics
	})
	b.Run("direct", func(b *testing.B) {
		f := newFixture(b, dlv, files)
		dir := b.TempDir()
		sock := filepath.Join(dir, "dlv.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		env, _ := f.h.Env()
		workspaceDir := f.h.Dir
		proc, err := f.h.Start(context.Background(), sandbox.Cmd{
			Kind: "dlv", Path: dlv,
			Args: []string{"dap", "--client-addr=unix:" + sock}, Env: env, Dir: workspaceDir,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer proc.Close()
		conn, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		bc := &benchClient{tb: b, c: sockConn{conn, bridge.NewFrameReader(conn, 0)}}
		thread, d := stopAtLoop(b, bc, map[string]any{
			"mode": "debug", "program": workspaceDir, "output": filepath.Join(dir, "__debug_bin"), "outputMode": "remote",
		}, filepath.Join(workspaceDir, "main.go"))
		nextLoop(b, bc, thread)
		b.ReportMetric(float64(d.Milliseconds()), "launch-to-stopped-ms") // after ResetTimer, which drops metrics
		_ = os.RemoveAll(dir)
	})
}

// BenchmarkFirstDebug measures what a new user meets on pressing F5 on
// hello world: launch to stopped at a breakpoint, with the user's build
// cache empty. "cold" has no shared cache (every debug build compiles the
// runtime and fmt with -N -l); "shared" has the users' shared build cache,
// prebuilt (outside the timing) with fmt. Each iteration is a new user.
// Under bubblewrap when this host can, as deployed.
func BenchmarkFirstDebug(b *testing.B) {
	dlv := requireDlv(b)
	files := map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain}
	bwrap := isotest.Unavailable() == ""
	uid := -1
	if bwrap {
		uid = isotest.UID
	}
	for _, shared := range []bool{false, true} {
		name := "cold"
		if shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				b.StopTimer()
				fo := fixtureOptions{bwrap: bwrap, cold: true}
				if shared {
					fo.buildCache = wstest.BuildCache(b, goEnv(b, "GOROOT"), uid, "fmt")
				}
				f := newFixtureOpts(b, dlv, files, fo)
				if shared {
					if _, _, err := f.workspaces.Manager.PrepareBuildCache(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				bc, stop := openBench(b, f)
				b.StartTimer()
				_, d := stopAtLoop(b, bc, map[string]any{"mode": "debug", "program": "/workspace"}, "/workspace/main.go")
				b.StopTimer()
				total += d
				stop()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "launch-to-stopped-ms")
		})
	}
}
