// Package gotool finds or builds the pinned developer tools ideserver runs
// for tenants: gopls and dlv. Their versions are pinned in tools/go.mod
// (reviewed like any dependency) and repeated here; a test keeps the two in
// step. A configured path wins; otherwise the pinned version is built once
// with `go install` into a directory of the server's data, so a fresh
// machine needs no manual install.
//
// Only cmd/ideserver imports it: the lsp and dap bridges receive the
// resolved path as a function, so they never build anything themselves.
package gotool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Tool is a pinned Go program.
type Tool struct {
	Name    string // binary name, e.g. "gopls"
	Package string // main package path
	Version string // module version, as pinned in tools/go.mod
}

// Gopls and Dlv return the pinned tools.
func Gopls() Tool { return Tool{"gopls", "golang.org/x/tools/gopls", "v0.23.0"} }

// Dlv returns the pinned Delve debugger.
func Dlv() Tool { return Tool{"dlv", "github.com/go-delve/delve/cmd/dlv", "v1.27.2"} }

// ErrNotReady is returned by Path while a tool is still being built.
var ErrNotReady = errors.New("tool is being prepared")

// ErrUnavailable is returned by Status when a tool could not be found or
// built. The cause, which names host paths, is logged, not returned:
// Status feeds the public /readyz answer.
var ErrUnavailable = errors.New("tool could not be prepared; see the server log")

// Options configures an Installer.
type Options struct {
	// Dir receives built tools as NAME-VERSION (required).
	Dir string
	// GoBinary is the go command used to build; "" means "go" on PATH.
	GoBinary string
	// Env is the complete environment of the build (PATH, HOME, GOPATH,
	// GOCACHE, GOPROXY...); nil means the builder's defaults are unknown
	// and the build fails clearly.
	Env []string
	// Paths maps a tool name to a configured binary, used as is unless
	// Publish is set.
	Paths map[string]string
	// Publish makes every binary Path returns reachable by other users,
	// for tenant processes that run under their own uids: Dir and the
	// built tools get mode 0755, and a configured binary (Paths) is
	// copied into Dir as NAME-HASH (HASH: the first 12 hex digits of its
	// content's SHA-256), mode 0755, and that copy is returned, since the
	// configured one may lie in a directory only the server can enter
	// (~/.cache/go-build, say). A copy of the same content is reused.
	Publish bool
	Logger  *slog.Logger // nil: discard
}

// Installer resolves tools to binaries, building each at most once. It is
// safe for concurrent use.
type Installer struct {
	opts   Options
	logger *slog.Logger

	ctx    context.Context // cancelled by Close: ends builds
	cancel context.CancelFunc
	wg     sync.WaitGroup // builds

	mu    sync.Mutex
	state map[string]*toolState
}

type toolState struct {
	done chan struct{} // closed when the build finished
	path string
	err  error
}

// New returns an Installer.
func New(opts Options) (*Installer, error) {
	if opts.Dir == "" {
		return nil, errors.New("gotool: Options.Dir is required")
	}
	if opts.GoBinary == "" {
		opts.GoBinary = "go"
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Installer{opts: opts, logger: logger, ctx: ctx, cancel: cancel, state: make(map[string]*toolState)}, nil
}

// Close stops builds in progress (killing the go command and everything it
// started) and waits for them. Tools not yet built report an error after.
func (in *Installer) Close() error {
	in.cancel()
	in.wg.Wait()
	return nil
}

// Prepare starts building t in the background if needed and returns at
// once; a configured tool (Paths) is checked, and published, before it
// returns, so it is ready at once. Call it at server start so the first
// user does not wait.
func (in *Installer) Prepare(t Tool) {
	in.start(t)
}

// Status reports nil when t is ready, an error wrapping ErrNotReady while
// it is being built, or one wrapping ErrUnavailable when that failed. Its
// text holds the tool's name only, never a host path, so it may be shown
// to anyone. It does not block (beyond a configured tool's first check,
// when it comes before Prepare).
func (in *Installer) Status(t Tool) error {
	st := in.start(t)
	select {
	case <-st.done:
		if st.err != nil {
			return fmt.Errorf("%s: %w", t.Name, ErrUnavailable)
		}
		return nil
	default:
		return fmt.Errorf("%s: %w", t.Name, ErrNotReady)
	}
}

// Path returns the binary of t, waiting for its build until ctx ends.
func (in *Installer) Path(ctx context.Context, t Tool) (string, error) {
	st := in.start(t)
	select {
	case <-st.done:
		return st.path, st.err
	case <-ctx.Done():
		return "", fmt.Errorf("%s: %w", t.Name, ErrNotReady)
	}
}

// start returns t's state, resolving t on first use: a configured tool
// at once (checking it, and publishing it with Publish, takes a moment:
// it is ready when the first Prepare returns), a pinned one in the
// background.
func (in *Installer) start(t Tool) *toolState {
	in.mu.Lock()
	if st, ok := in.state[t.Name]; ok {
		in.mu.Unlock()
		return st
	}
	st := &toolState{done: make(chan struct{})}
	in.state[t.Name] = st
	configured := in.opts.Paths[t.Name] != ""
	if !configured {
		in.wg.Add(1)
	}
	in.mu.Unlock()
	if configured {
		in.finish(st, t)
		return st
	}
	go func() {
		defer in.wg.Done()
		in.finish(st, t)
	}()
	return st
}

// finish resolves t into st and closes st.done.
func (in *Installer) finish(st *toolState, t Tool) {
	defer close(st.done)
	st.path, st.err = in.resolve(t)
	if st.err != nil {
		in.logger.Error("prepare tool", "tool", t.Name, "err", st.err)
	}
}

// resolve finds the configured or already-built binary, or builds it.
func (in *Installer) resolve(t Tool) (string, error) {
	if p := in.opts.Paths[t.Name]; p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("configured %s: %w", t.Name, err)
		}
		if in.opts.Publish {
			return in.publish(t, p)
		}
		return p, nil
	}
	target := filepath.Join(in.opts.Dir, t.Name+"-"+t.Version)
	if executable(target) == nil {
		if in.opts.Publish {
			if err := in.makeDir(); err != nil {
				return "", err
			}
			if err := os.Chmod(target, 0o755); err != nil {
				return "", fmt.Errorf("publish %s: %w", t.Name, err)
			}
		}
		return target, nil
	}
	if err := in.makeDir(); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(in.opts.Dir, ".build-"+t.Name+"-")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	in.logger.Info("building pinned tool (once)", "tool", t.Name, "version", t.Version)
	cmd := exec.CommandContext(in.ctx, in.opts.GoBinary, "install", t.Package+"@"+t.Version)
	cmd.Env = append(append([]string(nil), in.opts.Env...), "GOBIN="+tmp, "GOFLAGS=-trimpath -modcacherw", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	// The build and the compilers it starts form one process group, killed
	// together on Close or when the server dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group
	}
	if in.ctx.Err() != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, in.ctx.Err())
	}
	if err != nil {
		in.logger.Error("build pinned tool", "tool", t.Name, "version", t.Version, "err", err, "output", string(tail(out, 4096)))
		return "", fmt.Errorf("build %s %s: %w", t.Name, t.Version, err)
	}
	// go install honours the umask; tenant uids must be able to run it.
	if err := os.Chmod(filepath.Join(tmp, t.Name), 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", t.Name, err)
	}
	if err := os.Rename(filepath.Join(tmp, t.Name), target); err != nil {
		return "", fmt.Errorf("install %s: %w", t.Name, err)
	}
	in.logger.Info("built pinned tool", "tool", t.Name, "version", t.Version, "seconds", time.Since(start).Seconds())
	return target, nil
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", filepath.Base(p))
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
