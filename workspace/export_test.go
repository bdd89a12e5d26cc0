package workspace

import (
	"errors"
	"fmt"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
)

// View, for tests, returns the binds every isolated process of owner (an owner key, see
// [Owner.Key]) in workspace gets:
//
//   - for a user: the workspace directory at SandboxWorkspace when
//     workspace is not "" (the workspace must exist and belong to that
//     tenant and user, else the error wraps ErrNotFound), the user's HOME
//     at SandboxHome, and GOROOT read-only at SandboxGoRoot when
//     ManagerOptions.Go.Root is set;
//   - for an internal identity ("@<name>"): [Manager.InternalBinds] (no
//     HOME, no workspace: a workspace is ErrNotFound).
//
// ManagerOptions.ToolBinds follow in both cases. A user's binds in a
// workspace are those [Handle.Start] gives.
//
// No bind's source lies inside another's. It prepares what it binds as
// HomeDirs does (creating directories, giving them to the user's uid) and
// gives a workspace directory owned by another uid (from before isolation,
// or from the per-tenant uid of an earlier version) to the user's uid, so a
// process started before any file access can write its workspace. The Host
// paths are for the sandbox only and never reach a client. Safe for
// concurrent use.
func (m *Manager) View(owner, workspace string) ([]sandbox.Bind, error) {
	if IsInternalOwner(owner) {
		if workspace != "" {
			return nil, fmt.Errorf("%w: workspace %q", ErrNotFound, workspace)
		}
		return m.InternalBinds(), nil
	}
	var goroot []sandbox.Bind
	if m.opts.Go.Root != "" {
		goroot = append(goroot, sandbox.Bind{Host: m.opts.Go.Root, Target: SandboxGoRoot, ReadOnly: true})
	}
	dirs, err := m.HomeDirs(owner)
	if err != nil {
		return nil, err
	}
	o, _ := ParseOwnerKey(owner) // valid: HomeDirs checked it
	if workspace == "" {
		binds := append([]sandbox.Bind{{Host: dirs.Home, Target: SandboxHome}}, goroot...)
		return append(binds, m.opts.ToolBinds...), nil
	}
	w, err := m.opts.Store.GetWorkspace(workspace)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !owns(o, w)) {
		return nil, fmt.Errorf("%w: workspace %q", ErrNotFound, workspace)
	}
	if err != nil {
		return nil, fmt.Errorf("get workspace: %w", err)
	}
	binds, err := m.workspaceBinds(owner, workspace, dirs)
	if err != nil {
		return nil, err
	}
	return append(binds, m.opts.ToolBinds...), nil
}

// OpenFiles opens rooted access to the workspace directory dir, which must
// exist. The caller must Close the Files. The error may name dir; it is for
// the server's log, not for a client.
func OpenFiles(dir string, opts FilesOptions) (*Files, error) {
	return openOwnedFiles(dir, opts, noOwner)
}
