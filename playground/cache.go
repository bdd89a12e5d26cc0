package playground

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ideserver/ideserver/buildcache"
	"github.com/ideserver/ideserver/sandbox"
)

// Cache is the build cache runs share: a buildcache.Cache that only
// PrepareCache writes (as CacheOwner) and that runs see read-only through
// the cache program, with the packages the prebuild builds. What a run's
// build adds lives in the run's own scratch directory and dies with it, so
// no run can change what another one builds with.
type Cache struct {
	buildcache.Cache
	// Packages are the go command patterns PrepareCache builds; nil means
	// {"std"} (buildcache.DefaultPackages).
	Packages []string
}

// cacheSetup returns the GOCACHEPROG value and the binds of a build whose
// scratch directory is scratch: the shared cache (read-only) and the cache
// program, or nothing when there is no usable cache program yet.
func (s *Service) cacheSetup(scratch string) (string, []sandbox.Bind) {
	c := s.opts.Cache
	if c == nil {
		return "", nil
	}
	prog, binds, ok := c.Setup(s.isolated(), cacheTarget, filepath.Join(scratch, "gocacheprog"))
	if !ok {
		return "", nil
	}
	return prog, binds
}

// PrepareCache fills the shared cache (Options.Cache) with Packages
// (default the standard library), built, vetted and test-vetted exactly as
// runs build, vet and test: a program importing every package of the
// patterns is built in a run directory inside the sandbox as CacheOwner,
// with the same GOROOT view and environment as runs, so the cache keys
// match (buildcache.Cache.Prebuild). Runs may go on meanwhile (they find
// what is done). It ends with Close or ctx. It returns how long it took.
func (s *Service) PrepareCache(ctx context.Context) (time.Duration, error) {
	c := s.opts.Cache
	if c == nil {
		return 0, errNoCache
	}
	if s.ctx.Err() != nil {
		return 0, ErrClosed
	}
	s.active.Add(1)
	defer s.active.Done()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.ctx, func() { cancel(ErrClosed) })
	defer stop()

	root, err := os.MkdirTemp(s.opts.TempDir, "cache-")
	if err != nil {
		return 0, fmt.Errorf("prepare cache: %w", err)
	}
	defer sandbox.RemoveAll(root)
	dir := filepath.Join(root, "src")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, fmt.Errorf("prepare cache: %w", err)
	}
	if !s.isolated() {
		if err := os.Mkdir(filepath.Join(root, "tmp"), 0o700); err != nil {
			return 0, fmt.Errorf("prepare cache: %w", err)
		}
	}
	r, err := c.Prebuild(ctx, buildcache.Prebuild{
		Dir: dir, GoVersion: s.opts.GoVersion, Packages: c.Packages,
		// What runs do: go build, go vet (/vet, withVet), go test -c (test
		// programs, which vet their dependencies with go test's own
		// flags), each build on fake time (the default, which rebuilds
		// the runtime and all above it) and on the wall clock.
		Commands: [][]string{
			{"build", fakeTimeTag, "-o", os.DevNull, "."},
			{"vet", "."},
			{"test", "-c", fakeTimeTag, "-o", os.DevNull, "."},
			{"build", "-o", os.DevNull, "."},
			{"test", "-c", "-o", os.DevNull, "."},
		},
		Give: func(string) error { return s.giveTo(CacheOwner, root) },
		Go: func(ctx context.Context, args ...string) (string, bool, error) {
			return s.cacheGo(ctx, root, dir, args)
		},
		Env: s.goEnv(s.scratchDir(root), ""),
	})
	if err != nil {
		return 0, fmt.Errorf("prepare cache: %w", err)
	}
	if r.Reused {
		s.log.Info("playground build cache up to date", "packages", r.Packages)
	} else {
		s.log.Info("playground build cache prepared", "packages", r.Packages, "duration", r.Duration.Round(time.Millisecond))
	}
	return r.Duration, nil
}

// cacheGo runs the go command with args in dir (below the prebuild's run
// directory root) as CacheOwner, the shared cache bound read-write as
// GOCACHE. failed reports a non-zero exit; out is the output.
func (s *Service) cacheGo(ctx context.Context, root, dir string, args []string) (out string, failed bool, err error) {
	scratch := s.scratchDir(root)
	env := s.goEnv(scratch, "")
	binds := runBinds(dir)
	gocache := s.opts.Cache.Dir
	if s.isolated() {
		gocache = cacheTarget
		binds = append(binds, sandbox.Bind{Host: s.opts.Cache.Dir, Target: cacheTarget})
	}
	env = append(env, "GOCACHE="+gocache) // the last one wins
	buf := &sandbox.Output{Max: 1 << 20}
	proc, err := s.opts.Runner.Start(ctx, sandbox.Cmd{
		Kind: "build", Owner: CacheOwner, Path: "go", Args: args,
		Env: env, Dir: dir, Stdout: buf, Stderr: buf,
		Network: sandbox.NetworkNone, Binds: s.binds(binds...),
	})
	if err != nil {
		return "", false, fmt.Errorf("prepare cache: start go %s: %w", args[0], err)
	}
	defer proc.Close()
	st, err := proc.Wait()
	if err != nil {
		return "", false, fmt.Errorf("prepare cache: go %s: %w", args[0], err)
	}
	return buf.String(), st.Code != 0 || st.Signal != "", nil
}

// errNoCache is returned by PrepareCache without Options.Cache.
var errNoCache = errors.New("playground: no shared build cache configured")
