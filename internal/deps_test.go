// Package internal_test holds repository-wide checks: the package layering
// of the README's Layout section as an import-graph test (like tailscale's
// deptest), and the threat catalogue of docs/security.md (catalogue_test.go).
package internal_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/ideserver/ideserver"

type pkg struct {
	ImportPath string
	Imports    []string
	GoFiles    []string
	Dir        string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rule forbids imports with a prefix from packages with a prefix.
type rule struct {
	from   string // package path relative to the module ("sandbox"); "*" for all
	forbid string // import path prefix; "ours" for any package of this module
	why    string
}

var rules = []rule{
	{"sandbox", "ours", "sandbox is the bottom layer"},
	{"store", "ours", "store only persists; it knows no other package"},
	{"auth", "ours", "auth is pure credential logic"},
	{"workspace", module + "/server", "workspace knows nothing of HTTP"},
	{"workspace", module + "/auth", "workspace knows nothing of credentials"},
	{"lsp", module + "/server", "bridges take streams, not requests"},
	{"lsp", module + "/auth", "bridges take streams, not requests"},
	{"dap", module + "/server", "bridges take streams, not requests"},
	{"dap", module + "/auth", "bridges take streams, not requests"},
	{"terminal", module + "/server", "bridges take streams, not requests"},
	{"terminal", module + "/auth", "bridges take streams, not requests"},
	{"server", "go.lsp.dev/protocol", "server never reads LSP message bodies"},
	{"server", "github.com/google/go-dap", "server never reads DAP message bodies"},
	{"*", "testing", "tests only (tailscale's rule)"},
	{"*", module + "/internal/isotest", "bubblewrap test helpers: _test.go files only"},
	{"*", "flag", "configuration is read once in cmd/ideserver"},
}

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if strings.HasPrefix(rel, "cmd/") || rel == "e2e" || strings.HasPrefix(rel, "internal/testutil") {
			continue
		}
		for _, r := range rules {
			if r.from != "*" && rel != r.from && !strings.HasPrefix(rel, r.from+"/") {
				continue
			}
			for _, imp := range p.Imports {
				bad := imp == r.forbid || strings.HasPrefix(imp, r.forbid+"/")
				if r.forbid == "ours" {
					bad = strings.HasPrefix(imp, module+"/")
				}
				if bad {
					t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
				}
			}
		}
	}
}

// TestNoGetenvOutsideMain: configuration comes from cmd/ideserver only.
func TestNoGetenvOutsideMain(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.HasPrefix(p.ImportPath, module+"/cmd/") {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(file)
			for n := 1; sc.Scan(); n++ {
				line := sc.Text()
				if strings.Contains(line, "os.Getenv(") || strings.Contains(line, "os.LookupEnv(") || strings.Contains(line, "os.Environ()") {
					t.Errorf("%s:%d reads the environment; pass it in Options from cmd/ideserver", path, n)
				}
			}
			file.Close()
		}
	}
}

// TestPackageDocs: every package says what it is for (tailscale's rule).
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		cmd := exec.Command("go", "list", "-f", "{{.Doc}}", p.ImportPath)
		cmd.Dir = ".."
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", p.ImportPath, err)
		}
		if strings.TrimSpace(string(out)) == "" {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
	}
}
