package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/ideserver/ideserver/sandbox"
)

// Where [Handle.Start] binds a user's directories inside an isolated
// process. GOPATH, GOMODCACHE and GOCACHE are directories of HOME, without
// binds of their own (the sandbox sees the module cache at
// /home/user/go/pkg/mod); tools that show paths to a client (lsp, dap) map
// them to names of their own.
const (
	SandboxWorkspace = "/workspace" // the workspace directory
	SandboxHome      = "/home/user" // the user's HOME (GOPATH, GOMODCACHE, GOCACHE inside)
	SandboxGoRoot    = "/goroot"    // GOROOT, read-only
)

// noOwner is the uid meaning "leave ownership alone": no Identity, or an
// Identity that answered a negative uid.
const noOwner = -1

// ownerUID returns the host uid that owns owner's files, or noOwner. The
// answer of ManagerOptions.Identity is cached: it must be stable.
func (m *Manager) ownerUID(owner string) (int, error) {
	if m.opts.Identity == nil {
		return noOwner, nil
	}
	m.mu.Lock()
	uid, ok := m.uids[owner]
	m.mu.Unlock()
	if ok {
		return uid, nil
	}
	uid, err := m.opts.Identity(owner)
	if err != nil {
		return noOwner, fmt.Errorf("owner identity: %w", err)
	}
	if uid < 0 {
		uid = noOwner
	}
	m.mu.Lock()
	m.uids[owner] = uid
	m.mu.Unlock()
	return uid, nil
}

// InternalBinds returns the binds every isolated process of the server's
// internal identities (PlaygroundOwner, PlaygroundCacheOwner) gets before
// its own: GOROOT read-only at SandboxGoRoot when ManagerOptions.Go.Root is
// set, then ManagerOptions.ToolBinds. They have no HOME and no workspace;
// their starter adds what its processes need. The result is a new slice;
// its Host paths are for the sandbox only. Safe for concurrent use.
func (m *Manager) InternalBinds() []sandbox.Bind {
	var binds []sandbox.Bind
	if m.opts.Go.Root != "" {
		binds = append(binds, sandbox.Bind{Host: m.opts.Go.Root, Target: SandboxGoRoot, ReadOnly: true})
	}
	return append(binds, m.opts.ToolBinds...)
}

// workspaceBinds returns the binds of owner's processes in workspace,
// whose ownership the caller has checked: the workspace at
// SandboxWorkspace (the directory given to the owner's uid first), HOME at
// SandboxHome, and GOROOT read-only at SandboxGoRoot when configured.
func (m *Manager) workspaceBinds(owner, workspace string, dirs HomeDirs) ([]sandbox.Bind, error) {
	if fi, err := os.Lstat(m.Dir(workspace)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: workspace %q has no directory", ErrNotFound, workspace)
	}
	if err := m.adoptWorkspace(owner, workspace); err != nil {
		return nil, err
	}
	binds := []sandbox.Bind{
		{Host: m.Dir(workspace), Target: SandboxWorkspace},
		{Host: dirs.Home, Target: SandboxHome},
	}
	if m.opts.Go.Root != "" {
		binds = append(binds, sandbox.Bind{Host: m.opts.Go.Root, Target: SandboxGoRoot, ReadOnly: true})
	}
	return binds, nil
}

// adoptWorkspace gives the directory of workspace id, and everything in it,
// to owner's uid when the directory belongs to another uid (a workspace
// from before isolation, or one of an earlier version, which gave it to the
// per-tenant uid). Without an identity it does nothing; with one, a
// workspace without a directory is ErrNotFound. Cheap (one lstat) once
// adopted.
func (m *Manager) adoptWorkspace(owner, id string) error {
	uid, err := m.ownerUID(owner)
	if err != nil || uid == noOwner {
		return err
	}
	fi, err := os.Lstat(m.Dir(id))
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: workspace %q has no directory", ErrNotFound, id)
	}
	if ownerOf(fi) == uid {
		return nil
	}
	unlock := m.ownLock("workspace/" + id)
	defer unlock()
	n, skipped, err := adoptTree(m.Dir(id), uid)
	if err != nil {
		return fmt.Errorf("give workspace %q to its owner: %w", id, stripPath(err))
	}
	m.logger.Info("workspace files given to the owner's uid", "owner", owner, "workspace_id", id, "uid", uid, "entries", n)
	if skipped > 0 {
		m.logger.Warn("hard-linked files left to their owner", "owner", owner, "workspace_id", id, "files", skipped)
	}
	return nil
}

// adoptTree gives dir and everything below it to uid (and gid uid) when
// dir's owner is not uid already; dir must be a directory, not a symlink.
// It never follows a symlink: entries are changed with lchown semantics
// through an os.Root on dir, so a symlink, or a directory swapped for one
// meanwhile, cannot lead it outside dir. Regular files with more than one
// link are skipped (counted in skipped): another name of the same file may
// lie outside dir. dir itself is changed last, so an interrupted call is
// redone in full by the next. n counts the entries changed.
func adoptTree(dir string, uid int) (n, skipped int, err error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return 0, 0, err
	}
	if !fi.IsDir() {
		return 0, 0, errors.New("not a directory")
	}
	if ownerOf(fi) == uid {
		return 0, 0, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, 0, err
	}
	defer root.Close()
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // removed meanwhile
		case err != nil:
			return err
		case p == ".":
			return nil // last, below
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				skipped++
				return nil
			}
		}
		if err := root.Lchown(p, uid, uid); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, skipped, err
	}
	if err := root.Lchown(".", uid, uid); err != nil {
		return n, skipped, err
	}
	return n + 1, skipped, nil
}

// ownLock serialises ownership changes of one tree (key "tenant/<id>": the
// tenant's directory and its users' homes, or "workspace/<id>") and returns the unlock function. It is separate from
// the lifecycle locks, which are held while processes stop.
func (m *Manager) ownLock(key string) func() { return m.keyLock("own/" + key) }

// ownerOf returns the uid owning fi, or noOwner when the platform does not
// say.
func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return noOwner
}
