package playground_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
)

// TestRunLimits: each bad program ends with a clear result, and a hello
// world from another client runs meanwhile (RUN-01, RUN-02, RUN-05).
func TestRunLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) {
		o.RunTimeout = 3 * time.Second
		o.MaxOutput = 64 << 10
		o.MemoryLimit = 64 << 20
		o.MaxConcurrent = 4
		o.MaxPerClient = 3
	})
	tests := []struct {
		name, body string
		check      func(*playground.Response) bool
	}{
		{"loop", "package main\n\nfunc main() {\n\tfor {\n\t}\n}\n",
			func(r *playground.Response) bool { return r.Errors == "timeout running program" }},
		{"flood", "package main\n\nimport \"os\"\n\nfunc main() {\n\tb := make([]byte, 1<<20)\n\tfor {\n\t\tos.Stdout.Write(b)\n\t}\n}\n",
			func(r *playground.Response) bool {
				n := 0
				for _, ev := range r.Events {
					n += len(ev.Message)
				}
				return strings.HasPrefix(r.Errors, "output limit exceeded") && n == 64<<10
			}},
		{"memory", "package main\n\nvar keep [][]byte\n\nfunc main() {\n\tfor {\n\t\tb := make([]byte, 1<<20)\n\t\tfor i := range b {\n\t\t\tb[i] = 1\n\t\t}\n\t\tkeep = append(keep, b)\n\t}\n}\n",
			func(r *playground.Response) bool { return r.Status != 0 || r.Errors != "" }},
		{"fork", "package main\n\nimport \"os/exec\"\n\nfunc main() {\n\tfor i := 0; i < 50; i++ {\n\t\t_ = exec.Command(\"/bin/sleep\", \"1000\").Start()\n\t}\n\tselect {}\n}\n",
			func(r *playground.Response) bool { return r.Errors != "" || r.Status != 0 }},
	}
	var wg sync.WaitGroup
	for _, tt := range tests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.svc.Compile(context.Background(), "bad", playground.Request{Body: tt.body})
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				return
			}
			if !tt.check(res) {
				t.Errorf("%s: unexpected result Errors=%q Status=%d events=%d", tt.name, res.Errors, res.Status, len(res.Events))
			}
		}()
	}
	res, err := e.svc.Compile(context.Background(), "good", playground.Request{Body: hello})
	if err != nil || len(res.Events) != 1 || res.Events[0].Message != "hello, world\n" {
		t.Errorf("hello during the bad runs: %+v, %v", res, err)
	}
	wg.Wait()
}

// TestQueueFull: a client flooding the service gets ErrBusy beyond its
// queue, and other clients are still served (RUN-07).
func TestQueueFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) {
		o.MaxConcurrent, o.MaxPerClient, o.MaxQueue = 2, 1, 8
		o.RunTimeout = 2 * time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := "package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Hour) }\n"
	var wg sync.WaitGroup
	var mu sync.Mutex
	busy := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.Compile(ctx, "flood", playground.Request{Body: slow})
			if errors.Is(err, playground.ErrBusy) {
				mu.Lock()
				busy++
				mu.Unlock()
			}
		}()
	}
	res, err := e.svc.Compile(context.Background(), "other", playground.Request{Body: hello})
	if err != nil || res.Errors != "" {
		t.Errorf("other client: %+v, %v", res, err)
	}
	cancel()
	wg.Wait()
	if busy == 0 {
		t.Error("no request of the flooding client was refused")
	}
}
