package playground_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
)

// TestExamples: every example of the playground page's Examples menu
// (web/src/examples) builds, vets clean and runs to a zero exit status,
// its tests passing, on fake time.
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "web", "src", "examples", "*.go.txt"))
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	e := newEnv(t, func(o *playground.Options) { o.RunTimeout = 20 * time.Second })
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
