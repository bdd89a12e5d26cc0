package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MarkerVar is the environment variable every sandboxed process carries:
// MarkerVar=<Options.Instance>/<process id>. A value for it in [Cmd.Env] is
// replaced.
const MarkerVar = "IDESERVER_SANDBOX"

var (
	// ErrInvalidCmd is returned by [Runner.Start] for a [Cmd] that misses a
	// required field or combines fields that do not go together. The message
	// after it names the field, never a host path.
	ErrInvalidCmd = errors.New("sandbox: invalid command")
	// ErrNotFound is returned by [Runner.Start] when [Cmd.Path] has no slash
	// and is not found in the PATH of [Cmd.Env].
	ErrNotFound = errors.New("sandbox: executable not found")
	// ErrClosed is returned by [Runner.Start] after [Runner.Close].
	ErrClosed = errors.New("sandbox: runner closed")
	// ErrStopped is what [Process.Wait] reports for a process that was
	// still running when [Process.Close] or [Runner.Close] ended it.
	ErrStopped = errors.New("sandbox: process stopped")
	// ErrSurvivors is returned when processes are still alive after
	// SIGTERM, SIGKILL and about five seconds of retrying.
	ErrSurvivors = errors.New("sandbox: processes survived kill")
	// ErrNoPTY is returned by [Process.Resize] for a process without a PTY.
	ErrNoPTY = errors.New("sandbox: process has no pty")
)

// Network is the network a process may reach. The zero value is
// [NetworkNone]. The direct runner only records it; the isolating runner
// enforces it.
type Network int

const (
	// NetworkNone: no network at all (loopback inside its own namespace).
	NetworkNone Network = iota
	// NetworkOutbound: outbound connections through user-mode NAT
	// (slirp4netns) in a network namespace of its own, so the module proxy
	// and the internet are reachable but nothing listening on the host's
	// loopback is (the server, other local services); nor is any other
	// sandbox. Link-local, private and the host's own addresses are
	// refused unless allowed (see Options.NetworkAllow). Without
	// slirp4netns it falls back to NetworkNone (fails closed), with a
	// warning when the runner starts.
	NetworkOutbound
	// NetworkFull: the host's network namespace, loopback included.
	NetworkFull
)

// String returns "none", "outbound", "full" or "network(N)".
func (n Network) String() string {
	switch n {
	case NetworkNone:
		return "none"
	case NetworkOutbound:
		return "outbound"
	case NetworkFull:
		return "full"
	}
	return fmt.Sprintf("network(%d)", int(n))
}

// Winsize is a terminal size in character cells.
type Winsize struct{ Cols, Rows uint16 }

// Cmd describes a process to start. Start does not modify it.
type Cmd struct {
	Kind      string // "terminal", "gopls", "dlv", "run", ... (for logs; required)
	Owner     string // isolation principal key: one host uid, HOME and cgroup per Owner (required; see [Options.OwnerUID])
	Workspace string // owning workspace id ("" for e.g. playground runs)

	// Path is the executable. Without a slash it is looked up in the PATH
	// of Env (never the server's PATH); relative paths with a slash are
	// relative to Dir.
	Path string
	Args []string // argv[1:]; argv[0] is Path as given

	// Env is the complete environment: nothing is inherited from the
	// server. The runner appends its marker (see [MarkerVar]).
	Env []string
	Dir string // working directory: an absolute host path (required; see Binds)

	// PTY, when non-nil, runs the process on a new pseudo-terminal of this
	// size as a session leader with it as controlling tty; Stdin, Stdout
	// and Stderr must then be nil.
	PTY *Winsize

	// Stdin, Stdout and Stderr are as in os/exec: nil means /dev/null; an
	// *os.File is handed to the process. For other values a goroutine
	// copies. Output copying ends when the process and everything it left
	// have ended (Wait returns after it). Input copying is not waited for:
	// its goroutine ends when Stdin's Read returns after the process ended,
	// so a caller whose Stdin can block forever should close it.
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// Network is enforced by the isolating runner; the direct runner
	// only records it.
	Network Network

	// Binds are the host paths an isolated process sees besides the
	// system directories and [Options.ReadOnlyPaths] (the workspace, the
	// owner's HOME, which holds GOPATH, GOMODCACHE and GOCACHE), each at its
	// [Bind.Target] or, without one, at its host path. The direct runner
	// only checks that they exist. No bind's Host may be, or lie inside,
	// another read-write bind's Host (see [Bind]).
	//
	// Dir and Path stay host paths in both modes. An isolating runner
	// translates them into the sandbox's view: a path below a bind's Host
	// becomes the same relative path below its Target (the bind with the
	// longest Host wins: read-only binds may nest), so a workspace bound at /workspace with Dir
	// <host workspace>/sub starts in /workspace/sub. Dir must lie inside a
	// bind or a read-only path (or be / or /tmp). Env is translated the same
	// way: every value, and every ':'-separated element of a value (PATH),
	// that is a host path below a bind's Host.
	Binds []Bind

	// Ptrace lets an isolated process trace its own descendants (a
	// debugger); otherwise seccomp refuses ptrace. It never reaches a
	// process outside the sandbox's pid namespace.
	Ptrace bool
}

// validate checks the fields Start needs. Messages never hold host paths.
func (c *Cmd) validate() error {
	switch {
	case c.Kind == "":
		return fmt.Errorf("%w: kind is required", ErrInvalidCmd)
	case c.Owner == "":
		return fmt.Errorf("%w: owner is required", ErrInvalidCmd)
	case c.Path == "":
		return fmt.Errorf("%w: path is required", ErrInvalidCmd)
	case c.Dir == "":
		return fmt.Errorf("%w: dir is required", ErrInvalidCmd)
	case !filepath.IsAbs(c.Dir):
		return fmt.Errorf("%w: dir must be absolute", ErrInvalidCmd)
	case c.PTY != nil && (c.Stdin != nil || c.Stdout != nil || c.Stderr != nil):
		return fmt.Errorf("%w: pty excludes stdin, stdout and stderr", ErrInvalidCmd)
	case c.Network < NetworkNone || c.Network > NetworkFull:
		return fmt.Errorf("%w: unknown network %d", ErrInvalidCmd, int(c.Network))
	}
	if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: dir is not a directory", ErrInvalidCmd)
	}
	if err := c.validateBinds(); err != nil {
		return err
	}
	for _, kv := range c.Env {
		if !strings.Contains(kv, "=") || strings.IndexByte(kv, 0) >= 0 {
			return fmt.Errorf("%w: malformed environment entry", ErrInvalidCmd)
		}
	}
	return nil
}

// environ returns Env without any marker entry, plus marker. It is never
// nil, so os/exec never falls back to the server's environment.
func (c *Cmd) environ(marker string) []string {
	env := make([]string, 0, len(c.Env)+1)
	for _, kv := range c.Env {
		if !strings.HasPrefix(kv, MarkerVar+"=") {
			env = append(env, kv)
		}
	}
	return append(env, marker)
}

// resolve returns the executable's host path: Path itself when it contains a
// slash (joined to Dir when relative), otherwise the first executable regular
// file named Path in an absolute directory of Env's PATH.
func (c *Cmd) resolve() (string, error) {
	if strings.Contains(c.Path, "/") {
		if filepath.IsAbs(c.Path) {
			return c.Path, nil
		}
		return filepath.Join(c.Dir, c.Path), nil
	}
	pathList := ""
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathList = v // the last one wins, as in os/exec
		}
	}
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue // never resolve against the server's working directory
		}
		p := filepath.Join(dir, c.Path)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrNotFound, c.Path)
}
