package playground_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
)

// BenchmarkCompileHello measures /compile's work for hello world: warm
// (the shared build cache prepared), warm with vet (withVet, as the Go
// Playground's front end asks), cold (no shared cache: every build
// starts empty), and `go run` of the same program directly with the host's
// cache, for comparison.
func BenchmarkCompileHello(b *testing.B) {
	b.Run("warm", func(b *testing.B) {
		e := newEnv(b, nil)
		compileOnce(b, e.svc) // fill the cache
		for b.Loop() {
			compileOnce(b, e.svc)
		}
	})
	b.Run("warm_vet", func(b *testing.B) {
		e := newEnv(b, nil)
		compileOnce(b, e.svc)
		for b.Loop() {
			compileVetOnce(b, e.svc, hello)
		}
	})
	// Under bubblewrap, as the server runs programs: the same body each
	// time, and a distinct body each time (no reuse of an earlier build).
	b.Run("warm_bwrap", func(b *testing.B) {
		e := newEnvMode(b, nil, true)
		compileOnce(b, e.svc)
		p50(b, func(int) { compileOnce(b, e.svc) })
	})
	b.Run("warm_vet_bwrap", func(b *testing.B) {
		e := newEnvMode(b, nil, true)
		compileOnce(b, e.svc)
		p50(b, func(int) { compileVetOnce(b, e.svc, hello) })
	})
	b.Run("warm_vet_bwrap_distinct", func(b *testing.B) {
		e := newEnvMode(b, nil, true)
		compileOnce(b, e.svc)
		seed := time.Now().UnixNano()
		p50(b, func(i int) { compileVetOnce(b, e.svc, fmt.Sprintf("%s\nvar _ = %d\n", hello, seed+int64(i))) })
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := newEnv(b, func(o *playground.Options) { o.Cache = nil })
			b.StartTimer()
			compileOnce(b, e.svc)
		}
	})
	b.Run("go_run", func(b *testing.B) {
		requireGo(b)
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "prog.go"), []byte(hello), 0o600); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			cmd := exec.Command(filepath.Join(hostGo.root, "bin", "go"), "run", "prog.go")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOCACHE="+hostGo.cache, "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil || string(out) != "hello, world\n" {
				b.Fatalf("go run: %v %s", err, out)
			}
		}
	})
}

func compileVetOnce(b *testing.B, svc *playground.Service, body string) {
	res, err := svc.Compile(context.Background(), "bench", playground.Request{Body: body, WithVet: true})
	if err != nil || len(res.Events) != 1 || !res.VetOK {
		b.Fatalf("compile with vet: %+v %v", res, err)
	}
}

// p50 runs f in b's loop (with the iteration's number) and reports the
// median duration of one call as p50-ms: on a noisy machine the median
// says more than the mean.
func p50(b *testing.B, f func(i int)) {
	var ds []time.Duration
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		f(i)
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	if len(ds) > 0 {
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	}
}

func compileOnce(b *testing.B, svc *playground.Service) {
	res, err := svc.Compile(context.Background(), "bench", playground.Request{Body: hello})
	if err != nil || len(res.Events) != 1 {
		b.Fatalf("compile: %+v %v", res, err)
	}
}

// BenchmarkCompileConcurrent8 measures throughput with 8 concurrent
// clients posting distinct hello world programs (no result reuse).
func BenchmarkCompileConcurrent8(b *testing.B) {
	e := newEnv(b, func(o *playground.Options) { o.MaxQueue = 64 })
	compileOnce(b, e.svc)
	start := time.Now()
	n := 0
	for b.Loop() {
		var wg sync.WaitGroup
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf("%s\nvar _ = %d\n", hello, c)
				res, err := e.svc.Compile(context.Background(), fmt.Sprint("client", c), playground.Request{Body: body})
				if err != nil || len(res.Events) != 1 {
					b.Errorf("compile: %+v %v", res, err)
				}
			}()
		}
		wg.Wait()
		n += 8
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "compiles/s")
}
