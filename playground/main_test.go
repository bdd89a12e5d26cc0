package playground_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
)

// hostGo is what the tests build with: the go command on PATH, and the
// host's build cache (only for building the cache program, which needs no
// warm cache).
var hostGo struct{ root, cache string }

// testCache is the shared build cache of the tests' services: the cache
// program and a directory PrepareCache filled with fmt (and testing) once
// for the whole package, from nothing, so no test depends on a warm cache
// of the machine. It is below a directory every uid may traverse, readable
// by the bubblewrap tests' uid. Empty when there is no go command.
var testCache playground.Cache

func TestMain(m *testing.M) {
	if out, err := exec.Command("go", "env", "GOROOT", "GOCACHE").Output(); err == nil {
		f := strings.Fields(string(out))
		if len(f) == 2 {
			hostGo.root, hostGo.cache = f[0], f[1]
		}
	}
	var base string
	if hostGo.root != "" {
		var err error
		if base, err = prepareTestCache(); err != nil {
			fmt.Fprintln(os.Stderr, "playground tests: prepare the shared build cache:", err)
			if base != "" {
				_ = os.RemoveAll(base)
			}
			os.Exit(1)
		}
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if base != "" {
			_ = os.RemoveAll(base)
		}
		os.Exit(code)
	}))
}

// prepareTestCache builds the cache program and fills testCache (see
// there) in a new directory, which it returns.
func prepareTestCache() (string, error) {
	base, err := os.MkdirTemp("/tmp", "ideserver-playground-test-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(base, 0o711); err != nil {
		return base, err
	}
	ctx := context.Background()
	prog, err := buildcache.BuildProgram(ctx, filepath.Join(hostGo.root, "bin", "go"), filepath.Join(base, "bin"), hostGo.cache)
	if err != nil {
		return base, err
	}
	testCache = playground.Cache{Cache: buildcache.Cache{Dir: filepath.Join(base, "gocache"), Program: prog}, Packages: []string{"fmt"}}
	if err := os.Mkdir(testCache.Dir, 0o755); err != nil {
		return base, err
	}
	runner, err := sandbox.New(sandbox.Options{Instance: "playground-test-cache"})
	if err != nil {
		return base, err
	}
	defer runner.Close()
	db, err := store.Open(store.Options{Path: filepath.Join(base, "db")})
	if err != nil {
		return base, err
	}
	defer db.Close()
	runs := filepath.Join(base, "runs")
	if err := os.Mkdir(runs, 0o700); err != nil {
		return base, err
	}
	svc, err := playground.New(playground.Options{Runner: runner, Store: db, GOROOT: hostGo.root, TempDir: runs, Cache: &testCache})
	if err != nil {
		return base, err
	}
	defer svc.Close(ctx)
	_, err = svc.PrepareCache(ctx)
	return base, err
}

func requireGo(t testing.TB) {
	t.Helper()
	if hostGo.root == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no go command")
		}
		t.Skip("no go command")
	}
	if _, err := os.Stat(filepath.Join(hostGo.root, "bin", "go")); err != nil {
		t.Skip("no go binary in GOROOT")
	}
}
