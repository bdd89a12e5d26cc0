package playground_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/modtest"
	"github.com/ideserver/ideserver/playground"
)

// TestExamples: every example of the playground page's Examples menu
// (web/src/examples) builds, vets clean and runs to a zero exit status,
// its tests passing, on fake time; the module example with its module
// from a proxy of the test's own.
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "web", "src", "examples", "*.go.txt"))
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	// The module example's module, served by a proxy of the test's own
	// (production fetches the real one through go.proxy).
	up := modtest.New(t)
	up.Add(t, "golang.org/x/example", "v0.1.0", map[string]string{
		"go.mod":                   "module golang.org/x/example\n\ngo 1.21\n",
		"hello/reverse/reverse.go": "// Package reverse reverses strings.\npackage reverse\n\n// String returns s reversed, rune by rune.\nfunc String(s string) string {\n\tr := []rune(s)\n\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n\t}\n\treturn string(r)\n}\n",
	})
	f := newFetcher(t, up)
	e := newEnv(t, func(o *playground.Options) { o.RunTimeout = 20 * time.Second; o.Modules = f })
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".go.txt"), func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: string(body), WithVet: true})
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for _, ev := range res.Events {
				out.WriteString(ev.Message)
			}
			if res.Errors != "" || res.Status != 0 || !res.VetOK || res.TestsFailed != 0 || out.Len() == 0 {
				t.Errorf("errors %q, vet %q, status %d, tests failed %d, output:\n%s", res.Errors, res.VetErrors, res.Status, res.TestsFailed, out.String())
			}
		})
	}
}
