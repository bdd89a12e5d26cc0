package buildcache_test

import (
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// hostGo is the go command's GOROOT and build cache on this machine
// (empty without a go command): the cache program is built with them.
var hostGo struct{ root, cache string }

func TestMain(m *testing.M) {
	if out, err := exec.Command("go", "env", "GOROOT", "GOCACHE").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) == 2 {
			hostGo.root, hostGo.cache = f[0], f[1]
		}
	}
	goleak.VerifyTestMain(m)
}
