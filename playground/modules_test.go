package playground_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/modtest"
	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/sandbox"
)

// TestCompileModules (RUN-09): a program may import a third-party module: with no
// go.mod it gets the module's latest version, with a go.mod the version
// it requires, fetched by the server into the shared module cache (the
// program's build reads only that, offline); running it again resolves
// nothing. A module that does not
// exist, a replace by a directory and too many modules are build errors
// that say so, and leave the shared cache as it was.
func TestCompileModules(t *testing.T) { testCompileModules(t, false) }

// TestCompileModulesBwrap (RUN-09) is TestCompileModules with builds and programs
// under bubblewrap, as the server runs them: the build reads the shared
// module cache bound read-only, and has no network.
func TestCompileModulesBwrap(t *testing.T) { testCompileModules(t, true) }

func testCompileModules(t *testing.T, bwrap bool) {
	up := modtest.New(t)
	up.Greet(t, "example.com/greet", "v1.0.0")
	up.Greet(t, "example.com/greet", "v1.2.0")
	up.Greet(t, "example.com/other", "v0.1.0")
	up.Greet(t, "example.com/third", "v0.1.0")
	f := newFetcher(t, up)
	e := newEnvMode(t, func(o *playground.Options) { o.Modules = f; o.ModuleLimits = modcache.Limits{Modules: 2} }, bwrap)
	const prog = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n"
	compile := func(body string) *playground.Response {
		t.Helper()
		res, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: body, WithVet: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	output := func(res *playground.Response) string {
		var b strings.Builder
		for _, ev := range res.Events {
			b.WriteString(ev.Message)
		}
		return b.String()
	}
	if res := compile(prog); res.Errors != "" || !res.VetOK || output(res) != "hello from example.com/greet@v1.2.0\n" {
		t.Errorf("latest: errors %q, vet %q, output %q", res.Errors, res.VetErrors, output(res))
	}
	// The same program again resolves nothing: no request reaches the proxy.
	asked := up.Requests()
	if res := compile(prog); res.Errors != "" || output(res) != "hello from example.com/greet@v1.2.0\n" {
		t.Errorf("again: errors %q, output %q", res.Errors, output(res))
	}
	if n := up.Requests(); n != asked {
		t.Errorf("running the program again asked the proxy %d more times", n-asked)
	}
	pinned := "-- go.mod --\nmodule play\n\ngo 1.21\n\nrequire example.com/greet v1.0.0\n-- prog.go --\n" + prog
	if res := compile(pinned); res.Errors != "" || output(res) != "hello from example.com/greet@v1.0.0\n" {
		t.Errorf("required version: errors %q, output %q", res.Errors, output(res))
	}
	before, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ body, says string }{
		"missing":  {strings.ReplaceAll(prog, "example.com/greet", "example.com/nothere"), "example.com/nothere"},
		"replace":  {"-- go.mod --\nmodule play\n\ngo 1.21\n\nreplace example.com/greet => /etc\n-- prog.go --\n" + prog, "/etc"},
		"too many": {"package main\n\nimport (\n\t\"example.com/greet\"\n\t\"example.com/other\"\n\t\"example.com/third\"\n)\n\nfunc main() { greet.Hello(); other.Hello(); third.Hello() }\n", "3 modules"},
	} {
		res := compile(tc.body)
		if !strings.HasPrefix(res.Errors, "cannot use modules: ") || !strings.Contains(res.Errors, tc.says) || len(res.Events) != 0 {
			t.Errorf("%s: errors %q, events %v; want a message naming %q", name, res.Errors, res.Events, tc.says)
		}
	}
	if after, _ := f.Size(); after != before {
		t.Errorf("bad requests changed the shared module cache: %d bytes, then %d", before, after)
	}
}

// fetchers numbers newFetcher's sandbox instances.
var fetchers atomic.Int64

// newFetcher is a module fetcher through up, as the server wires one:
// without isolation (its sandbox could not reach up on the loopback
// otherwise), its shared directory readable by every uid.
func newFetcher(t *testing.T, up *modtest.Proxy) *modcache.Fetcher {
	t.Helper()
	instance := "playground-modules-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(fetchers.Add(1), 10)
	runner, err := sandbox.New(sandbox.Options{Instance: instance, KillGrace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Close() })
	base, err := isotest.PublicDir(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(base, "gomodcache")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := modcache.New(modcache.Options{
		Dir: shared, TempDir: t.TempDir(), Runner: runner, Owner: "@module-cache", GoRoot: hostGo.root,
		Proxy: up.URL, SumDB: up.SumDB, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}
