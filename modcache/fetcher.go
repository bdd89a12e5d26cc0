package modcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/ideserver/ideserver/internal/dirsize"
	"github.com/ideserver/ideserver/sandbox"
)

// Target is where an isolated process sees the shared module cache
// (read-only).
const Target = "/opt/ideserver/gomodcache"

// DefaultProxy is GOPROXY when none is configured (the go command's own
// default).
const DefaultProxy = "https://proxy.golang.org,direct"

// Errors of Fetch. Each is wrapped with the module version it concerns.
var (
	// ErrInvalid: not a module path with a canonical version (queries such
	// as "latest" or "v1" are not fetched).
	ErrInvalid = errors.New("modcache: not a module version")
	// ErrPrivate: the module matches GOPRIVATE; it stays in each user's
	// own module cache.
	ErrPrivate = errors.New("modcache: private module (GOPRIVATE)")
	// ErrChecksum: what the proxy served does not match the checksum
	// database (or the copy does not match what the go command verified).
	ErrChecksum = errors.New("modcache: checksum mismatch")
	// ErrTimeout: the download did not finish within Options.Timeout.
	ErrTimeout = errors.New("modcache: fetch timed out")
	// ErrFull: more versions wait than Options.MaxQueue, or the shared
	// cache holds Options.MaxBytes already.
	ErrFull = errors.New("modcache: fetch queue or cache full")
	// ErrClosed: the Fetcher is closed.
	ErrClosed = errors.New("modcache: fetcher closed")
)

// Options configures a Fetcher.
type Options struct {
	// Dir is the host directory of the shared cache (required). It must
	// exist; the server writes it, every sandbox sees it read-only.
	Dir string
	// TempDir holds the download runs' directories, each removed after
	// its run (required; it must exist).
	TempDir string
	// Runner runs the go command (required).
	Runner *sandbox.Runner
	// Owner is the owner key the go command runs as (required): an
	// internal identity of its own, which owns each run directory.
	Owner string
	// GoRoot is the host's Go installation (required): its bin/go runs.
	GoRoot string
	// Binds are the run's binds besides its own directory (under
	// bubblewrap: GOROOT read-only). Env values below a bind's host are
	// translated by the runner.
	Binds []sandbox.Bind

	// Proxy, SumDB, NoSumDB and Private are GOPROXY ("" is
	// DefaultProxy), GOSUMDB ("" is the go command's default), GONOSUMDB
	// and GOPRIVATE, as users' processes get them.
	Proxy, SumDB, NoSumDB, Private string

	// Timeout bounds one download run (one go command for up to Batch
	// versions); 0 means 2 minutes.
	Timeout time.Duration
	// MaxQueue bounds the versions waiting to be fetched; 0 means 1000.
	MaxQueue int
	// Batch is the most versions one go command downloads; 0 means 16.
	Batch int
	// MaxBytes: once the shared cache's files take this many bytes, no
	// version is fetched (ErrFull); 0 means no bound. The size is
	// measured when the Fetcher starts (before its first fetch) and grown
	// by what it publishes.
	MaxBytes int64
	// Observe, when set, is called after each version's fetch ends:
	// bytes published (0 when err is not nil or it was there already).
	Observe func(v module.Version, bytes int64, err error)
	Logger  *slog.Logger // nil: discard
}

// Fetcher fills a shared module cache; see the package comment. Its
// methods are safe for concurrent use. Close stops it.
type Fetcher struct {
	opts   Options
	root   *os.Root // opts.Dir
	logger *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	mu      sync.Mutex
	closed  bool
	calls   map[module.Version]*call // waiting or running
	pending []module.Version         // waiting, in order
	failed  map[module.Version]time.Time
	seen    map[string]string // Changed's stamps
	bytes   int64             // the shared cache's size; -1 until measured
}

// call is one version's fetch; done is closed once err is set.
type call struct {
	done chan struct{}
	err  error
}

// failedFor is how long Queue skips a version whose fetch failed.
const failedFor = 10 * time.Minute

// New returns a Fetcher and starts its worker.
func New(opts Options) (*Fetcher, error) {
	switch {
	case opts.Dir == "" || opts.TempDir == "":
		return nil, errors.New("modcache: Options.Dir and TempDir are required")
	case opts.Runner == nil || opts.Owner == "" || opts.GoRoot == "":
		return nil, errors.New("modcache: Options.Runner, Owner and GoRoot are required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 1000
	}
	if opts.Batch <= 0 {
		opts.Batch = 16
	}
	if opts.Proxy == "" {
		opts.Proxy = DefaultProxy
	}
	if fi, err := os.Stat(opts.TempDir); err != nil || !fi.IsDir() {
		return nil, errors.New("modcache: Options.TempDir is not a directory")
	}
	root, err := os.OpenRoot(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("modcache: open the shared directory: %w", stripPath(err))
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fetcher{
		opts: opts, root: root, logger: logger, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), wake: make(chan struct{}, 1),
		calls: map[module.Version]*call{}, failed: map[module.Version]time.Time{}, seen: map[string]string{},
		bytes: -1,
	}
	go f.work()
	return f, nil
}

// Close stops the worker: a running download is ended (its sandbox with
// everything it started), waiting fetches fail with ErrClosed, and
// nothing half-written stays. It waits for the worker to end.
func (f *Fetcher) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	<-f.done
	f.mu.Lock()
	for _, v := range f.pending {
		if c := f.calls[v]; c != nil {
			c.err = fmt.Errorf("%s: %w", v, ErrClosed)
			close(c.done)
			delete(f.calls, v)
		}
	}
	f.pending = nil
	f.mu.Unlock()
	return f.root.Close()
}

// Dir returns the shared directory's host path.
func (f *Fetcher) Dir() string { return f.opts.Dir }

// Setup returns the GOPROXY of a user's process that reads the shared
// cache before proxy (the configured GOPROXY; "" is DefaultProxy), and
// the bind it needs under isolation: the shared directory read-only at
// Target. Without isolation the proxy names the host path. ok is false,
// and the process uses proxy alone, when proxy is "off" (the go command
// must download nothing), the shared directory is gone (a bind of it
// would fail every start) or its path cannot be written in a GOPROXY list.
func (f *Fetcher) Setup(isolated bool, proxy string) (goproxy string, binds []sandbox.Bind, ok bool) {
	if proxy == "" {
		proxy = DefaultProxy
	}
	if strings.TrimSpace(proxy) == "off" {
		return "", nil, false
	}
	goproxy, binds, ok = f.Offline(isolated)
	if !ok {
		return "", nil, false
	}
	return goproxy + "," + proxy, binds, true
}

// Offline is Setup for a process that must download nothing, only read
// the shared cache: its GOPROXY names the shared cache alone.
func (f *Fetcher) Offline(isolated bool) (goproxy string, binds []sandbox.Bind, ok bool) {
	if f == nil {
		return "", nil, false
	}
	if fi, err := os.Stat(f.opts.Dir); err != nil || !fi.IsDir() {
		return "", nil, false
	}
	dir := f.opts.Dir
	if isolated {
		dir = Target
		binds = []sandbox.Bind{{Host: f.opts.Dir, Target: Target, ReadOnly: true}}
	}
	dir = filepath.ToSlash(filepath.Join(dir, "cache", "download"))
	if !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, ",| \t\r\n%?#") {
		return "", nil, false
	}
	return "file://" + dir, binds, true
}

// check returns v's error if it may not be fetched: ErrInvalid or
// ErrPrivate.
func (f *Fetcher) check(v module.Version) error {
	if err := module.Check(v.Path, v.Version); err != nil || module.CanonicalVersion(v.Version) != v.Version {
		return fmt.Errorf("%w: %q@%q", ErrInvalid, v.Path, v.Version)
	}
	if f.opts.Private != "" && module.MatchPrefixPatterns(f.opts.Private, v.Path) {
		return fmt.Errorf("%w: %s", ErrPrivate, v)
	}
	return nil
}

// files returns the slash paths, relative to a cache directory, of v's
// .zip, .mod and .info files, in the order they are published: the .info
// last, so that a version the go command can see (its .info answers) is
// whole.
func files(v module.Version) ([]string, error) {
	ep, err := module.EscapePath(v.Path)
	if err != nil {
		return nil, err
	}
	ev, err := module.EscapeVersion(v.Version)
	if err != nil {
		return nil, err
	}
	base := path.Join("cache", "download", ep, "@v", ev)
	return []string{base + ".zip", base + ".mod", base + ".info"}, nil
}

// Has reports whether v is in the shared cache, whole.
func (f *Fetcher) Has(v module.Version) bool {
	names, err := files(v)
	if err != nil {
		return false
	}
	for _, n := range names {
		fi, err := f.root.Lstat(filepath.FromSlash(n))
		if err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// Fetch downloads each of vs that the shared cache lacks and waits until
// each is published or failed (or ctx ends: the fetches go on). Versions
// fetched at once by others are waited for, not fetched twice. The error
// joins one error per failed version, each naming it and wrapping
// ErrInvalid, ErrPrivate, ErrChecksum, ErrTimeout, ErrFull or ErrClosed
// when one of those is the cause.
func (f *Fetcher) Fetch(ctx context.Context, vs ...module.Version) error {
	var errs []error
	var waits []*call
	f.mu.Lock()
	for _, v := range vs {
		if err := f.check(v); err != nil {
			errs = append(errs, err)
			continue
		}
		if c, err := f.enqueueLocked(v); err != nil {
			errs = append(errs, err)
		} else if c != nil {
			waits = append(waits, c)
		}
	}
	f.mu.Unlock()
	f.signal()
	for _, c := range waits {
		select {
		case <-c.done:
			if c.err != nil {
				errs = append(errs, c.err)
			}
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	return errors.Join(errs...)
}

// Queue adds each of vs that may be fetched, is not in the shared cache,
// is not being fetched and has not failed lately, to the fetch queue, up
// to Options.MaxQueue waiting versions, and returns how many it added. It
// does not wait.
func (f *Fetcher) Queue(vs ...module.Version) int {
	n := 0
	f.mu.Lock()
	now := time.Now()
	for _, v := range vs {
		if f.check(v) != nil {
			continue
		}
		if t, ok := f.failed[v]; ok && now.Sub(t) < failedFor {
			continue
		}
		if _, running := f.calls[v]; running {
			continue
		}
		c, err := f.enqueueLocked(v)
		if err != nil {
			break
		}
		if c != nil {
			n++
		}
	}
	f.mu.Unlock()
	if n > 0 {
		f.signal()
	}
	return n
}

// enqueueLocked returns v's call, joining a running one or queueing a new
// one; nil when v is in the shared cache already.
func (f *Fetcher) enqueueLocked(v module.Version) (*call, error) {
	if f.closed {
		return nil, fmt.Errorf("%s: %w", v, ErrClosed)
	}
	if c := f.calls[v]; c != nil {
		return c, nil
	}
	if f.Has(v) {
		return nil, nil
	}
	if len(f.pending) >= f.opts.MaxQueue {
		return nil, fmt.Errorf("%s: %w (%d versions wait)", v, ErrFull, len(f.pending))
	}
	if f.opts.MaxBytes > 0 && f.bytes >= f.opts.MaxBytes {
		return nil, fmt.Errorf("%s: %w (the shared cache holds %d bytes)", v, ErrFull, f.bytes)
	}
	c := &call{done: make(chan struct{})}
	f.calls[v] = c
	f.pending = append(f.pending, v)
	return c, nil
}

func (f *Fetcher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Changed records stamp for key and reports whether it differs from the
// stamp recorded before (true the first time). Callers use it to look at
// a file (a workspace's go.sum) again only when it changed. It keeps at
// most 10000 keys.
func (f *Fetcher) Changed(key, stamp string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.seen[key]; ok && old == stamp {
		return false
	}
	if len(f.seen) >= 10000 {
		clear(f.seen)
	}
	f.seen[key] = stamp
	return true
}

// Bytes returns the size of the shared cache's files: measured when the
// Fetcher started and grown by each version it published since; -1 until
// measured.
func (f *Fetcher) Bytes() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bytes
}

// work measures the shared cache, then runs the queue, one batch at a
// time, until Close.
func (f *Fetcher) work() {
	defer close(f.done)
	n, err := f.Size()
	if err != nil {
		f.logger.Warn("measure the shared module cache", "err", stripPath(err))
	}
	f.mu.Lock()
	f.bytes = n
	f.mu.Unlock()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-f.wake:
		}
		for {
			f.mu.Lock()
			n := min(len(f.pending), f.opts.Batch)
			batch := slices.Clone(f.pending[:n])
			f.pending = slices.Delete(f.pending, 0, n)
			f.mu.Unlock()
			if len(batch) == 0 || f.ctx.Err() != nil {
				if len(batch) > 0 {
					f.finish(batch, nil, nil)
				}
				break
			}
			if full := f.full(); full != nil {
				errs := make([]error, len(batch))
				for i, v := range batch {
					errs[i] = fmt.Errorf("%s: %w", v, full)
				}
				f.finish(batch, make([]int64, len(batch)), errs)
				continue
			}
			sizes, errs := f.download(batch)
			f.finish(batch, sizes, errs)
		}
	}
}

// full returns ErrFull, with the size, once the shared cache holds
// Options.MaxBytes; else nil.
func (f *Fetcher) full() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opts.MaxBytes > 0 && f.bytes >= f.opts.MaxBytes {
		return fmt.Errorf("%w (the shared cache holds %d bytes)", ErrFull, f.bytes)
	}
	return nil
}

// finish ends the calls of batch with errs (nil errs: ErrClosed for all).
func (f *Fetcher) finish(batch []module.Version, sizes []int64, errs []error) {
	f.mu.Lock()
	now := time.Now()
	if len(f.failed) >= 10000 {
		clear(f.failed)
	}
	for i, v := range batch {
		var err error
		var n int64
		if errs == nil {
			err = fmt.Errorf("%s: %w", v, ErrClosed)
		} else {
			err, n = errs[i], sizes[i]
		}
		if err != nil {
			f.failed[v] = now
		} else {
			delete(f.failed, v)
			f.bytes += n
		}
		if c := f.calls[v]; c != nil {
			c.err = err
			close(c.done)
			delete(f.calls, v)
		}
		if f.opts.Observe != nil {
			defer f.opts.Observe(v, n, err) // after the lock
		}
		if err != nil {
			f.logger.Warn("module fetch failed", "module", v.String(), "err", err)
		}
	}
	f.mu.Unlock()
}

// download runs one go command for batch in a new run directory and
// publishes what it verified; it returns, per version, the bytes
// published and the error.
func (f *Fetcher) download(batch []module.Version) ([]int64, []error) {
	sizes := make([]int64, len(batch))
	errs := make([]error, len(batch))
	fail := func(err error) ([]int64, []error) {
		for i, v := range batch {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("%s: %w", v, err)
			}
		}
		return sizes, errs
	}
	run, err := f.newRun()
	if err != nil {
		return fail(err)
	}
	defer sandbox.RemoveAll(run)
	stdout, stderr := &sandbox.Output{Max: 16 << 20}, &sandbox.Output{Max: 64 << 10}
	args := []string{"mod", "download", "-json"}
	for _, v := range batch {
		args = append(args, v.String())
	}
	if err := f.goRun(f.ctx, run, stdout, stderr, args...); err != nil {
		return fail(err)
	}
	results := map[module.Version]download{}
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	for {
		var d download
		if err := dec.Decode(&d); err != nil {
			break
		}
		results[module.Version{Path: d.Path, Version: d.Version}] = d
	}
	runRoot, err := os.OpenRoot(filepath.Join(run, "mod"))
	if err != nil && len(results) == 0 {
		return fail(fmt.Errorf("modcache: go mod download: %s", sandbox.LastLines(stderr.String(), 10)))
	}
	if runRoot != nil {
		defer runRoot.Close()
	}
	for i, v := range batch {
		d, ok := results[v]
		switch {
		case !ok:
			errs[i] = fmt.Errorf("%s: go mod download reported nothing: %s", v, sandbox.LastLines(stderr.String(), 10))
		case d.Error != "":
			errs[i] = goError(v, d.Error)
		case runRoot == nil:
			errs[i] = fmt.Errorf("%s: the download left no module cache", v)
		default:
			sizes[i], errs[i] = f.publish(runRoot, v, d)
		}
	}
	return sizes, errs
}

// newRun makes a run directory for the go command, owned by Options.Owner.
// The caller removes it (sandbox.RemoveAll).
func (f *Fetcher) newRun() (string, error) {
	run, err := os.MkdirTemp(f.opts.TempDir, "fetch-")
	if err != nil {
		return "", fmt.Errorf("modcache: run directory: %w", stripPath(err))
	}
	// TMPDIR is a directory of its own: the go command ignores a go.mod
	// in the temporary directory's root.
	if err := os.Mkdir(filepath.Join(run, "tmp"), 0o700); err != nil {
		sandbox.RemoveAll(run)
		return "", fmt.Errorf("modcache: run directory: %w", stripPath(err))
	}
	if uid, ok, err := f.opts.Runner.OwnerUID(f.opts.Owner); err != nil {
		sandbox.RemoveAll(run)
		return "", err
	} else if ok {
		for _, d := range []string{run, filepath.Join(run, "tmp")} {
			if err := os.Lchown(d, uid, uid); err != nil {
				sandbox.RemoveAll(run)
				return "", fmt.Errorf("modcache: run directory: %w", stripPath(err))
			}
		}
	}
	return run, nil
}

// goRun runs the go command with args in run (a newRun directory, also its
// HOME, TMPDIR (run/tmp) and module cache) as Options.Owner, with the network and
// the configured proxy and checksum database, for at most
// Options.Timeout. A failing exit is no error: the caller reads stdout
// and stderr. Its errors wrap ErrClosed or ErrTimeout when one of those
// is the cause.
func (f *Fetcher) goRun(ctx context.Context, run string, stdout, stderr io.Writer, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	env := []string{
		"HOME=" + run,
		"PATH=" + filepath.Join(f.opts.GoRoot, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"GOROOT=" + f.opts.GoRoot,
		"GOPATH=" + filepath.Join(run, "gopath"),
		"GOMODCACHE=" + filepath.Join(run, "mod"),
		"GOCACHE=" + filepath.Join(run, "gocache"),
		"TMPDIR=" + filepath.Join(run, "tmp"),
		"GOPROXY=" + f.opts.Proxy,
		"GONOSUMDB=" + f.opts.NoSumDB,
		"GOPRIVATE=" + f.opts.Private,
		"GOFLAGS=-modcacherw", // the run directory can be removed
		"GO111MODULE=on",
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GOTELEMETRY=off",
		"GO_TELEMETRY_CHILD=2",
		"LANG=C.UTF-8",
	}
	if f.opts.SumDB != "" {
		env = append(env, "GOSUMDB="+f.opts.SumDB)
	}
	binds := append(slices.Clip(f.opts.Binds), sandbox.Bind{Host: run, Target: "/modfetch"})
	proc, err := f.opts.Runner.Start(ctx, sandbox.Cmd{
		Kind: "modfetch", Owner: f.opts.Owner, Path: "go", Args: args,
		Env: env, Dir: run, Stdout: stdout, Stderr: stderr,
		Network: sandbox.NetworkOutbound, Binds: binds,
	})
	if err != nil {
		return fmt.Errorf("modcache: start the go command: %w", err)
	}
	_, werr := proc.Wait()
	proc.Close()
	switch {
	case werr == nil:
		return nil
	case f.ctx.Err() != nil:
		return ErrClosed
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: the go command did not finish within %v (the module proxy did not answer in time)", ErrTimeout, f.opts.Timeout)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("modcache: go %s: %w", args[0], werr)
}

// download is one object of `go mod download -json`.
type download struct {
	Path, Version, Error, Sum, GoModSum string
}

// goError is v's error as the go command reported it, wrapping
// ErrChecksum for a checksum failure.
func goError(v module.Version, msg string) error {
	msg = sandbox.LastLines(msg, 10)
	if strings.Contains(msg, "checksum mismatch") || strings.Contains(msg, "SECURITY ERROR") {
		return fmt.Errorf("%s: %w: %s", v, ErrChecksum, msg)
	}
	return fmt.Errorf("%s: %s", v, msg)
}

// Limits of the files a version publishes.
const (
	maxInfo = 64 << 10
	maxMod  = 16 << 20
	maxZip  = 500 << 20 // golang.org/x/mod/zip.MaxZipFile
)

// publish copies v's files from the run's module cache into the shared
// directory: each into a temporary file there, checked (the zip and the
// go.mod against the hashes the go command verified, the info against
// v), then renamed into place, .zip and .mod before .info. Files already
// published stay as they are. On error it removes its temporary files;
// files it renamed before are whole and right.
func (f *Fetcher) publish(run *os.Root, v module.Version, d download) (int64, error) {
	names, err := files(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", v, err)
	}
	if err := f.mkdirAll(path.Dir(names[0])); err != nil {
		return 0, fmt.Errorf("%s: publish: %w", v, err)
	}
	var total int64
	for i, name := range names {
		rel := filepath.FromSlash(name)
		if fi, err := f.root.Lstat(rel); err == nil && fi.Mode().IsRegular() {
			continue
		}
		limit := []int64{maxZip, maxMod, maxInfo}[i]
		tmp, n, err := f.copyTemp(run, rel, limit)
		if err != nil {
			return total, fmt.Errorf("%s: publish %s: %w", v, path.Ext(name), err)
		}
		if err := f.verify(i, tmp, v, d); err != nil {
			_ = f.root.Remove(tmp)
			return total, fmt.Errorf("%s: %w", v, err)
		}
		if err := f.root.Rename(tmp, rel); err != nil {
			_ = f.root.Remove(tmp)
			return total, fmt.Errorf("%s: publish %s: %w", v, path.Ext(name), stripPath(err))
		}
		total += n
	}
	return total, nil
}

// verify checks the temporary copy tmp of v's file number i of files().
func (f *Fetcher) verify(i int, tmp string, v module.Version, d download) error {
	switch i {
	case 0:
		h, err := dirhash.HashZip(filepath.Join(f.opts.Dir, tmp), dirhash.Hash1)
		if err != nil || h != d.Sum || d.Sum == "" {
			return fmt.Errorf("%w: the zip copied does not hash to %q the go command verified", ErrChecksum, d.Sum)
		}
	case 1:
		h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return f.root.Open(tmp) })
		if err != nil || h != d.GoModSum || d.GoModSum == "" {
			return fmt.Errorf("%w: the go.mod copied does not hash to %q the go command verified", ErrChecksum, d.GoModSum)
		}
	case 2:
		data, err := f.root.ReadFile(tmp)
		var info struct{ Version string }
		if err == nil {
			err = json.Unmarshal(data, &info)
		}
		if err != nil || info.Version != v.Version {
			return fmt.Errorf("publish .info: not the info of %s", v.Version)
		}
	}
	return nil
}

// copyTemp copies the run's file rel into a new temporary file next to
// rel in the shared directory, mode 0644, and returns its name and size.
// A file larger than limit, or not a regular file, is an error.
func (f *Fetcher) copyTemp(run *os.Root, rel string, limit int64) (string, int64, error) {
	in, err := run.OpenFile(rel, os.O_RDONLY|syscallNonblock, 0)
	if err != nil {
		return "", 0, stripPath(err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", 0, errors.New("not a regular file")
	}
	var out *os.File
	var tmp string
	for range 100 {
		tmp = rel + ".tmp-" + randomSuffix()
		out, err = f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", 0, stripPath(err)
	}
	n, err := io.Copy(out, io.LimitReader(in, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("larger than %d bytes", limit)
	}
	if err == nil {
		err = out.Chmod(0o644)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = f.root.Remove(tmp)
		return "", 0, stripPath(err)
	}
	return tmp, n, nil
}

// mkdirAll makes the slash path dir and its parents in the shared
// directory, each 0755 whatever the umask.
func (f *Fetcher) mkdirAll(dir string) error {
	p := ""
	for elem := range strings.SplitSeq(dir, "/") {
		p = path.Join(p, elem)
		rel := filepath.FromSlash(p)
		err := f.root.Mkdir(rel, 0o755)
		switch {
		case err == nil:
			if err := f.root.Chmod(rel, 0o755); err != nil {
				return stripPath(err)
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return stripPath(err)
		}
	}
	return nil
}

// Size returns the bytes the regular files of the shared cache take.
func (f *Fetcher) Size() (int64, error) { return dirsize.Regular(f.root.FS()) }

// stripPath returns the bare system error of a *fs.PathError (whose Path
// may be a host path), or err.
func stripPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
