package lsp

import (
	"context"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// target is what a session uses of its workspace: the parts of a
// workspace.Handle (handleTarget), so that the package's tests can serve a
// layout of their own.
type target struct {
	key   bridge.Key // whose session it is; key.WorkspaceID names the workspace
	dir   string     // the workspace's host directory (watched for gopls)
	env   func(extra ...string) ([]string, error)
	start func(ctx context.Context, cmd sandbox.Cmd) (*sandbox.Process, error) // fills owner, workspace, dir and the view's binds
	roots Roots
}

// handleTarget is the target of h: its key, directory, environment and
// processes, and Roots from h.Paths (the process paths of the client
// roots; the directories h.Paths redacts, and the host forms of the roots
// where processes see them elsewhere, as Redact: gopls never names them,
// so text holding them is not the client's).
func handleTarget(h *workspace.Handle) target {
	c := h.Paths.Config()
	var r Roots
	for _, root := range c.Roots {
		switch root.Client {
		case ClientWorkspace:
			r.Workspace = root.Process
		case ClientGoRoot:
			r.GoRoot = root.Process
		case ClientGoModCache:
			r.GoModCache = root.Process
		}
	}
	for _, d := range c.Redact {
		if d != "" {
			r.Redact = append(r.Redact, d)
		}
	}
	for _, a := range c.Aliases {
		r.Redact = append(r.Redact, a.Dir)
	}
	return target{key: h.Key(), dir: h.Dir, env: h.Env, start: h.Start, roots: r}
}
