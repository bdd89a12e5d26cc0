package playground_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/sandbox"
)

// isolate makes ropts a bubblewrap runner whose processes run as
// isotest.UID, and returns the data
// directory and the run directories' parent, below a directory every uid
// may traverse.
func isolate(t testing.TB, ropts *sandbox.Options) (data, runs string) {
	t.Helper()
	if why := isotest.Unavailable(); why != "" {
		t.Skip(why)
	}
	root, err := isotest.PublicDir(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	data, runs = filepath.Join(root, "data"), filepath.Join(root, "runs")
	if err := isotest.Traversable(data, runs); err != nil {
		t.Fatal(err)
	}
	ropts.Isolation = sandbox.IsolationBwrap
	ropts.OwnerUID = func(string) (int, error) { return isotest.UID, nil }
	return data, runs
}

// TestCompileBwrap builds and runs programs inside bubblewrap as the
// playground's uid: output, a compile error (shown without the sandbox's
// run directory), and a test program; the program sees its run directory
// at playground.RunTarget, never the host's, and its HOME is the
// sandbox's own /tmp.
func TestCompileBwrap(t *testing.T) {
	e := newEnvMode(t, nil, true)
	tests := []struct {
		name, body string
		want       func(r *playground.Response) bool
	}{
		{"hello", hello, func(r *playground.Response) bool {
			return len(r.Events) == 1 && r.Events[0].Message == "hello, world\n" && r.Status == 0
		}},
		{"view", "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\twd, _ := os.Getwd()\n\tfmt.Println(wd, os.Getuid(), os.Getenv(\"HOME\"))\n}\n", func(r *playground.Response) bool {
			return len(r.Events) == 1 && r.Events[0].Message == playground.RunTarget+" 200123 /tmp\n"
		}},
		{"compile_error", "package main\n\nfunc main() {\n\tundefinedThing()\n}\n", func(r *playground.Response) bool {
			return strings.HasPrefix(r.Errors, "./prog.go:4:2: undefined: undefinedThing")
		}},
		{"test", "package main\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n", func(r *playground.Response) bool {
			return len(r.Events) > 0 && strings.Contains(r.Events[len(r.Events)-1].Message, "PASS")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(res) {
				t.Errorf("response: %+v", res)
			}
			for _, ev := range res.Events {
				if strings.Contains(ev.Message, "/tmp/") {
					t.Errorf("output holds a host path: %q", ev.Message)
				}
			}
		})
	}
}
