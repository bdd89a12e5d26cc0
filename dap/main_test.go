package dap_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// sharedCaches are the users' shared build caches of the package's tests,
// one without isolation and one under bubblewrap (the GOROOT a build sees
// is part of its cache keys), each prepared from nothing on first use with
// fmt and testing in every flag set users build with, dlv's debug builds
// included: every test's debug build then compiles only its own package,
// as a new user's does on a server, whatever the machine's cache holds.
var sharedCaches struct {
	once  [2]sync.Once
	cache [2]*wstest.SharedCache
	err   [2]error
}

// sharedCache returns the shared build cache for fixtures of the mode.
func sharedCache(t testing.TB, bwrap bool) *workspace.BuildCache {
	t.Helper()
	i := 0
	if bwrap {
		i = 1
	}
	sharedCaches.once[i].Do(func() {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			sharedCaches.err[i] = fmt.Errorf("go env GOROOT: %w", err)
			return
		}
		goroot := strings.TrimSpace(string(out))
		opts := sandbox.Options{Instance: "daptest-cache-" + strconv.Itoa(os.Getpid()), KillGrace: 500 * time.Millisecond}
		uid := -1
		if bwrap {
			opts.Isolation = sandbox.IsolationBwrap
			opts.OwnerUID = func(string) (int, error) { return isotest.UID, nil }
			uid = isotest.UID
		}
		runner, err := sandbox.New(opts)
		if err != nil {
			sharedCaches.err[i] = err
			return
		}
		defer runner.Close()
		start := time.Now()
		sharedCaches.cache[i], sharedCaches.err[i] = wstest.PrepareSharedCache(goroot, runner, uid, "fmt", "testing")
		fmt.Fprintf(os.Stderr, "dap tests: shared build cache (bwrap %v) prepared in %v\n", bwrap, time.Since(start).Round(time.Millisecond))
	})
	if err := sharedCaches.err[i]; err != nil {
		t.Fatalf("prepare the shared build cache: %v", err)
	}
	return sharedCaches.cache[i].Cache
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		for _, c := range sharedCaches.cache {
			if c != nil {
				_ = c.Close()
			}
		}
		os.Exit(code)
	}))
}
