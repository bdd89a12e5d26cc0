package lsp

import (
	"context"
	"slices"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// Target is a test's workspace without a workspace.Handle: a host layout,
// a runner, and the binds its processes get under bubblewrap (as
// workspace.Handle.Start gives them).
type Target struct {
	Key    bridge.Key
	Dir    string // the workspace's host directory
	Env    func(extra ...string) ([]string, error)
	Runner *sandbox.Runner
	Binds  []sandbox.Bind // under bubblewrap: the processes' view; nil without isolation
	GoRoot string
	Home   workspace.HomeDirs
	Redact []string
}

// target is the session target of t: Roots from t.Binds as a Handle's
// Paths make them (toolRoots), processes started by the runner as the
// owner of t.Key with t.Binds before their own.
func (t Target) target() target {
	isolated := t.Runner.Isolation() == sandbox.IsolationBwrap
	view := func(host string) string {
		if !isolated {
			return host
		}
		return sandbox.ViewPath(t.Binds, host)
	}
	return target{
		key:   t.Key,
		dir:   t.Dir,
		env:   t.Env,
		roots: toolRoots(view, t.Dir, t.GoRoot, t.Home, t.Redact),
		start: func(ctx context.Context, cmd sandbox.Cmd) (*sandbox.Process, error) {
			cmd.Owner, cmd.Workspace = t.Key.Owner, t.Key.WorkspaceID
			if isolated {
				cmd.Binds = append(slices.Clone(t.Binds), cmd.Binds...)
			}
			return t.Runner.Start(ctx, cmd)
		},
	}
}

// ServeClient is Serve over any client connection (the tests' in-memory
// pipe) for the workspace t.
func (m *Manager) ServeClient(ctx context.Context, t Target, c clientConn) error {
	return m.serve(ctx, t.target(), c)
}

// ServeTarget is Serve over a *bridge.Conn for the workspace t.
func (m *Manager) ServeTarget(ctx context.Context, t Target, c *bridge.Conn) error {
	return m.serve(ctx, t.target(), c)
}

// Rewriter is the proxy's message rewriter, for the external tests.
type Rewriter = rewriter

// NewRewriter builds a Rewriter for roots.
func NewRewriter(roots Roots) *Rewriter { return newRewriter(roots) }

// ClientText rewrites host directories in s as text towards the client.
func (rw *rewriter) ClientText(s string) string { return rw.text.rewrite(s) }

// toolRoots returns the Roots of a session: the client roots mapped to
// the directories as the tool sees them (view translates a host path,
// sandbox.ViewPath), and as Redact the user's other directories in both
// forms, the host forms of the roots where the tool sees them elsewhere,
// and extra. With IsolationNone view is the identity and the roots are the
// host directories.
func toolRoots(view func(string) string, wsDir, goroot string, dirs workspace.HomeDirs, extra []string) Roots {
	v := func(host string) string {
		if host == "" {
			return ""
		}
		return view(host)
	}
	r := Roots{Workspace: v(wsDir), GoRoot: v(goroot), GoModCache: v(dirs.GoModCache)}
	for _, h := range []string{dirs.Home, dirs.GoPath, dirs.GoCache} {
		if h != "" {
			r.Redact = append(r.Redact, h)
			if t := v(h); t != h {
				r.Redact = append(r.Redact, t)
			}
		}
	}
	for _, h := range []string{wsDir, goroot, dirs.GoModCache} {
		if h != "" && v(h) != h {
			r.Redact = append(r.Redact, h) // gopls never sees it; text that holds it is not the client's
		}
	}
	r.Redact = append(r.Redact, extra...)
	return r
}

// ServeHandle is Serve over any client connection for the workspace h,
// with extraEnv added to gopls's environment (the fake gopls's switch).
func (m *Manager) ServeHandle(ctx context.Context, h *workspace.Handle, c clientConn, extraEnv ...string) error {
	t := handleTarget(h)
	env := t.env
	t.env = func(extra ...string) ([]string, error) { return env(append(extraEnv, extra...)...) }
	return m.serve(ctx, t, c)
}

// ToHostURI maps a client URI to gopls's (the URI mapping of a session
// over r; see workspace.Paths.ToProcessURI).
func (r *Roots) ToHostURI(clientURI string) (string, error) {
	p, err := r.paths()
	if err != nil {
		return "", err
	}
	return p.ToProcessURI(clientURI)
}

// ToClientURI maps a URI of gopls's inside a root to the client's
// (workspace.Paths.ToClientURI).
func (r *Roots) ToClientURI(hostURI string) (string, bool) {
	p, err := r.paths()
	if err != nil {
		return "", false
	}
	return p.ToClientURI(hostURI)
}

// HandleRoots is the Roots a session of h uses.
func HandleRoots(h *workspace.Handle) Roots { return handleTarget(h).roots }
