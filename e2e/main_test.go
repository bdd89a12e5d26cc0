package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// binary is the ideserver executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ideserver-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "ideserver")
	if err := build(binary); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// Every server uses the pinned gopls and dlv already built in Go's
	// cache (make deps), so none builds its own copy, and reaches no
	// module proxy.
	defaultEnv = []string{"IDESERVER_GO_PROXY=off",
		// No playground prebuild (the standard library) per server: the
		// tests that need the shared cache turn it on.
		"IDESERVER_PLAYGROUND_PREBUILD=false",
		// Nor the users' shared build cache: the tests that need it turn it on.
		"IDESERVER_GO_PREBUILD=false"}
	for key, name := range map[string]string{"IDESERVER_LSP_GOPLS_PATH": "gopls", "IDESERVER_DAP_DLV_PATH": "dlv"} {
		p, err := pinnedTool(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defaultEnv = append(defaultEnv, key+"="+p)
	}
	return m.Run()
}

// defaultEnv is given to every server before a test's own entries.
var defaultEnv []string

// pinnedTool returns the path of a tool pinned in tools/go.mod, building
// it into Go's cache if needed.
func pinnedTool(name string) (string, error) {
	cmd := exec.Command("go", "tool", "-n", name)
	cmd.Dir = filepath.Join("..", "tools")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n %s (in tools/): %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// build compiles ./cmd/ideserver from the module root (the parent of this
// directory) into out.
func build(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, "./cmd/ideserver")...)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/ideserver: %w\n%s", err, b)
	}
	return nil
}
