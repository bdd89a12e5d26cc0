package buildcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed" // the cache program's source
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// programSource is the cache program (see gocacheprog/main.go): the
// server builds it with the toolchain builds use (BuildProgram).
//
//go:embed gocacheprog/main.go
var programSource []byte

// ProgramPath returns where BuildProgram puts the cache program in dir:
// gocacheprog-HASH, HASH naming its source, so a server of another version
// never runs a stale build.
func ProgramPath(dir string) string {
	sum := sha256.Sum256(programSource)
	return filepath.Join(dir, "gocacheprog-"+hex.EncodeToString(sum[:])[:12])
}

// BuildProgram builds the cache program into dir (created 0755 when
// missing) at ProgramPath(dir), mode 0755 so every sandbox uid can run
// it, unless it is there already, and returns its path. goBinary is the go
// command; cacheDir is the build cache of this (host) build, e.g. one the
// server keeps for building its tools. The program uses the standard
// library only; the build is written to a temporary name and renamed, so
// the path never holds a partial binary.
func BuildProgram(ctx context.Context, goBinary, dir, cacheDir string) (string, error) {
	target := ProgramPath(dir)
	if programReady(target) {
		return target, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build cache program: %w", err)
	}
	src, err := os.MkdirTemp(dir, ".gocacheprog-src-")
	if err != nil {
		return "", fmt.Errorf("build cache program: %w", err)
	}
	defer os.RemoveAll(src)
	files := map[string][]byte{
		"go.mod":  []byte("module gocacheprog\n\ngo 1.24\n"),
		"main.go": programSource,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o600); err != nil {
			return "", fmt.Errorf("build cache program: %w", err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "tmp"), 0o700); err != nil {
		return "", fmt.Errorf("build cache program: %w", err)
	}
	out := filepath.Join(src, "gocacheprog")
	cmd := exec.CommandContext(ctx, goBinary, "build", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	// The go command and the compiler and linker it starts form a process
	// group of their own: cancelling kills all of them, so nothing writes
	// into src after this function returns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer func() {
		if cmd.Process != nil {
			killGroup(cmd.Process.Pid)
		}
	}()
	cmd.Env = []string{
		"PATH=" + filepath.Dir(goBinary) + ":/usr/bin:/bin", "TMPDIR=" + filepath.Join(src, "tmp"),
		"HOME=" + src, "GOPATH=" + filepath.Join(src, "gopath"), "GOCACHE=" + cacheDir,
		"GOENV=off", "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0", "GOTOOLCHAIN=local",
		"GOPROXY=off",
		// The go command's telemetry starts no child of its own (in a
		// process group of its own, it would outlive a cancelled build).
		"GO_TELEMETRY_CHILD=2",
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build cache program: %w: %s", err, strings.TrimSpace(buf.String()))
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return "", fmt.Errorf("build cache program: %w", err)
	}
	if err := os.Rename(out, target); err != nil {
		return "", fmt.Errorf("build cache program: %w", err)
	}
	return target, nil
}

// killGroup kills the process group pgid and waits, up to five seconds,
// until none of it is left: a SIGKILLed process may still run for a moment.
func killGroup(pgid int) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if syscall.Kill(-pgid, syscall.SIGKILL) == syscall.ESRCH {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// programReady reports whether path is an executable file.
func programReady(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
