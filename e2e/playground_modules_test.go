package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/modtest"
)

// TestPlaygroundModules (RUN-09): the real server, configured with a
// module proxy and its checksum database (go.proxy, go.sumdb), runs a
// /compile body that imports a third-party module: the latest version,
// fetched by the server. A module that does not exist is a clear error.
// The fetcher's sandbox could not reach a proxy on the loopback under
// bubblewrap (its network is slirp4netns'), so this server runs without
// isolation; playground's TestCompileModulesBwrap covers the builds under
// bubblewrap.
func TestPlaygroundModules(t *testing.T) {
	up := modtest.New(t)
	up.Greet(t, "example.com/greet", "v1.0.0")
	up.Greet(t, "example.com/greet", "v1.3.0")
	s := startServerWith(t, serverConfig{Env: []string{
		"IDESERVER_ISOLATION_MODE=none",
		"IDESERVER_GO_PROXY=" + up.URL,
		"IDESERVER_GO_SUMDB=" + up.SumDB,
		"IDESERVER_PLAYGROUND_BUILD_TIMEOUT=300s",
	}})
	const prog = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n"
	start := time.Now()
	r := compileFrom(t, s, "127.0.0.1", prog)
	t.Logf("first run with a module: %v", time.Since(start).Round(time.Millisecond))
	if r.Errors != "" || r.stdout() != "hello from example.com/greet@v1.3.0\n" {
		t.Errorf("errors %q, output %q", r.Errors, r.stdout())
	}
	r = compileFrom(t, s, "127.0.0.1", strings.ReplaceAll(prog, "example.com/greet", "example.com/absent"))
	if !strings.HasPrefix(r.Errors, "cannot use modules: ") || !strings.Contains(r.Errors, "example.com/absent") || strings.Contains(r.Errors, s.Data) {
		t.Errorf("a missing module: errors %q", r.Errors)
	}
}
