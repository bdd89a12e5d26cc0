package buildcache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/sandbox"
)

// fakeProgram makes an executable file standing in for the cache program.
func fakeProgram(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "gocacheprog")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// Setup: nothing before the program exists; under isolation the shared
// directory and the program are bound read-only at their targets; without,
// the host paths are used and quoted for the go command's splitting.
func TestSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := &buildcache.Cache{Dir: filepath.Join(dir, "shared cache"), Program: filepath.Join(dir, "gocacheprog")}
	if _, _, ok := c.Setup(true, "/opt/ideserver/gocache", "/home/user/.cache/go-build"); ok {
		t.Error("Setup before the program exists: ok")
	}
	var nilCache *buildcache.Cache
	if nilCache.Ready() {
		t.Error("a nil Cache is ready")
	}
	fakeProgram(t, dir)
	prog, binds, ok := c.Setup(true, "/opt/ideserver/gocache", "/home/user/.cache/go-build")
	if want := buildcache.ProgramTarget + " -ro /opt/ideserver/gocache -rw /home/user/.cache/go-build"; !ok || prog != want {
		t.Errorf("isolated Setup = %q, %v; want %q", prog, ok, want)
	}
	wantBinds := []sandbox.Bind{
		{Host: c.Dir, Target: "/opt/ideserver/gocache", ReadOnly: true},
		{Host: c.Program, Target: buildcache.ProgramTarget, ReadOnly: true},
	}
	if !slices.Equal(binds, wantBinds) {
		t.Errorf("isolated binds = %+v, want %+v", binds, wantBinds)
	}
	prog, binds, ok = c.Setup(false, "/ignored", "/tmp/it's")
	if want := c.Program + " -ro '" + c.Dir + "' -rw \"/tmp/it's\""; !ok || prog != want || binds != nil {
		t.Errorf("host Setup = %q, %v, %v; want %q and no binds", prog, binds, ok, want)
	}
	if _, _, ok := c.Setup(false, "", `/tmp/both'"`); ok {
		t.Error("Setup with a path holding both quotes: ok")
	}
}

// Prebuild writes a program importing what may be imported, runs the
// commands in order in its directory after handing the files over, and
// publishes the cache: directories 0755, files 0644.
func TestPrebuild(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	c := &buildcache.Cache{Dir: filepath.Join(base, "cache"), Program: filepath.Join(base, "prog")}
	src := filepath.Join(base, "src")
	for _, d := range []string{c.Dir, src, filepath.Join(c.Dir, "ab")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	entry := filepath.Join(c.Dir, "ab", "abcd-d")
	if err := os.WriteFile(entry, []byte("v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ran [][]string
	gave := 0
	n, _, err := c.Prebuild(context.Background(), buildcache.Prebuild{
		Dir: src, GoVersion: "1.26", Packages: []string{"std"},
		Commands: [][]string{{"build", "."}, {"vet", "."}},
		Give:     func(string) error { gave++; return nil },
		Go: func(_ context.Context, args ...string) (string, bool, error) {
			ran = append(ran, args)
			if args[0] == "list" {
				return "fmt|fmt|5|\ninternal/abi|abi|3|\ncmd/go|main|9|\nvendor/x|x|1|\nbroken|broken|1|error\nfmt|fmt|5|\nnet/http|http|40|\n", false, nil
			}
			return "", false, nil
		},
	})
	if err != nil || n != 2 {
		t.Fatalf("Prebuild = %d, %v; want 2 packages", n, err)
	}
	if gave != 3 {
		t.Errorf("Give called %d times, want 3 (go.mod, main.go, main_test.go)", gave)
	}
	if len(ran) != 3 || ran[0][0] != "list" || ran[1][0] != "build" || ran[2][0] != "vet" {
		t.Errorf("commands run: %q", ran)
	}
	main, err := os.ReadFile(filepath.Join(src, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(main), "_ \"fmt\"\n\t_ \"net/http\"\n)") || strings.Contains(string(main), "internal") {
		t.Errorf("program:\n%s", main)
	}
	for p, want := range map[string]os.FileMode{c.Dir: 0o755, filepath.Dir(entry): 0o755, entry: 0o644} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, want)
		}
	}
	if size, err := c.Size(); err != nil || size != 2 {
		t.Errorf("Size = %d, %v; want 2", size, err)
	}
}

// A failing go command ends the prebuild with its output's last lines,
// and the cache is not published.
func TestPrebuildFails(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	c := &buildcache.Cache{Dir: filepath.Join(base, "cache")}
	src := filepath.Join(base, "src")
	for _, d := range []string{c.Dir, src} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	for i := range 30 {
		fmt.Fprintf(&out, "line %d\n", i)
	}
	_, _, err := c.Prebuild(context.Background(), buildcache.Prebuild{
		Dir: src, GoVersion: "1.26", Commands: [][]string{{"vet", "."}, {"build", "."}},
		Go: func(_ context.Context, args ...string) (string, bool, error) {
			if args[0] == "build" {
				t.Error("a command ran after one failed")
			}
			return out.String(), args[0] == "vet", nil
		},
	})
	if err == nil || !strings.Contains(err.Error(), "go vet: line 10\n") || strings.Contains(err.Error(), "line 9\n") || !strings.Contains(err.Error(), "line 29") {
		t.Errorf("Prebuild = %v; want the failing command's last 20 lines", err)
	}
	if fi, err := os.Stat(c.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the cache was published after a failure: %v %v", fi.Mode(), err)
	}
}
