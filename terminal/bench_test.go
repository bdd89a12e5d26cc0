package terminal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/terminal"
)

// floodCmd waits for a line of input (so a client can attach first), then
// writes n bytes to the terminal and exits.
func floodCmd(n int) []string {
	return []string{"sh", "-c", "stty -echo && read x && exec head -c " + strconv.Itoa(n) + " /dev/zero"}
}

// directPTY starts argv on a PTY through the sandbox and returns it with
// its master.
func directPTY(tb testing.TB, e *env, argv []string) *sandbox.Process {
	p, err := e.runner.Start(context.Background(), sandbox.Cmd{
		Kind: "terminal", Owner: e.h.Owner.Key(), Path: argv[0], Args: argv[1:], Dir: e.dir,
		Env: []string{"PATH=/usr/bin:/bin", "TERM=xterm-256color", "LANG=C.UTF-8"},
		PTY: &sandbox.Winsize{Cols: 80, Rows: 24},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// linesCmd waits for a line of input, then prints n lines of 64 bytes
// (63 and a newline, which the PTY turns into CR LF), each in its own
// write as a line-buffered program does, and exits.
func linesCmd(n int) []string {
	return []string{"sh", "-c", "stty -echo && read x && exec awk 'BEGIN{s=sprintf(\"%063d\", 0); for(i=0;i<" +
		strconv.Itoa(n) + ";i++){print s; fflush()}}'"}
}

// BenchmarkThroughput compares output throughput through the WebSocket
// bridge with reading the same PTY directly, in one run: each iteration
// has the command write its output both ways. bulk writes 16 MiB in large
// writes (head -c); lines writes 4 MiB as 64-byte lines, one write each
// (a line-buffered program: a build log, a test run).
func BenchmarkThroughput(b *testing.B) {
	b.Run("bulk", func(b *testing.B) {
		const size = 16 << 20
		throughput(b, floodCmd(size), size)
	})
	b.Run("lines", func(b *testing.B) {
		const lines = 64 << 10
		throughput(b, linesCmd(lines), lines*65)
	})
}

// throughput runs argv, which writes size bytes to the PTY after a line
// of input, directly and through the bridge, once per iteration.
func throughput(b *testing.B, argv []string, size int) {
	e := newEnv(b)
	srv := serveAttach(b, e, false, 0)
	var direct, bridged, directCPU, bridgedCPU time.Duration
	overruns, delivered := 0, 0
	buf := make([]byte, 64<<10)
	for b.Loop() {
		// Direct: the sandbox PTY read by one goroutine, nothing else.
		start, cpu := time.Now(), cpuTime(b)
		p := directPTY(b, e, argv)
		if _, err := p.PTY().Write([]byte("go\n")); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			k, err := p.PTY().Read(buf)
			n += k
			if err != nil {
				break
			}
		}
		direct += time.Since(start)
		directCPU += cpuTime(b) - cpu
		_ = p.Close()
		if n < size {
			b.Fatalf("direct read %d bytes, want %d", n, size)
		}

		// Bridge: terminal, ring, attachment, WebSocket, client.
		start, cpu = time.Now(), cpuTime(b)
		info, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{Command: argv})
		if err != nil {
			b.Fatal(err)
		}
		c := srv.dial(b, info.ID, nil)
		if err := c.WriteMessage(websocket.BinaryMessage, []byte("go\n")); err != nil {
			b.Fatal(err)
		}
		n = 0
		for {
			// Read each message into one reused buffer, as a browser's
			// terminal consumes it: ReadMessage's per-message allocation
			// (io.ReadAll growing from 512 bytes) would bill the client's
			// garbage to the bridge on this 2-core machine.
			typ, r, err := c.NextReader()
			if err != nil {
				b.Fatalf("read after %d bytes: %v", n, err)
			}
			if typ == websocket.BinaryMessage {
				for {
					k, err := r.Read(buf)
					n += k
					if err != nil {
						break
					}
				}
				continue
			}
			k, _ := io.ReadFull(r, buf)
			if bytes.Contains(buf[:k], []byte(`"exit"`)) {
				break
			}
			overruns++
		}
		bridged += time.Since(start)
		bridgedCPU += cpuTime(b) - cpu
		delivered += n
		_ = c.Close()
		if n < size && overruns == 0 {
			b.Fatalf("bridge delivered %d bytes, want %d", n, size)
		}
	}
	mb := float64(size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/direct.Seconds(), "direct-MB/s")
	bmb := float64(delivered) / 1e6
	b.ReportMetric(bmb/bridged.Seconds(), "bridge-MB/s")
	b.ReportMetric((bmb/bridged.Seconds())/(mb/direct.Seconds()), "ratio")
	b.ReportMetric(float64(overruns), "overruns")
	// CPU time of this process (server and client sides, not the
	// command) per byte: less at the mercy of a busy machine than MB/s.
	b.ReportMetric(float64(directCPU.Nanoseconds())/(float64(size)*float64(b.N)), "direct-cpu-ns/B")
	b.ReportMetric(float64(bridgedCPU.Nanoseconds())/float64(max(delivered, 1)), "bridge-cpu-ns/B")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// echoCmd echoes each keystroke at once (non-canonical mode) and discards
// input.
var echoCmd = []string{"sh", "-c", "stty -icanon && echo ready && exec cat >/dev/null"}

const echoSamples = 300

// BenchmarkEcho compares keystroke echo latency through the bridge with
// the same PTY read directly: p50 and p99 of each and the added p50.
func BenchmarkEcho(b *testing.B) {
	e := newEnv(b)
	srv := serveAttach(b, e, false, 0)
	var direct, bridged []time.Duration
	var directCPU, bridgedCPU time.Duration
	buf := make([]byte, 4096)
	for b.Loop() {
		p := directPTY(b, e, echoCmd)
		ptmx := p.PTY()
		var got bytes.Buffer
		for !strings.Contains(got.String(), "ready") {
			k, err := ptmx.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			got.Write(buf[:k])
		}
		cpu := cpuTime(b)
		for range echoSamples {
			start := time.Now()
			if _, err := ptmx.Write([]byte("x")); err != nil {
				b.Fatal(err)
			}
			for {
				k, err := ptmx.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				if bytes.IndexByte(buf[:k], 'x') >= 0 {
					break
				}
			}
			direct = append(direct, time.Since(start))
		}
		directCPU += cpuTime(b) - cpu
		_ = p.Close()

		info, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{Command: echoCmd})
		if err != nil {
			b.Fatal(err)
		}
		c := srv.dial(b, info.ID, nil)
		got.Reset()
		for !strings.Contains(got.String(), "ready") {
			_, data, err := c.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			got.Write(data)
		}
		cpu = cpuTime(b)
		for range echoSamples {
			start := time.Now()
			if err := c.WriteMessage(websocket.BinaryMessage, []byte("x")); err != nil {
				b.Fatal(err)
			}
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					b.Fatal(err)
				}
				if bytes.IndexByte(data, 'x') >= 0 {
					break
				}
			}
			bridged = append(bridged, time.Since(start))
		}
		bridgedCPU += cpuTime(b) - cpu
		_ = c.Close()
		if err := e.m.Delete(context.Background(), e.h, info.ID); err != nil && !errors.Is(err, terminal.ErrNotFound) {
			b.Fatal(err)
		}
	}
	dp50, dp99 := pct(direct, 50), pct(direct, 99)
	bp50, bp99 := pct(bridged, 50), pct(bridged, 99)
	b.ReportMetric(float64(dp50.Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(dp99.Microseconds()), "direct-p99-µs")
	b.ReportMetric(float64(bp50.Microseconds()), "bridge-p50-µs")
	b.ReportMetric(float64(bp99.Microseconds()), "bridge-p99-µs")
	b.ReportMetric(float64((bp50 - dp50).Microseconds()), "added-p50-µs")
	// CPU time of this process (server and client) per keystroke.
	b.ReportMetric(float64(directCPU.Microseconds())/float64(len(direct)), "direct-cpu-µs")
	b.ReportMetric(float64(bridgedCPU.Microseconds())/float64(len(bridged)), "bridge-cpu-µs")
	b.ReportMetric(0, "ns/op")
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// BenchmarkIdleAttachedMemory reports server heap and stack per idle
// terminal (a shell at its prompt) with one WebSocket client attached. The
// client side of the WebSockets lives in this process too, so the figure
// is an upper bound. Heap and stacks are measured around each iteration;
// the process's OS threads and RSS against the start, before the first
// terminal: the runtime keeps the threads it made (and their stacks) for
// later, so after the first iteration a thread a terminal holds would no
// longer show in KiB/terminal.
func BenchmarkIdleAttachedMemory(b *testing.B) {
	const n = 50
	e := newEnv(b, func(o *terminal.Options) { o.MaxPerWorkspace = n; o.MaxPerTenant = n })
	srv := serveAttach(b, e, false, 0)
	heapAndStacks()
	threads0, rss0 := procStatus(b, "Threads:"), procStatus(b, "VmRSS:")
	for b.Loop() {
		before := heapAndStacks()
		var conns []*websocket.Conn
		for range n {
			info, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			c := srv.dial(b, info.ID, nil)
			if err := c.WriteMessage(websocket.BinaryMessage, []byte("echo rdy$((1+1))\n")); err != nil {
				b.Fatal(err)
			}
			var got bytes.Buffer
			for !strings.Contains(got.String(), "rdy2") {
				_, data, err := c.ReadMessage()
				if err != nil {
					b.Fatal(err)
				}
				got.Write(data)
			}
			conns = append(conns, c)
		}
		after := heapAndStacks()
		b.ReportMetric(float64(after-before)/n/1024, "KiB/terminal")
		b.ReportMetric(float64(procStatus(b, "Threads:")-threads0)/n, "threads/terminal")
		b.ReportMetric(float64(procStatus(b, "VmRSS:")-rss0)/n, "rss-KiB/terminal")
		for _, c := range conns {
			_ = c.Close()
		}
		if err := e.m.StopWorkspace(context.Background(), e.h.WorkspaceID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
}

// procStatus returns the number on the line of /proc/self/status that
// starts with field (kB for sizes).
func procStatus(tb testing.TB, field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no %s in /proc/self/status", field)
	return 0
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// tickCmd prints a line a second without starting a process per line
// (cmd/ideload's ticker forks a sleep each second, which would measure
// fork and exec here), until it reads a line.
var tickCmd = []string{"bash", "-c", "while :; do echo tick; read -r -t 1 _ && exit; done"}

// typedCmd echoes each keystroke at once and exits at a q.
var typedCmd = []string{"bash", "-c", `stty -icanon && echo ready && while read -r -n 1 c; do [ "$c" = q ] && exit; done`}

// BenchmarkEchoUnderLoad is cmd/ideload's terminal phase in one process:
// 200 attached terminals printing a line a second, and 20 shells in which
// a key is typed every 100ms, its echo timed, for 10s per iteration. It
// reports the echo's p50 and p99 and the process's CPU time per second.
func BenchmarkEchoUnderLoad(b *testing.B) {
	const ticks, shells = 200, 20
	const interval, duration = 100 * time.Millisecond, 10 * time.Second
	e := newEnv(b, func(o *terminal.Options) { o.MaxPerWorkspace = ticks + shells; o.MaxPerTenant = ticks + shells })
	srv := serveAttach(b, e, false, 0)
	// The terminals end themselves at the end (a line, a q): stopping
	// hundreds at once costs the sandbox a scan of /proc for each.
	var conns, typed []*websocket.Conn
	var drain sync.WaitGroup // the readers of the ticking terminals
	defer func() {
		for _, c := range typed {
			_ = c.WriteMessage(websocket.BinaryMessage, []byte("q"))
			conns = append(conns, c)
		}
		for _, c := range conns {
			_ = c.WriteMessage(websocket.BinaryMessage, []byte("\n"))
			_ = c.Close()
		}
		drain.Wait()
	}()
	for range ticks {
		info, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{Command: tickCmd})
		if err != nil {
			b.Fatal(err)
		}
		c := srv.dial(b, info.ID, nil)
		conns = append(conns, c)
		drain.Go(func() {
			buf := make([]byte, 4096)
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return
				}
				for {
					if _, err := r.Read(buf); err != nil {
						break
					}
				}
			}
		})
	}
	for range shells {
		info, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{Command: typedCmd})
		if err != nil {
			b.Fatal(err)
		}
		c := srv.dial(b, info.ID, nil)
		typed = append(typed, c)
		var got bytes.Buffer
		for !strings.Contains(got.String(), "ready") {
			_, data, err := c.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			got.Write(data)
		}
	}
	var mu sync.Mutex
	var echoes []time.Duration
	var elapsed, cpu time.Duration
	for b.Loop() {
		start, cpu0 := time.Now(), cpuTime(b)
		var wg sync.WaitGroup
		for _, c := range typed {
			wg.Go(func() {
				var mine []time.Duration
				for k := 0; time.Since(start) < duration; k++ {
					key := []byte{"abcdefghijklmnop"[k%16]}
					t0 := time.Now()
					if err := c.WriteMessage(websocket.BinaryMessage, key); err != nil {
						b.Error(err)
						return
					}
					for {
						_, data, err := c.ReadMessage()
						if err != nil {
							b.Error(err)
							return
						}
						if bytes.Contains(data, key) {
							break
						}
					}
					mine = append(mine, time.Since(t0))
					time.Sleep(interval)
				}
				mu.Lock()
				echoes = append(echoes, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		cpu += cpuTime(b) - cpu0
	}
	if len(echoes) == 0 {
		b.Fatal("no echo timed")
	}
	b.ReportMetric(float64(pct(echoes, 50).Microseconds())/1000, "echo-p50-ms")
	b.ReportMetric(float64(pct(echoes, 99).Microseconds())/1000, "echo-p99-ms")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds()*1000, "cpu-ms/s")
	b.ReportMetric(0, "ns/op")
}
