package playground_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// hostGo is what the tests build with: the go command on PATH, and the
// host's build cache (warm; tests are not a tenant).
var hostGo struct{ root, cache string }

func TestMain(m *testing.M) {
	if out, err := exec.Command("go", "env", "GOROOT", "GOCACHE").Output(); err == nil {
		f := strings.Fields(string(out))
		if len(f) == 2 {
			hostGo.root, hostGo.cache = f[0], f[1]
		}
	}
	goleak.VerifyTestMain(m)
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
