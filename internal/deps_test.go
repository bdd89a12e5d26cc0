// Package internal_test holds repository-wide checks: the package layering
// of docs/design.md as an import-graph test (like tailscale's deptest),
// the threat catalogue of docs/security.md (catalogue_test.go), and the
// rule that nothing cites a file the repository lacks (links_test.go).
package internal_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	{"internal/bridge", "ours", "the bridges' kernel imports none of ours (lsp, dap and terminal import it, never the reverse)"},
	{"internal/ratelimit", "ours", "per-client rate limiters know nothing of ours"},
	{"internal/metrics", "ours", "the Prometheus register helper knows nothing of ours"},
	{"internal/jsonfold", "ours", "a JSON helper knows nothing of ours"},
	{"internal/dirsize", "ours", "a directory-size helper knows nothing of ours"},
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
	{"lsp", module + "/dap", "a bridge imports no other bridge"},
	{"lsp", module + "/terminal", "a bridge imports no other bridge"},
	{"dap", module + "/lsp", "a bridge imports no other bridge (dap may import terminal, for the integrated terminal)"},
	{"terminal", module + "/lsp", "a bridge imports no other bridge"},
	{"terminal", module + "/dap", "a bridge imports no other bridge"},
	{"workspace", module + "/lsp", "workspaces know nothing of the bridges that serve them"},
	{"workspace", module + "/dap", "workspaces know nothing of the bridges that serve them"},
	{"workspace", module + "/terminal", "workspaces know nothing of the bridges that serve them"},
	{"server", "go.lsp.dev/protocol", "server never reads LSP message bodies"},
	{"server", "github.com/google/go-dap", "server never reads DAP message bodies"},
	{"*", "testing", "tests only (tailscale's rule)"},
	{"*", module + "/internal/isotest", "bubblewrap test helpers: _test.go files only"},
	{"*", module + "/internal/wstest", "workspace test helpers: _test.go files only"},
	{"*", module + "/internal/modtest", "module proxy test helpers: _test.go files only"},
	{"*", "flag", "configuration is read once in cmd/ideserver"},
}

// layers lists, for the packages of the layered core, every package of
// ours each may import besides leaves (docs/design.md, Layout). A package
// not listed here is bound by rules only; cmd/ideserver, which wires
// everything, by none.
var layers = map[string][]string{
	"buildcache": {"sandbox"},
	"modcache":   {"sandbox"},
	"workspace":  {"buildcache", "modcache", "sandbox", "store"},
	"lsp":        {"workspace", "sandbox"},
	"dap":        {"workspace", "sandbox", "terminal"},
	"terminal":   {"workspace", "sandbox"},
	"playground": {"buildcache", "modcache", "workspace", "sandbox", "store"},
	"server":     {"lsp", "dap", "terminal", "workspace", "playground", "auth", "store", "web"},
}

// leaves are packages that import none of ours (rules above say so), so
// any package may import them without a cycle or a layer crossed.
var leaves = []string{"internal/bridge", "internal/ratelimit", "internal/metrics", "internal/jsonfold", "internal/dirsize"}

// comingPackages are named by rules before they exist (they are being
// written); a rule about any other package that matches none fails, so a
// misspelt rule cannot pass silently.
var comingPackages = map[string]bool{}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	exists := make(map[string]bool)
	for _, p := range pkgs {
		exists[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = true
	}
	for _, r := range rules {
		if r.from != "*" && !exists[r.from] && !comingPackages[r.from] {
			t.Errorf("a rule names %s, which is no package of the module", r.from)
		}
	}
	for from, allowed := range layers {
		for _, name := range append([]string{from}, allowed...) {
			if !exists[name] {
				t.Errorf("layers names %s, which is no package of the module", name)
			}
		}
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if allowed, ok := layers[rel]; ok {
			for _, imp := range p.Imports {
				dep, ours := strings.CutPrefix(imp, module+"/")
				if !ours || slices.Contains(allowed, dep) || slices.Contains(leaves, dep) {
					continue
				}
				t.Errorf("%s imports %s: it may import only %s of ours, and the leaves %s (docs/design.md, Layout)",
					p.ImportPath, imp, strings.Join(allowed, ", "), strings.Join(leaves, ", "))
			}
		}
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		// internal/wstest and internal/modtest are test helpers (they
		// import testing), for _test.go files only, as their rules say.
		if strings.HasPrefix(rel, "cmd/") || rel == "e2e" || strings.HasPrefix(rel, "internal/testutil") || rel == "internal/wstest" || rel == "internal/modtest" {
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
