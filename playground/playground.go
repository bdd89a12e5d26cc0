package playground

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// Owner is the sandbox owner of playground builds and programs: an
// internal identity no tenant can claim. It has no HOME and no caches of
// its own: every command of a run gets a fresh, empty HOME, TMPDIR,
// GOPATH and writable build cache in the sandbox's own /tmp, and sees the
// shared build cache (Cache) read-only, so nothing one run writes reaches
// another.
const Owner = workspace.PlaygroundOwner

// CacheOwner is the sandbox owner of PrepareCache, the only writer of the
// shared build cache. It runs no client code.
const CacheOwner = workspace.PlaygroundCacheOwner

// Defaults of Options.
const (
	DefaultRunTimeout   = 10 * time.Second
	DefaultBuildTimeout = 60 * time.Second
	// DefaultModuleTimeout bounds resolving and fetching one run's modules.
	DefaultModuleTimeout = 60 * time.Second
	DefaultMaxOutput     = 1 << 20
	DefaultMemoryLimit   = 256 << 20
	DefaultMaxSnippet    = 64 << 10
	DefaultMaxQueue      = 64
)

// Options configures a Service. Runner and Store are required.
type Options struct {
	Runner *sandbox.Runner
	Store  *store.DB
	// ServeAPI turns on the Go Playground compatible API (compile, fmt,
	// vet, share, snippets); false leaves only workspace shares.
	ServeAPI bool
	// Workspaces is needed for workspace shares (snapshot and fork); nil
	// turns them off (ErrNoWorkspaces).
	Workspaces *workspace.Manager

	// Cache is the build cache runs share, read-only; nil means none:
	// every build starts from an empty cache.
	Cache *Cache
	// GoVersion is the "go" line of the go.mod written when a body has
	// none, e.g. "1.26"; "" means the version of this binary's runtime.
	GoVersion string
	// TempDir holds the per-run directories; "" means os.TempDir().
	TempDir string
	// Prlimit is the host path of util-linux prlimit, used to set
	// RLIMIT_DATA and RLIMIT_FSIZE on programs. "" means no rlimits: only
	// GOMEMLIMIT (a soft limit) bounds memory.
	Prlimit string

	RunTimeout   time.Duration // wall clock of a program (DefaultRunTimeout)
	BuildTimeout time.Duration // wall clock of go build / go vet (DefaultBuildTimeout)
	MaxOutput    int64         // bytes of program output kept (DefaultMaxOutput)
	MemoryLimit  int64         // bytes of program data memory (DefaultMemoryLimit)
	MaxSnippet   int64         // bytes of a body (DefaultMaxSnippet)

	// MaxConcurrent bounds builds and runs at once; 0 means the number of
	// CPUs (at least 2). MaxPerClient bounds them per client key; 0 means
	// half of MaxConcurrent (at least 1). MaxQueue bounds waiting requests;
	// 0 means DefaultMaxQueue.
	MaxConcurrent int
	MaxPerClient  int
	MaxQueue      int

	// MaxShareSize bounds the bytes of a workspace snapshot (4 MiB);
	// MaxShareFiles its files (1000).
	MaxShareSize  int64
	MaxShareFiles int

	// BinaryCache bounds the executables of earlier builds the Service
	// keeps in memory, so that a body built before (with the same
	// toolchain and settings) runs again without a build. 0 means
	// DefaultBinaryCache, negative means none. MaxBinaryCacheBytes bounds
	// their bytes (0: DefaultMaxBinaryCacheBytes). Programs' output is
	// never kept: each request runs its program.
	BinaryCache         int
	MaxBinaryCacheBytes int64

	// ShareRate bounds the new snippets a client may share per minute (a
	// token bucket holding as many); 0 means DefaultShareRate, negative
	// means no limit. Repeats of stored snippets are free.
	ShareRate int
	// GOROOT is the host path of the Go installation programs are built
	// with (Binds bind it read-only) and whose standard
	// library /fmt with imports resolves against (its api/ directory); ""
	// means go/build's default.
	GOROOT string
	// Binds are the binds every playground process gets under bubblewrap
	// before its own: GOROOT read-only (at the target its GOROOT maps to)
	// and the tools, as workspace.Manager.InternalBinds gives them. nil
	// means none (a process then sees only its run directory and the
	// runner's read-only paths).
	Binds []sandbox.Bind

	// Modules resolves and serves the third-party modules programs import
	// (modules.go); nil means runs have the standard library only.
	Modules Modules
	// ModuleLimits bound the modules of one run (count, bytes); zero
	// fields take modcache's defaults.
	ModuleLimits modcache.Limits
	// ModuleTimeout bounds resolving and fetching one run's modules; 0
	// means DefaultModuleTimeout.
	ModuleTimeout time.Duration

	Registerer prometheus.Registerer // nil: metrics are not registered
	Logger     *slog.Logger          // nil: discard
	Now        func() time.Time      // nil: time.Now
}

// Errors a caller maps to responses.
var (
	// ErrTooLarge: a body or snapshot exceeds its limit.
	ErrTooLarge = errors.New("playground: too large")
	// ErrNotFound: no such snippet or share (or it expired, or was revoked).
	ErrNotFound = errors.New("playground: not found")
	// ErrInvalid: a malformed share request (access, expires_in).
	ErrInvalid = errors.New("playground: invalid request")
	// ErrClosed: the Service was closed.
	ErrClosed = errors.New("playground: closed")
)

// Service runs the playground. Its methods are safe for concurrent use.
type Service struct {
	opts   Options
	log    *slog.Logger
	lim    *limiter
	shares *shareLimiter // nil: no share limit
	std    *stdImports
	bins   *binCache // nil: off
	met    *serviceMetrics
	// resolved remembers recent module resolutions (modules.go).
	resolved resolutions
	ctx      context.Context // cancelled by Close: ends every build and run
	cancel   context.CancelFunc
	active   sync.WaitGroup // admitted requests
}

// New checks opts and returns a Service. It starts nothing.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Runner == nil:
		return nil, errors.New("playground: Options.Runner is required")
	case opts.Store == nil:
		return nil, errors.New("playground: Options.Store is required")
	case opts.Cache != nil && (!filepath.IsAbs(opts.Cache.Dir) || !filepath.IsAbs(opts.Cache.Program)):
		return nil, errors.New("playground: Options.Cache needs absolute Dir and Program")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.RunTimeout, DefaultRunTimeout)
	def(&opts.BuildTimeout, DefaultBuildTimeout)
	def(&opts.ModuleTimeout, DefaultModuleTimeout)
	def64 := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def64(&opts.MaxOutput, DefaultMaxOutput)
	def64(&opts.MemoryLimit, DefaultMemoryLimit)
	def64(&opts.MaxSnippet, DefaultMaxSnippet)
	def64(&opts.MaxShareSize, 4<<20)
	if opts.MaxShareFiles <= 0 {
		opts.MaxShareFiles = 1000
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = max(2, runtime.NumCPU())
	}
	if opts.MaxPerClient <= 0 {
		opts.MaxPerClient = max(1, opts.MaxConcurrent/2)
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = DefaultMaxQueue
	}
	if opts.ShareRate == 0 {
		opts.ShareRate = DefaultShareRate
	}
	if opts.GOROOT == "" {
		opts.GOROOT = build.Default.GOROOT
	}
	if opts.GoVersion == "" {
		opts.GoVersion = goVersion(runtime.Version())
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	met, err := newServiceMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("playground: register metrics: %w", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	svc := &Service{
		opts: opts, log: log, ctx: ctx, cancel: func() { cancel(ErrClosed) },
		lim:  newLimiter(opts.MaxConcurrent, opts.MaxPerClient, opts.MaxQueue, met),
		met:  met,
		std:  &stdImports{goroot: opts.GOROOT},
		bins: newBinCache(opts.BinaryCache, opts.MaxBinaryCacheBytes),
	}
	if opts.ShareRate > 0 {
		svc.shares = newShareLimiter(opts.ShareRate, opts.Now)
	}
	return svc, nil
}

// ServesAPI reports Options.ServeAPI.
func (s *Service) ServesAPI() bool { return s.opts.ServeAPI }

// Close ends every build and run in progress and makes later calls fail
// with ErrClosed. It waits until their processes are gone (or ctx ends).
func (s *Service) Close(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() { s.active.Wait(); s.bins.close(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close playground: %w", ctx.Err())
	}
}

// goVersion turns "go1.26.8" into "1.26".
func goVersion(v string) string {
	v = strings.TrimPrefix(v, "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	}
	return "1.26"
}
