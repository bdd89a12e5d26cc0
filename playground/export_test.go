package playground

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/ideserver/ideserver/sandbox"
)

// HoldSlot takes a slot of s's limiter for client, as a running build
// would, until release is called.
func HoldSlot(s *Service, client string) (release func(), err error) {
	return s.lim.acquire(context.Background(), client)
}

// Queued reports how many requests wait for a slot of s's limiter.
func Queued(s *Service) int {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	return len(s.lim.queue)
}

// CachePuts builds body as Compile would, in IsolationNone (where the
// run's scratch directory is on the host), and returns how many action
// entries the build put into the run's own writable cache: what it could
// not find in the shared cache.
func CachePuts(s *Service, body string) (int, error) {
	fs, err := SplitFiles([]byte(body))
	if err != nil {
		return 0, err
	}
	p, err := s.prepare(context.Background(), fs, runOptions{build: true})
	if err != nil {
		return 0, err
	}
	defer sandbox.RemoveAll(p.root)
	if p.buildErrs != "" {
		return 0, errors.New(p.buildErrs)
	}
	n := 0
	err = filepath.WalkDir(filepath.Join(p.scratch, "gocacheprog"), func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "-a") {
			n++
		}
		return err
	})
	return n, err
}

// BinaryCacheHits reports how many builds s's binary cache has saved.
func BinaryCacheHits(s *Service) int64 {
	if s.bins == nil {
		return 0
	}
	return s.bins.hits.Load()
}

// BuildInspect builds body as Compile would (with vet when withVet), in
// IsolationNone, and calls f with the host path of the executable ("" for
// build errors) and the names in the scratch directory of the run's
// commands (HOME, TMPDIR) once they are over.
func BuildInspect(s *Service, body string, withVet bool, f func(exe string, scratch []string) error) error {
	fs, err := SplitFiles([]byte(body))
	if err != nil {
		return err
	}
	p, err := s.prepare(context.Background(), fs, runOptions{vet: withVet, build: true})
	if err != nil {
		return err
	}
	defer sandbox.RemoveAll(p.root)
	if _, err := p.waitVet(); err != nil {
		return err
	}
	entries, err := os.ReadDir(p.scratch)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return f(p.exe, names)
}
