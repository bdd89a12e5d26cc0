package playground

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ideserver/ideserver/sandbox"
)

// Messages of run outcomes, as golang/playground words them where it has
// an equivalent.
const (
	msgTimeout      = "timeout running program"
	msgBuildTimeout = "timeout building program"
)

var (
	errRunTimeout = errors.New(msgTimeout)
	errTooMuch    = errors.New("output limit exceeded")
	errKilled     = errors.New("program killed")
)

// sink receives a running program's output as it is written.
type sink interface {
	// write is called with each chunk of output ("stdout" or "stderr")
	// in order; it must not keep p. at is the chunk's fake time for a
	// fake-time program (faketime.go), zero otherwise.
	write(kind string, p []byte, at time.Time)
}

// RunTarget is where a run directory appears inside the sandbox under
// bubblewrap isolation (it is bound there); with IsolationNone programs
// see the host directory.
const RunTarget = "/play"

// prepared is a built program in its run directory.
type prepared struct {
	root      string // the run directory (host path; never shown to a client): removed after the run
	dir       string // root/src: the program's files, bound at RunTarget
	scratch   string // HOME, TMPDIR and caches of its commands (see scratchDir)
	exe       string
	isTest    bool
	realTime  bool      // built to run on the wall clock, not on fake time
	modules   bool      // its builds read the shared module cache (modules.go)
	buildErrs string    // user-facing build errors; exe is "" when set
	binKey    string    // the binary cache's key of the build; "" when not cached
	admitted  time.Time // when the request got its slot (for the run duration metric)

	vetDone chan struct{} // closed when go vet is over; nil without vet
	vetOut  string        // go vet's findings, once vetDone is closed
	vetErr  error
}

// waitVet waits until go vet is over (at once without vet) and returns
// its findings ("" for none, and without vet).
func (p *prepared) waitVet() (string, error) {
	if p.vetDone == nil {
		return "", nil
	}
	<-p.vetDone
	return p.vetOut, p.vetErr
}

// buildArgs are the go command's arguments of a run's build: on fake
// time unless realTime (faketime.go), and without DWARF and symbol tables
// (-s -w), which only debuggers read and which make the link slower;
// stack traces need neither.
func buildArgs(isTest, realTime bool) []string {
	args := []string{"build"}
	if isTest {
		args = []string{"test", "-c"}
	}
	if !realTime {
		args = append(args, fakeTimeTag)
	}
	return append(args, "-ldflags=-s -w", "-o", "prog.exe", ".")
}

// runOptions say what prepare does with a body.
type runOptions struct {
	vet      bool // run go vet beside the build
	build    bool // build the program (Vet alone does not)
	realTime bool // build it to run on the wall clock, not on fake time
}

// prepare writes files to a fresh run directory and builds them (and vets
// them when withVet). The caller must call p.waitVet and then remove
// p.root. A user's build errors are a result (p.buildErrs), not an error.
// go vet runs beside the build and may still run when prepare returns a
// built program, which can run meanwhile. A body built before comes from
// the binary cache (binCache), vetted when withVet.
func (s *Service) prepare(ctx context.Context, fs *FileSet, o runOptions) (_ *prepared, err error) {
	root, err := os.MkdirTemp(s.opts.TempDir, "play-")
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	defer func() {
		if err != nil {
			sandbox.RemoveAll(root)
		}
	}()
	dir := filepath.Join(root, "src")
	p := &prepared{root: root, dir: dir, scratch: s.scratchDir(root), realTime: o.realTime}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	if !s.isolated() {
		if err := os.Mkdir(p.scratch, 0o700); err != nil {
			return nil, fmt.Errorf("create run directory: %w", err)
		}
	}
	mods, msg, err := s.resolveModules(ctx, fs)
	if err != nil {
		return nil, err
	}
	p.modules = mods
	if err := s.writeFiles(dir, fs, p); err != nil {
		return nil, err
	}
	if msg != "" {
		p.buildErrs = msg
		if err := s.giveTo(Owner, root); err != nil {
			return nil, err
		}
		return p, nil
	}
	var args []string
	if o.build {
		args = buildArgs(p.isTest, o.realTime)
	}
	if o.build && s.bins != nil {
		if key, ok := s.binKey(fs, args); ok {
			p.binKey = key
			hit := s.fromBinCache(p, o.vet)
			s.met.binaryLookup(hit)
			if hit {
				if err := s.giveTo(Owner, root); err != nil {
					return nil, err
				}
				return p, nil
			}
		}
	}
	if err := s.giveTo(Owner, root); err != nil {
		return nil, err
	}
	// go vet runs beside the build (each go command has its own scratch
	// /tmp under isolation; without, they share a build cache, which is
	// safe for concurrent use). A failed build's answer carries no vet
	// findings, as before.
	if o.vet {
		p.vetDone = make(chan struct{})
		go func() {
			defer close(p.vetDone)
			out, err := s.goTool(ctx, p, []string{"vet", "."})
			p.vetErr = err
			if out != nil {
				p.vetOut = *out
			}
		}()
	}
	if !o.build {
		return p, nil
	}
	out, err := s.goTool(ctx, p, args)
	if err != nil || out != nil {
		_, _ = p.waitVet() // its processes end before the run directory goes
		if err != nil {
			return nil, err
		}
		p.buildErrs = *out
		return p, nil
	}
	p.exe = filepath.Join(dir, "prog.exe")
	if p.binKey != "" {
		if r, err := os.OpenRoot(dir); err == nil {
			s.bins.put(p.binKey, r, "prog.exe")
			_ = r.Close()
		}
	}
	return p, nil
}

// fromBinCache writes the executable of p.binKey from the binary cache
// into p's directory, as the build would, and reports whether it did:
// only when it is cached and, withVet, vet found nothing in it.
func (s *Service) fromBinCache(p *prepared, withVet bool) bool {
	exe := s.bins.get(p.binKey, withVet)
	if exe == nil {
		return false
	}
	r, err := os.OpenRoot(p.dir)
	if err != nil {
		return false
	}
	defer r.Close()
	out, err := r.OpenFile("prog.exe", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return false // a file of the body has the name: build as usual
	}
	_, err = out.Write(exe)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = r.Remove("prog.exe")
		return false
	}
	p.exe = filepath.Join(p.dir, "prog.exe")
	s.bins.hits.Add(1)
	return true
}

// writeFiles writes the file set below dir, adding a go.mod when missing
// and turning a lone test program into prog_test.go.
func (s *Service) writeFiles(dir string, fs *FileSet, p *prepared) error {
	if fs.Num() == 1 && fs.Contains(progName) && isTestProg(fs.Data(progName)) {
		fs.Rename(progName, "prog_test.go")
		p.isTest = true
	}
	if !fs.Contains("go.mod") {
		fs.Add("go.mod", []byte(defaultGoMod(s.opts.GoVersion)))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open run directory: %w", err)
	}
	defer root.Close()
	for _, name := range fs.Names() {
		if !validName(name) { // SplitFiles checked; be sure before writing
			return fmt.Errorf("%w: invalid file name %q", ErrInvalidFiles, name)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o700); err != nil {
				return fmt.Errorf("create directory in run directory: %w", err)
			}
		}
		if err := root.WriteFile(name, fs.Data(name), 0o600); err != nil {
			return fmt.Errorf("write run file: %w", err)
		}
	}
	return nil
}

// giveTo makes the run directory dir and everything in it belong to the
// uid owner's processes run as, when that is not the server's: the build
// writes the binary there. The directory's parent stays the server's.
func (s *Service) giveTo(owner, dir string) error {
	uid, ok, err := s.opts.Runner.OwnerUID(owner)
	if err != nil {
		return fmt.Errorf("run directory owner: %w", err)
	}
	if !ok {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open run directory: %w", err)
	}
	defer root.Close()
	// WalkDir lists through the host path, but the server wrote every
	// name in it; Lchown through root cannot leave it.
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return root.Lchown(rel, uid, uid)
	})
	if err != nil {
		return fmt.Errorf("run directory owner: %w", err)
	}
	return nil
}

// runBinds makes the program's directory dir visible at RunTarget.
func runBinds(dir string) []sandbox.Bind {
	return []sandbox.Bind{{Host: dir, Target: RunTarget}}
}

// inSandbox returns the host path p below the run directory dir as the
// sandboxed process sees it (for arguments, which the runner leaves
// alone).
func (s *Service) inSandbox(dir, p string) string {
	if s.opts.Runner.Isolation() != sandbox.IsolationBwrap {
		return p
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || !filepath.IsLocal(rel) {
		return p
	}
	return RunTarget + "/" + filepath.ToSlash(rel)
}

// goTool runs the go command with args in p's program directory, with the
// playground's own environment (goEnv) and the shared build cache when
// there is one. out is nil on success, or the cleaned output when the
// command failed (the user's errors).
func (s *Service) goTool(ctx context.Context, p *prepared, args []string) (out *string, err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, s.opts.BuildTimeout, errors.New(msgBuildTimeout))
	defer cancel()
	buf := &sandbox.Output{Max: 1 << 20}
	dir := p.dir
	prog, cacheBinds := s.cacheSetup(p.scratch)
	env := s.goEnv(p.scratch, prog)
	if p.modules {
		var modBinds []sandbox.Bind
		env, modBinds = s.modEnv(env)
		cacheBinds = append(cacheBinds, modBinds...)
	}
	proc, err := s.opts.Runner.Start(ctx, sandbox.Cmd{
		Kind: "build", Owner: Owner, Path: "go", Args: args,
		Env: env, Dir: dir, Stdout: buf, Stderr: buf,
		Network: sandbox.NetworkNone, Binds: s.binds(append(runBinds(dir), cacheBinds...)...),
	})
	if err != nil {
		return nil, fmt.Errorf("start go %s: %w", args[0], err)
	}
	defer proc.Close()
	st, err := proc.Wait()
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && cause.Error() == msgBuildTimeout {
			msg := msgBuildTimeout
			return &msg, nil
		}
		return nil, fmt.Errorf("go %s: %w", args[0], err)
	}
	if st.Code == 0 && st.Signal == "" {
		return nil, nil
	}
	target := ""
	if s.opts.Runner.Isolation() == sandbox.IsolationBwrap {
		target = RunTarget
	}
	msg := s.hideHostPaths(cleanToolOutput(buf.String(), dir, target), p.root)
	if msg == "" {
		msg = fmt.Sprintf("go %s failed", args[0])
	}
	return &msg, nil
}

// cleanToolOutput removes the run directory (host path dir, and target,
// where the sandbox shows it, unless "") and the "# pkg" banners from go
// command output.
func cleanToolOutput(out, dir, target string) string {
	out = strings.ReplaceAll(out, dir+string(filepath.Separator), "")
	out = strings.ReplaceAll(out, dir, ".")
	if target != "" {
		out = stripDir(out, target)
	}
	var b strings.Builder
	for line := range strings.SplitAfterSeq(out, "\n") {
		if strings.HasPrefix(line, "# play") || strings.HasPrefix(line, "# command-line-arguments") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// hideHostPaths replaces what is left of host paths in a go command's
// output with placeholders: the run directory root (its scratch directory
// without isolation: TMPDIR, GOCACHE) and the shared cache's directories,
// which the cache program's errors may name. No host path reaches a client,
// whatever the go command or the cache program printed.
func (s *Service) hideHostPaths(out, root string) string {
	out = strings.ReplaceAll(out, root, "$WORK")
	if c := s.opts.Cache; c != nil {
		if c.Program != "" {
			out = strings.ReplaceAll(out, filepath.Dir(c.Program), "$CACHE")
		}
		if c.Dir != "" {
			out = strings.ReplaceAll(out, c.Dir, "$CACHE")
		}
	}
	return out
}

// stripDir removes dir+"/" from out, and turns dir alone into ".", where
// dir starts a path: at the start of out or after a byte that cannot be
// part of one, and ends at '/' or a byte that cannot continue a name. So
// "/play/prog.go" becomes "prog.go" and "example.com/play/x" stays.
func stripDir(out, dir string) string {
	var b strings.Builder
	i := 0
	for {
		k := strings.Index(out[i:], dir)
		if k < 0 {
			break
		}
		at, end := i+k, i+k+len(dir)
		startOK := at == 0 || !pathByte(out[at-1])
		switch {
		case startOK && end < len(out) && out[end] == '/':
			b.WriteString(out[i:at])
			i = end + 1
		case startOK && (end == len(out) || !pathByte(out[end])):
			b.WriteString(out[i:at])
			b.WriteByte('.')
			i = end
		default:
			b.WriteString(out[i:end])
			i = end
		}
	}
	b.WriteString(out[i:])
	return b.String()
}

// pathByte reports whether c can be part of a path.
func pathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '~' || c == '+' || c == '@' || c == '/' || c >= 0x80
}

// runResult is how a program run ended.
type runResult struct {
	status    int    // exit code; -1 when killed by a signal
	errors    string // msgTimeout, output limit or killed message; "" otherwise
	truncated bool
	outcome   string // for ideserver_playground_runs_total (metrics.go)
}

// execute runs a built program, streaming its output to out. It returns
// when the program and everything it started are gone. kill, when it
// fires, stops the program (errKilled).
func (s *Service) execute(ctx context.Context, p *prepared, out sink) (runResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, cancelT := context.WithTimeoutCause(ctx, s.opts.RunTimeout, errRunTimeout)
	defer cancelT()

	lim := &outputLimit{max: s.opts.MaxOutput, sink: out, over: func() { cancel(errTooMuch) }}
	pathArg, args := p.exe, []string(nil)
	if p.isTest {
		args = []string{"-test.v"}
	}
	if s.opts.Prlimit != "" {
		mem := strconv.FormatInt(s.opts.MemoryLimit, 10)
		fsize := strconv.FormatInt(16<<20, 10)
		args = append([]string{"--data=" + mem + ":" + mem, "--fsize=" + fsize + ":" + fsize, "--core=0:0", "--", s.inSandbox(p.dir, p.exe)}, args...)
		pathArg = s.opts.Prlimit
	}
	// The program sees its files read-only: what it writes goes to the
	// sandbox's own /tmp (HOME, TMPDIR), which ends with it.
	proc, err := s.opts.Runner.Start(ctx, sandbox.Cmd{
		Kind: "run", Owner: Owner, Path: pathArg, Args: args, Env: s.runEnv(p.scratch), Dir: p.dir,
		Stdout: lim.writer("stdout", p.realTime), Stderr: lim.writer("stderr", p.realTime),
		Network: sandbox.NetworkNone, Binds: s.binds(sandbox.Bind{Host: p.dir, Target: RunTarget, ReadOnly: true}),
	})
	if err != nil {
		return runResult{}, fmt.Errorf("start program: %w", err)
	}
	defer proc.Close()
	st, werr := proc.Wait()
	res := runResult{status: st.Code, truncated: lim.truncated(), outcome: outcomeOK}
	if st.Code != 0 || st.Signal != "" {
		res.outcome = outcomeExitError
	}
	if werr != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errRunTimeout):
			res.errors, res.outcome = msgTimeout, outcomeTimeout
		case errors.Is(cause, errTooMuch):
			res.errors, res.outcome = s.outputLimitMessage(), outcomeOutputLimit
		case errors.Is(cause, errKilled):
			res.errors, res.outcome = errKilled.Error(), outcomeKilled
		case errors.Is(werr, sandbox.ErrStopped) || cause != nil:
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("run program: %w", context.Cause(ctx))
			}
			return res, fmt.Errorf("run program: %w", werr)
		default:
			return res, fmt.Errorf("run program: %w", werr)
		}
	}
	if res.truncated && res.errors == "" {
		res.errors, res.outcome = s.outputLimitMessage(), outcomeOutputLimit
	}
	return res, nil
}

func (s *Service) outputLimitMessage() string {
	return fmt.Sprintf("output limit exceeded: the program wrote more than %d bytes and was stopped", s.opts.MaxOutput)
}

// outputLimit passes at most max bytes to sink and calls over (once) when
// a write would exceed it.
type outputLimit struct {
	max  int64
	sink sink
	over func()

	mu    sync.Mutex
	n     int64
	trunc bool
}

// writer is where the program writes stream kind: a playback decoder of
// a fake-time program's output, the limit itself for a real-time one.
func (l *outputLimit) writer(kind string, realTime bool) io.Writer {
	if realTime {
		return &kindWriter{l, kind}
	}
	return newPlayback(kind, l)
}

func (l *outputLimit) truncated() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.trunc
}

type kindWriter struct {
	l    *outputLimit
	kind string
}

// Write never fails: excess output is dropped so that the sandbox's copy
// goroutine keeps draining the pipe until the program is killed.
func (w *kindWriter) Write(p []byte) (int, error) {
	w.l.write(w.kind, p, time.Time{})
	return len(p), nil
}

// write passes what of p fits under the limit to the sink.
func (l *outputLimit) write(kind string, p []byte, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.trunc {
		return
	}
	keep := p
	if rest := l.max - l.n; int64(len(p)) > rest {
		keep = p[:rest]
		l.trunc = true
		l.over()
	}
	l.n += int64(len(keep))
	if len(keep) > 0 {
		l.sink.write(kind, keep, at)
	}
}

// isTestProg reports whether src is a package without func main that has
// Test, Benchmark, Example or Fuzz functions: the playground runs it as a
// test.
func isTestProg(src []byte) bool {
	f, err := parser.ParseFile(token.NewFileSet(), progName, src, parser.SkipObjectResolution)
	if err != nil {
		return false
	}
	hasTest := false
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil {
			continue
		}
		name := fd.Name.Name
		if name == "main" {
			return false
		}
		for _, prefix := range []string{"Test", "Benchmark", "Example", "Fuzz"} {
			if rest, ok := strings.CutPrefix(name, prefix); ok && (rest == "" || !isLower(rest)) {
				hasTest = true
			}
		}
	}
	return hasTest
}

func isLower(s string) bool { return s[0] >= 'a' && s[0] <= 'z' }

// recorder collects output as playground Events: with real-time delays
// as it arrives, and a fake-time program's writes with their fake times,
// which result orders (their two streams arrive apart).
type recorder struct {
	mu     sync.Mutex
	start  time.Time
	last   time.Time
	now    func() time.Time
	events []Event
	fake   []timedOutput
}

func (r *recorder) write(kind string, p []byte, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !at.IsZero() {
		r.fake = append(r.fake, timedOutput{kind: kind, msg: slices.Clone(p), at: at})
		return
	}
	t := r.now()
	if r.last.IsZero() {
		r.last = r.start
	}
	delay := t.Sub(r.last)
	if n := len(r.events); n > 0 && r.events[n-1].Kind == kind && delay < time.Millisecond {
		r.events[n-1].Message += string(p)
		return
	}
	r.last = t
	r.events = append(r.events, Event{Message: string(p), Kind: kind, Delay: delay})
}

// result returns the events recorded (once the program has ended).
func (r *recorder) result() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fake != nil {
		return fakeTimeEvents(r.fake)
	}
	return r.events
}
