package buildcache_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/internal/isotest"
)

// A disk that fills while the shared cache is prebuilt: the prebuild ends
// with an error that says so (the go command's last lines), nothing is
// published, and what it left half-written is never served: a build that
// reads the full cache through the cache program still succeeds (a cut
// entry is a miss) and changes nothing in it. Once there is room again,
// the next prebuild completes over what the first one wrote.
func TestPrebuildDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fmt from nothing")
	}
	if os.Geteuid() != 0 || hostGo.root == "" {
		t.Skip("needs root (to mount a small tmpfs) and a go command")
	}
	base := t.TempDir()
	small := filepath.Join(base, "small")
	if err := os.Mkdir(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", small, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=1m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(small, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	goBin := filepath.Join(hostGo.root, "bin", "go")
	prog, err := buildcache.BuildProgram(t.Context(), goBin, filepath.Join(base, "bin"), hostGo.cache)
	if err != nil {
		t.Fatal(err)
	}
	c := &buildcache.Cache{Dir: filepath.Join(small, "cache"), Program: prog, Toolchain: "the host's go"}
	if err := os.Mkdir(c.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOENV=off", "GOFLAGS=-mod=mod -trimpath", "CGO_ENABLED=0", "GOTOOLCHAIN=local",
		"GOPROXY=off", "GOWORK=off", "HOME="+base, "GOPATH="+filepath.Join(base, "gopath"))
	prebuild := func(n int) (buildcache.Result, error) {
		src := filepath.Join(base, "src", string(rune('a'+n)))
		if err := os.MkdirAll(src, 0o700); err != nil {
			t.Fatal(err)
		}
		return c.Prebuild(t.Context(), buildcache.Prebuild{
			Dir: src, GoVersion: "1.24", Packages: []string{"fmt"},
			Commands: [][]string{{"build", "-o", os.DevNull, "."}},
			Go:       runGo(goBin, src, append(env, "GOCACHE="+c.Dir)),
			Env:      env,
		})
	}

	_, err = prebuild(0)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("prebuild on a full disk: %v; want an error saying the device is full", err)
	}
	if fi, err := os.Stat(c.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the cache of a failed prebuild was published: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(buildcache.Stamp(c.Dir)); !os.IsNotExist(err) {
		t.Errorf("the failed prebuild left a stamp: %v", err)
	}

	// A user's build reads the half-written cache read-only.
	before := isotest.Snapshot(t, c.Dir, false)
	user := filepath.Join(base, "user")
	if err := os.MkdirAll(user, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"go.mod":  "module hello\n\ngo 1.24\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(user, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(base, "hello")
	if out, failed, err := runGo(goBin, user, append(env, "GOCACHE="+filepath.Join(base, "user-gocache"),
		"GOCACHEPROG="+prog+" -ro "+c.Dir+" -rw "+filepath.Join(base, "user-cache")))(t.Context(), "build", "-o", exe, "."); err != nil || failed {
		t.Fatalf("a build over the half-written cache: %v\n%s", err, out)
	}
	if out, err := exec.Command(exe).Output(); err != nil || string(out) != "hello\n" {
		t.Fatalf("the program built over the half-written cache: %q %v", out, err)
	}
	if d := isotest.Changed(before, isotest.Snapshot(t, c.Dir, false)); d != "" {
		t.Error("a user's build changed the shared cache: " + d)
	}

	// Room again: the prebuild completes and publishes.
	if err := syscall.Mount("tmpfs", small, "tmpfs", syscall.MS_REMOUNT|syscall.MS_NOSUID|syscall.MS_NODEV, "size=512m"); err != nil {
		t.Fatalf("grow the tmpfs: %v", err)
	}
	if r, err := prebuild(1); err != nil || r.Reused {
		t.Fatalf("prebuild with room: %+v %v", r, err)
	}
	if fi, err := os.Stat(c.Dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the completed cache is not published: %v %v", fi.Mode(), err)
	}
	// A restart then finds the stamp, and builds nothing again.
	if r, err := prebuild(2); err != nil || !r.Reused {
		t.Errorf("prebuild after a complete one: %+v %v; want it reused", r, err)
	}
}

// runGo returns a GoFunc running the go command at goBin in dir with env.
func runGo(goBin, dir string, env []string) buildcache.GoFunc {
	return func(ctx context.Context, args ...string) (string, bool, error) {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), true, nil
		}
		return string(out), false, err
	}
}
