package playground_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/playground"
)

var txtarSeeds = []string{
	"package main\n",
	"",
	"   \n",
	"package main\n-- go.mod --\nmodule play\n",
	"-- a/b.go --\npackage b\n",
	"-- ../x.go --\nx",
	"-- /etc/passwd --\nx",
	"-- a/../../x --\nx",
	"-- a\\b.go --\nx",
	"-- a\x00b --\nx",
	"-- a\nb --\n",
	"-- . --\nx",
	"-- a//b --\nx",
	"-- a/ --\nx",
	"-- C:x --\nx",
	"package main\n-- prog.go --\nx",
	"-- x.go --\n-- x.go --\n",
	strings.Repeat("-- f.go --\n", 25),
	"-- " + strings.Repeat("a", 300) + " --\n",
	"-- a --\nx\n-- a/b.go --\npackage b\n",
	"-- go.mod --\nmodule play\n-- prog.go --\npackage main\n",
}

// TestSplitFiles is PATH-09 for txtar bodies, the playground's archive
// format: entries named with "../", absolute names, backslashes, NUL,
// duplicates and a file that is another's directory are refused, and so
// are more than MaxFiles entries. A txtar entry cannot be a link. prog.go
// may be named when no source comes before the first entry.
func TestSplitFiles(t *testing.T) {
	t.Parallel()
	for _, s := range txtarSeeds[4 : len(txtarSeeds)-1] {
		fs, err := playground.SplitFiles([]byte(s))
		if s == "-- a/b.go --\npackage b\n" || s == "-- a\nb --\n" { // the latter is no header: prog.go
			if err != nil || fs.Num() != 1 {
				t.Errorf("%q: %v", s, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: accepted %v", s, fs.Names())
		}
	}
	fs, err := playground.SplitFiles([]byte("package main\n-- go.mod --\nmodule play\n"))
	if err != nil || strings.Join(fs.Names(), ",") != "prog.go,go.mod" {
		t.Fatalf("names %v, %v", fs, err)
	}
	// The Go Playground's other layout: go.mod first, prog.go named.
	fs, err = playground.SplitFiles([]byte(txtarSeeds[len(txtarSeeds)-1]))
	if err != nil || strings.Join(fs.Names(), ",") != "go.mod,prog.go" || string(fs.Data("prog.go")) != "package main\n" {
		t.Fatalf("go.mod first: %v, %v", fs, err)
	}
}

// FuzzSplitFiles (PATH-09): any body gives a file set whose names all stay inside a
// run directory, or an ErrInvalidFiles error; never a panic.
func FuzzSplitFiles(f *testing.F) {
	for _, s := range txtarSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := playground.SplitFiles([]byte(s))
		if err != nil {
			if !errors.Is(err, playground.ErrInvalidFiles) {
				t.Fatalf("error %v does not wrap ErrInvalidFiles", err)
			}
			return
		}
		if fs.Num() == 0 || fs.Num() > playground.MaxFiles {
			t.Fatalf("%d files", fs.Num())
		}
		for _, name := range fs.Names() {
			if !filepath.IsLocal(name) || strings.ContainsAny(name, "\\\x00\n") {
				t.Fatalf("name %q escapes the run directory", name)
			}
		}
		if _, err := playground.SplitFiles(fs.Format()); err != nil && fs.Num() > 1 {
			t.Fatalf("Format does not split again: %v", err)
		}
	})
}
