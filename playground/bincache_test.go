package playground_test

import (
	"context"
	"debug/elf"
	"slices"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/playground"
)

// clockBody prints the clock and a random number: two runs of one build
// print different lines.
const clockBody = `package main

import (
	"fmt"
	"math/rand/v2"
	"time"
)

func main() {
	fmt.Println(time.Now().UnixNano(), rand.Int64())
}
`

// vetBody has a vet finding.
const vetBody = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Printf(\"%d\\n\", \"x\")\n}\n"

func compile(t *testing.T, svc *playground.Service, body string, withVet bool) *playground.Response {
	t.Helper()
	res, err := svc.Compile(context.Background(), "test", playground.Request{Body: body, WithVet: withVet})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != "" {
		t.Fatalf("errors: %s", res.Errors)
	}
	return res
}

func stdout(r *playground.Response) string {
	var b strings.Builder
	for _, e := range r.Events {
		if e.Kind == "stdout" {
			b.WriteString(e.Message)
		}
	}
	return b.String()
}

// TestBinaryCache: a body built before runs from the binary cache, and
// runs again (its output is never reused); a body that differs by a byte
// is built; a request with vet is served only when vet found nothing in
// the same files, and vet findings are reported every time.
func TestBinaryCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	hits := func() int64 { return playground.BinaryCacheHits(e.svc) }

	first := compile(t, e.svc, clockBody, false)
	second := compile(t, e.svc, clockBody, false)
	if hits() != 1 {
		t.Fatalf("hits after the same body twice: %d, want 1", hits())
	}
	if stdout(first) == "" || stdout(first) == stdout(second) {
		t.Errorf("the program's output was reused: %q, then %q", stdout(first), stdout(second))
	}

	compile(t, e.svc, clockBody+"\n// another program\n", false)
	if hits() != 1 {
		t.Errorf("a body that differs was served from the cache (hits %d)", hits())
	}

	// Built without vet: vet has not run on it, so a request with vet
	// builds and vets; after that the same request is a hit.
	if r := compile(t, e.svc, clockBody, true); !r.VetOK {
		t.Errorf("vet: %+v", r)
	}
	if hits() != 1 {
		t.Errorf("a request with vet was served without vet (hits %d)", hits())
	}
	if r := compile(t, e.svc, clockBody, true); !r.VetOK || r.VetErrors != "" || stdout(r) == "" {
		t.Errorf("vet from the cache: %+v", r)
	}
	if hits() != 2 {
		t.Errorf("hits %d, want 2", hits())
	}

	for i := range 2 {
		r := compile(t, e.svc, vetBody, true)
		if r.VetOK || !strings.Contains(r.VetErrors, "Printf format %d has arg \"x\" of wrong type string") {
			t.Errorf("run %d: vet findings: %+v", i, r)
		}
	}
	if hits() != 2 {
		t.Errorf("a body with vet findings was served from the cache with vet (hits %d)", hits())
	}
	compile(t, e.svc, vetBody, false) // without vet, its build is reused
	if hits() != 3 {
		t.Errorf("hits %d, want 3", hits())
	}
}

// TestBinaryCacheOff: with Options.BinaryCache negative every request
// builds.
func TestBinaryCacheOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) { o.BinaryCache = -1 })
	for range 2 {
		if got := stdout(compile(t, e.svc, hello, false)); got != "hello, world\n" {
			t.Errorf("output %q", got)
		}
	}
	if n := playground.BinaryCacheHits(e.svc); n != 0 {
		t.Errorf("hits %d with the cache off", n)
	}
}

// TestRunBuild: a run's executable has no DWARF and no symbol table (it
// links with -s -w), yet a panic's trace still names the file and line;
// the go command leaves no telemetry in its HOME (it would start a second
// go process on every build).
func TestRunBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *playground.Options) { o.BinaryCache = -1 })
	for _, withVet := range []bool{false, true} {
		err := playground.BuildInspect(e.svc, hello, withVet, func(exe string, scratch []string) error {
			f, err := elf.Open(exe)
			if err != nil {
				return err
			}
			defer f.Close()
			for _, s := range []string{".debug_info", ".symtab"} {
				if f.Section(s) != nil {
					t.Errorf("the executable has a %s section", s)
				}
			}
			if slices.Contains(scratch, ".config") {
				t.Errorf("the go command wrote a configuration directory (telemetry) in its HOME: %v", scratch)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: "package main\n\nfunc main() {\n\tpanic(\"boom\")\n}\n"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) == 0 || !strings.Contains(res.Events[len(res.Events)-1].Message, "prog.go:4") {
		t.Errorf("the panic's trace names no line: %+v", res.Events)
	}
}
