package playground_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
			res, err := e.svc.Compile(context.Background(), "bench", playground.Request{Body: hello, WithVet: true})
			if err != nil || len(res.Events) != 1 || !res.VetOK {
				b.Fatalf("compile with vet: %+v %v", res, err)
			}
		}
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
