package playground_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
)

// TestFmtImports: imports=true adds standard packages for unresolved
// references, removes unused imports, and resolves nothing else.
func TestFmtImports(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name      string
		body      string
		want      []string // substrings of the result
		notWanted []string
	}{
		{"add two", "package main\nfunc main(){fmt.Println(strings.ToUpper(\"x\"))}\n",
			[]string{"import (\n\t\"fmt\"\n\t\"strings\"\n)"}, nil},
		{"remove unused", "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main(){fmt.Println()}\n",
			[]string{`"fmt"`}, []string{`"os"`}},
		{"math rand by symbol", "package main\nfunc main(){_ = rand.Intn(3)}\n",
			[]string{`import "math/rand"`}, nil},
		{"crypto rand preferred", "package main\nfunc main(){_, _ = rand.Int(nil, nil)}\n",
			[]string{`import "crypto/rand"`}, nil},
		{"nested path", "package main\nfunc main(){_ = http.StatusOK; _ = utf8.RuneLen('x')}\n",
			[]string{`"net/http"`, `"unicode/utf8"`}, nil},
		{"local shadows", "package main\nfunc main(){fmt := struct{Println int}{}; _ = fmt.Println}\n",
			nil, []string{"import"}},
		{"no third party", "package main\nfunc main(){_ = yaml.Marshal; _ = errgroup.Group{}}\n",
			nil, []string{"import"}},
		{"named import kept", "package main\nimport str \"strings\"\nfunc main(){_ = str.ToUpper}\n",
			[]string{`import str "strings"`}, nil},
		{"blank import kept", "package main\nimport _ \"embed\"\nfunc main(){}\n",
			[]string{`import _ "embed"`}, nil},
		{"standard first, then others", "package main\nimport (\n\t\"example.com/b/y\"\n\t\"os\"\n\t\"example.com/a/x\"\n)\nfunc main(){x.A(); y.B(); os.Exit(0); fmt.Println()}\n",
			[]string{"import (\n\t\"fmt\"\n\t\"os\"\n\n\t\"example.com/a/x\"\n\t\"example.com/b/y\"\n)"}, nil},
		{"commented block kept", "package main\nimport (\n\t\"example.com/a/x\" // x\n\t\"os\"\n)\nfunc main(){x.A(); os.Exit(0)}\n",
			[]string{"import (\n\t\"example.com/a/x\" // x\n\t\"os\"\n)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.svc.Fmt(context.Background(), "test", tt.body, true)
			if err != nil || res.Error != "" {
				t.Fatalf("Fmt: %v %q", err, res.Error)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Body, w) {
					t.Errorf("missing %q in\n%s", w, res.Body)
				}
			}
			for _, w := range tt.notWanted {
				if strings.Contains(res.Body, w) {
					t.Errorf("unexpected %q in\n%s", w, res.Body)
				}
			}
		})
	}
	res, err := e.svc.Fmt(context.Background(), "test", "package main\nfunc main(){\n", true)
	if err != nil || !strings.HasPrefix(res.Error, "prog.go:") {
		t.Fatalf("syntax error: %v %+v", err, res)
	}
}

// TestFmtImportsRunsNoGo: fixing imports starts no go command on the
// host. A fake go first on PATH would leave a mark if anything ran it
// (golang.org/x/tools/imports.Process runs "go env").
func TestFmtImportsRunsNoGo(t *testing.T) {
	e := newEnv(t, nil)
	bin := t.TempDir()
	mark := filepath.Join(t.TempDir(), "ran")
	script := "#!/bin/sh\necho \"$@\" >> " + mark + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("GOFLAGS", "-mod=vendor") // the server's own settings must not matter
	t.Chdir(t.TempDir())
	if err := os.WriteFile("go.mod", []byte("module example.com/host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Fmt(context.Background(), "test", "package main\nimport \"os\"\nfunc main(){fmt.Println(json.Valid(nil))}\n", true)
	if err != nil || res.Error != "" {
		t.Fatalf("Fmt: %v %q", err, res.Error)
	}
	if !strings.Contains(res.Body, "\"encoding/json\"\n\t\"fmt\"\n") || strings.Contains(res.Body, `"os"`) {
		t.Errorf("imports not fixed:\n%s", res.Body)
	}
	if b, err := os.ReadFile(mark); err == nil {
		t.Fatalf("the go command ran: go %s", b)
	}
}

// TestFmtAdmission: /fmt waits for a slot like /compile, and is refused
// with ErrBusy when the client's queue is full.
func TestFmtAdmission(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) { o.MaxConcurrent, o.MaxPerClient, o.MaxQueue = 1, 1, 1 })
	release, err := playground.HoldSlot(e.svc, "c")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := e.svc.Fmt(ctx, "c", "package main\n", true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fmt with the slot taken: %v, want to wait until the deadline", err)
	}
	type result struct {
		res playground.FmtResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.svc.Fmt(context.Background(), "c", "package main\nfunc main(){fmt.Println()}\n", true)
		done <- result{res, err}
	}()
	for playground.Queued(e.svc) == 0 {
		select {
		case r := <-done:
			t.Fatalf("Fmt did not wait: %+v", r)
		case <-time.After(time.Millisecond):
		}
	}
	for _, imports := range []bool{false, true} {
		if _, err := e.svc.Fmt(context.Background(), "c", "package main\n", imports); !errors.Is(err, playground.ErrBusy) {
			t.Fatalf("Fmt(imports=%v) with a full queue: %v, want ErrBusy", imports, err)
		}
	}
	if _, err := e.svc.Vet(context.Background(), "c", "package main\n"); !errors.Is(err, playground.ErrBusy) {
		t.Fatalf("Vet with a full queue: %v, want ErrBusy", err)
	}
	release()
	r := <-done
	if r.err != nil || !strings.Contains(r.res.Body, `import "fmt"`) {
		t.Fatalf("queued Fmt: %+v %v", r.res, r.err)
	}
}

// TestShareRateLimit: new snippets take a token per client; stored ones
// are free; tokens refill with time; client "" is not limited.
func TestShareRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) { o.ShareRate = 2 })
	steps := []struct {
		name    string
		advance time.Duration
		client  string
		body    string
		wantErr error
	}{
		{"first", 0, "ip:a", "a1", nil},
		{"second", 0, "ip:a", "a2", nil},
		{"third refused", 0, "ip:a", "a3", playground.ErrRateLimited},
		{"repeat is free", 0, "ip:a", "a1", nil},
		{"other client", 0, "ip:b", "b1", nil},
		{"unlimited client", 0, "", "u1", nil},
		{"refilled half a minute later", 30 * time.Second, "ip:a", "a3", nil},
		{"empty again", 0, "ip:a", "a4", playground.ErrRateLimited},
	}
	for _, st := range steps {
		*e.clock = e.clock.Add(st.advance)
		id, err := e.svc.Share(st.client, []byte(st.body))
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
		if err == nil && id != playground.SnippetID([]byte(st.body)) {
			t.Fatalf("%s: id %q", st.name, id)
		}
		if errors.Is(err, playground.ErrRateLimited) {
			if _, err := e.svc.Snippet(playground.SnippetID([]byte(st.body))); !errors.Is(err, playground.ErrNotFound) {
				t.Fatalf("%s: refused snippet stored (%v)", st.name, err)
			}
		}
	}
	if d := e.svc.ShareRetryAfter(); d != 30*time.Second {
		t.Fatalf("ShareRetryAfter = %v", d)
	}
}
