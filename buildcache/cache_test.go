package buildcache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
	r, err := c.Prebuild(context.Background(), buildcache.Prebuild{
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
	if err != nil || r.Packages != 2 || r.Reused || r.Key != "" {
		t.Fatalf("Prebuild = %+v, %v; want 2 packages, not reused, no key", r, err)
	}
	if _, err := os.Stat(buildcache.Stamp(c.Dir)); !os.IsNotExist(err) {
		t.Errorf("a cache without a Toolchain got a stamp: %v", err)
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
	_, err := c.Prebuild(context.Background(), buildcache.Prebuild{
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

// TestPrebuildStamp: a prebuild that completes leaves a stamp, and the
// same prebuild again writes the program but runs none of its commands;
// another toolchain, command or key variable of the environment runs them
// again, as does an emptied cache, and a prebuild that fails leaves no
// stamp (nor the old one).
func TestPrebuildStamp(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	c := &buildcache.Cache{Dir: filepath.Join(base, "cache"), Toolchain: "go1.26 abc"}
	if err := os.MkdirAll(filepath.Join(c.Dir, "ab"), 0o700); err != nil {
		t.Fatal(err)
	}
	prebuild := func(commands [][]string, env []string, fail bool) (buildcache.Result, []string, error) {
		t.Helper()
		src, err := os.MkdirTemp(base, "src-")
		if err != nil {
			t.Fatal(err)
		}
		var ran []string
		r, err := c.Prebuild(context.Background(), buildcache.Prebuild{
			Dir: src, GoVersion: "1.26", Commands: commands, Env: env,
			Go: func(_ context.Context, args ...string) (string, bool, error) {
				ran = append(ran, args[0])
				if args[0] == "list" {
					return "fmt|fmt|5|\n", false, nil
				}
				return "", fail, nil
			},
		})
		if _, serr := os.Stat(filepath.Join(src, "main.go")); serr != nil && err == nil {
			t.Errorf("no program written: %v", serr)
		}
		return r, ran, err
	}
	build := [][]string{{"build", "."}}
	env := []string{"GOFLAGS=-trimpath", "HOME=/a"}
	r, ran, err := prebuild(build, env, false)
	if err != nil || r.Reused || r.Key == "" || !slices.Equal(ran, []string{"list", "build"}) {
		t.Fatalf("first prebuild: %+v %v, ran %q", r, err, ran)
	}
	r2, ran, err := prebuild(build, []string{"HOME=/b", "GOFLAGS=-trimpath"}, false)
	if err != nil || !r2.Reused || r2.Packages != 1 || r2.Key != r.Key || !slices.Equal(ran, []string{"list"}) {
		t.Errorf("same prebuild again (another HOME): %+v %v, ran %q; want reused, only list", r2, err, ran)
	}
	for name, tc := range map[string]struct {
		commands [][]string
		env      []string
	}{
		"another command": {[][]string{{"build", "-race", "."}}, env},
		"another GOFLAGS": {build, []string{"GOFLAGS=-mod=mod"}},
	} {
		if r, ran, err := prebuild(tc.commands, tc.env, false); err != nil || r.Reused || len(ran) != 2 {
			t.Errorf("%s: %+v %v, ran %q; want the commands run", name, r, err, ran)
		}
	}
	if _, _, err := prebuild(build, env, true); err == nil {
		t.Fatal("a failing command did not fail the prebuild")
	}
	if _, err := os.Stat(buildcache.Stamp(c.Dir)); !os.IsNotExist(err) {
		t.Errorf("a failed prebuild left a stamp: %v", err)
	}
	if r, ran, err := prebuild(build, env, false); err != nil || r.Reused || len(ran) != 2 {
		t.Errorf("after a failure: %+v %v, ran %q; want the commands run", r, err, ran)
	}
	c.Toolchain = "go1.27 def"
	if r, _, err := prebuild(build, env, false); err != nil || r.Reused {
		t.Errorf("another toolchain: %+v %v; want the commands run", r, err)
	}
	// A cache emptied behind its stamp's back is filled again.
	if err := os.Remove(filepath.Join(c.Dir, "ab")); err != nil {
		t.Fatal(err)
	}
	if r, _, err := prebuild(build, env, false); err != nil || r.Reused {
		t.Errorf("an emptied cache: %+v %v; want the commands run", r, err)
	}
}

// TestToolchain identifies this test's own Go installation, and the same
// way twice.
func TestToolchain(t *testing.T) {
	a, err := buildcache.Toolchain(runtime.GOROOT())
	if err != nil {
		t.Skipf("no Go installation at GOROOT: %v", err)
	}
	if b, err := buildcache.Toolchain(runtime.GOROOT()); err != nil || a != b || len(a) != 64 {
		t.Errorf("Toolchain = %q, then %q, %v", a, b, err)
	}
	if _, err := buildcache.Toolchain(t.TempDir()); err == nil {
		t.Error("a directory without a go command has a toolchain")
	}
}
