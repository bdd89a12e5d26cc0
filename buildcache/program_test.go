package buildcache_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/buildcache"
)

// Stopping the server while the cache program builds leaves nothing behind:
// no process of the build (the compiler and linker included) keeps writing
// into the data directory, and its source directory is gone.
func TestBuildProgramCancelLeavesNothing(t *testing.T) {
	if hostGo.root == "" {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	// An empty build cache: the build compiles the standard library parts
	// the program needs, long enough to be cancelled in the middle.
	go func() {
		_, err := buildcache.BuildProgram(ctx, filepath.Join(hostGo.root, "bin", "go"), dir, t.TempDir())
		done <- err
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ents, _ := filepath.Glob(filepath.Join(dir, ".gocacheprog-src-*", "*")); len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the build never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for len(processesIn(dir)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // the go command has started
	}
	cancel()
	if err := <-done; err == nil || !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
	if ps := processesIn(dir); len(ps) != 0 {
		t.Errorf("processes of the cancelled build still run in the data directory: %v", ps)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, ".gocacheprog-src-*")); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// processesIn returns the pids of processes whose working directory lies
// in dir.
func processesIn(dir string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && strings.HasPrefix(cwd, dir+"/") {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
