package internal_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The threat catalogue of docs/security.md as a test: every case id has
// exactly one entry there, and every id is named by at least one test (in
// its name or a comment), so each case resolves to a test and each test's
// id to text a newcomer can read.

// catalogueGroups is how many ids each group of docs/security.md holds; an
// entry removed from the page, or one added without updating this table,
// fails TestCatalogueEntries.
var catalogueGroups = []struct {
	prefix string
	n      int
}{
	{"AUTH", 14}, {"WS", 13}, {"PATH", 10}, {"LSP", 12}, {"DAP", 9}, {"TTY", 11},
	{"RUN", 9}, {"DB", 8}, {"AV", 6}, {"EMB", 6}, {"SBX", 15},
}

// cataloguePending lists ids that no test names yet, each with the reason.
// An id here does not fail TestCatalogueCoverage; an id here that a test
// does name fails it, so the list only ever shrinks. Keep it empty when
// the truth allows.
var cataloguePending = map[string]string{
	// govulncheck needs the Go vulnerability database (vuln.go.dev), which
	// the machines these tests run on cannot reach, and no offline copy of
	// it exists here; govulncheck itself is fetchable through the module
	// proxy. Run `go run golang.org/x/vuln/cmd/govulncheck@latest ./...`
	// where the database is reachable (CI) until a test can.
	"AV-06": "the vulnerability database is unreachable here",
}

// catalogueEntry matches an entry line of docs/security.md: "- **ID** text".
var catalogueEntry = regexp.MustCompile(`(?m)^- \*\*([A-Z]+-[0-9]{2})\*\*`)

// catalogueID matches an id anywhere in a test file.
var catalogueID = regexp.MustCompile(`\b(AUTH|WS|PATH|LSP|DAP|TTY|RUN|DB|AV|EMB|SBX)-[0-9]{2}\b`)

// catalogueIDs returns every id the groups define, in order.
func catalogueIDs() []string {
	var ids []string
	for _, g := range catalogueGroups {
		for i := 1; i <= g.n; i++ {
			ids = append(ids, fmt.Sprintf("%s-%02d", g.prefix, i))
		}
	}
	return ids
}

// TestCatalogueEntries: docs/security.md has exactly one entry for each id
// of catalogueGroups, and no other entry.
func TestCatalogueEntries(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	count := make(map[string]int)
	for _, m := range catalogueEntry.FindAllSubmatch(doc, -1) {
		count[string(m[1])]++
	}
	want := catalogueIDs()
	if len(want) != 113 {
		t.Errorf("the groups define %d ids, want 113", len(want))
	}
	for _, id := range want {
		if n := count[id]; n != 1 {
			t.Errorf("docs/security.md has %d entries for %s, want exactly 1", n, id)
		}
		delete(count, id)
	}
	for id := range count {
		t.Errorf("docs/security.md has an entry %s that is not in the catalogue's groups", id)
	}
}

// TestCatalogueCoverage: every id is named by some _test.go file of the
// repository or some browser test (web/test/*.mjs); ids named by tests all
// exist. Ids are counted only where written out in full ("TTY-07"), not
// inside ranges ("TTY-01..08").
func TestCatalogueCoverage(t *testing.T) {
	t.Parallel()
	named := make(map[string][]string) // id -> files naming it
	root := ".."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		isTest := strings.HasSuffix(rel, "_test.go") ||
			(strings.HasPrefix(rel, "web/test/") && strings.HasSuffix(rel, ".mjs"))
		if !isTest || rel == "internal/catalogue_test.go" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, id := range catalogueID.FindAllString(string(data), -1) {
			if files := named[id]; !slices.Contains(files, rel) {
				named[id] = append(files, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := catalogueIDs()
	var missing, pending []string
	for _, id := range ids {
		reason, isPending := cataloguePending[id]
		switch {
		case len(named[id]) > 0 && isPending:
			t.Errorf("%s is named by %s but still listed as pending (%s): remove it from cataloguePending", id, strings.Join(named[id], ", "), reason)
		case len(named[id]) == 0 && isPending:
			pending = append(pending, id)
		case len(named[id]) == 0:
			missing = append(missing, id)
		}
		delete(named, id)
	}
	for id := range cataloguePending {
		if !slices.Contains(ids, id) {
			t.Errorf("cataloguePending lists %s, which is not a catalogue id", id)
		}
	}
	for id, files := range named {
		t.Errorf("%s is named by %s but has no entry in docs/security.md", id, strings.Join(files, ", "))
	}
	t.Logf("%d of %d ids named by a test; pending: %v", len(ids)-len(missing)-len(pending), len(ids), pending)
	if len(missing) > 0 {
		t.Errorf("no test names %s: label the test that covers each (a comment such as \"// %s: ...\"), or write one", strings.Join(missing, ", "), missing[0])
	}
}
