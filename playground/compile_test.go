package playground_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
)

const hello = `package main

import "fmt"

func main() {
	fmt.Println("hello, world")
}
`

// normalize zeroes the real-time delays so results can be golden.
func normalize(r *playground.Response) *playground.Response {
	for i := range r.Events {
		r.Events[i].Delay = 0
	}
	return r
}

func TestCompileGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) { o.RunTimeout = 2 * time.Second })
	tests := []struct {
		name    string
		body    string
		withVet bool
	}{
		{"hello", hello, false},
		{"compile_error", "package main\n\nfunc main() {\n\tundefinedThing()\n}\n", false},
		{"panic", "package main\n\nfunc main() {\n\tpanic(\"boom\")\n}\n", false},
		{"exit_status", "package main\n\nimport \"os\"\n\nfunc main() {\n\tos.Exit(3)\n}\n", false},
		{"failing_test", "package main\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n\nfunc TestBad(t *testing.T) {\n\tt.Fatal(\"bad\")\n}\n", false},
		{"vet_errors", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Printf(\"%d\\n\", \"x\")\n}\n", true},
		{"vet_ok", hello, true},
		{"timeout", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"before\")\n\tfor {\n\t}\n}\n", false},
		{"txtar", "package main\n\nimport \"play/lib\"\n\nfunc main() { lib.Hi() }\n-- go.mod --\nmodule play\n-- lib/lib.go --\npackage lib\n\nimport \"fmt\"\n\nfunc Hi() { fmt.Println(\"hi from lib\") }\n", false},
		{"bad_txtar", "-- ../x.go --\npackage main\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: tt.body, WithVet: tt.withVet})
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "panic" {
				// The trace's addresses vary; keep its shape.
				for i, ev := range res.Events {
					if i := strings.Index(ev.Message, "goroutine 1"); i >= 0 {
						ev.Message = ev.Message[:i] + "goroutine 1 [...]"
					}
					res.Events[i] = ev
				}
			}
			golden(t, "compile_"+tt.name, normalize(res))
		})
	}
}

// TestSharedCacheKeys (RUN-06): the prebuild (PrepareCache) builds with the
// environment and flags runs build with, so a run's build of a program
// importing fmt finds all of fmt in the shared cache and puts only its own
// package and link (a build from nothing puts hundreds of entries; see
// gocacheprog's TestGoCommand).
func TestSharedCacheKeys(t *testing.T) {
	e := newEnv(t, nil)
	n, err := playground.CachePuts(e.svc, hello)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("entries put by the build of hello world: %d", n)
	if n == 0 || n > 10 {
		t.Errorf("the build of hello world put %d entries into its own cache: want 1 to 10 (the shared cache unused, or missed)", n)
	}
}
