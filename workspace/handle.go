package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
)

// Handle is a user's checked access to one of their workspaces: the one
// object a bridge or handler receives after the single ownership check
// ([Manager.Open]). It holds the workspace, the caller, the user's
// directories, the mapping between client and process paths, and starts
// the workspace's processes. Its fields are read-only; it is safe for
// concurrent use.
type Handle struct {
	Owner       Owner  // the caller (tenant and user); Owner.Key() is the sandbox owner key
	WorkspaceID string // the workspace's id
	Dir         string // the workspace's host directory; never reaches a client
	Home        HomeDirs
	Paths       *Paths // client path <-> process path, both directions

	m      *Manager
	runner *sandbox.Runner
	binds  []sandbox.Bind // the sandbox view under bubblewrap; nil without isolation
}

// Open checks that workspaceID exists and belongs to o (another user's or
// tenant's workspace is ErrNotFound, as a missing one is: a caller cannot
// tell them apart), resumes it when suspended (as Use), prepares the
// user's directories and the workspace's (HomeDirs; a workspace directory
// owned by another uid is given to the user's), and returns the Handle.
// It is the one ownership check a bridge needs. A record without a
// directory is ErrNotFound. With a shared module cache
// (GoEnv.ModuleCache) it queues the public module versions the
// workspace's go.sum lists, when that changed since it last looked.
func (m *Manager) Open(o Owner, workspaceID string) (*Handle, error) {
	if _, err := m.Use(o, workspaceID); err != nil {
		return nil, err
	}
	home, err := m.HomeDirs(o.Key())
	if err != nil {
		return nil, err
	}
	binds, err := m.workspaceBinds(o.Key(), workspaceID, home)
	if err != nil {
		return nil, err
	}
	h := &Handle{Owner: o, WorkspaceID: workspaceID, Dir: m.Dir(workspaceID), Home: home, m: m, runner: m.opts.Runner}
	if h.isolated() {
		h.binds = append(binds, m.opts.ToolBinds...)
	}
	if h.Paths, err = h.newPaths(); err != nil {
		return nil, err
	}
	m.queueModules(workspaceID)
	return h, nil
}

// isolated reports whether processes see the sandbox view rather than
// host paths.
func (h *Handle) isolated() bool { return h.m.isolated() }

// ProcessPath returns the host path host as the workspace's processes see
// it: unchanged without isolation; under bubblewrap, below a bind's host
// the same relative path below its target (sandbox.ViewPath).
func (h *Handle) ProcessPath(host string) string {
	if h.binds == nil {
		return host
	}
	return sandbox.ViewPath(h.binds, host)
}

// newPaths builds the Paths of h: the client roots mapped to the
// directories as processes see them, the host forms of those that differ
// as aliases, and as redacted the user's HOME, GOPATH and GOCACHE (in both
// forms) and ManagerOptions.Redact.
func (h *Handle) newPaths() (*Paths, error) {
	proc := func(host string) string {
		if host == "" {
			return ""
		}
		if abs, err := filepath.Abs(host); err == nil {
			host = abs
		}
		return filepath.ToSlash(h.ProcessPath(host))
	}
	var c PathsConfig
	for _, r := range []struct {
		client, host string
		readOnly     bool
	}{
		{ClientWorkspace, h.Dir, false},
		{ClientGoRoot, h.m.opts.Go.Root, true},
		{ClientGoModCache, h.Home.GoModCache, true},
	} {
		p := proc(r.host)
		c.Roots = append(c.Roots, Root{Client: r.client, Process: p, ReadOnly: r.readOnly})
		if host := absSlash(r.host); p != "" && host != p {
			c.Aliases = append(c.Aliases, Alias{Dir: host, Client: r.client})
		}
	}
	for _, d := range []string{h.Home.Home, h.Home.GoPath, h.Home.GoCache} {
		c.Redact = append(c.Redact, absSlash(d))
		if p := proc(d); p != absSlash(d) {
			c.Redact = append(c.Redact, p)
		}
	}
	for _, d := range h.m.opts.Redact {
		c.Redact = append(c.Redact, absSlash(d))
	}
	return NewPaths(c)
}

// absSlash is p absolute, clean and with slashes ("" stays "").
func absSlash(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return filepath.ToSlash(p)
}

// Env returns the complete environment of the workspace's processes (see
// [Manager.ProcessEnv]) with extra ("KEY=value") appended, winning over
// earlier entries of the same key.
//
// Once the users' shared build cache is ready (ManagerOptions.BuildCache),
// GOCACHEPROG names the cache program, which reads the shared cache and
// writes into the user's GOCACHE; an extra GOCACHEPROG wins, as any extra
// entry does. With a shared module cache (GoEnv.ModuleCache), GOPROXY
// lists it first (read-only, a file:// proxy; at SandboxModuleCache under
// bubblewrap) and then the configured proxy, which serves what it lacks.
func (h *Handle) Env(extra ...string) ([]string, error) {
	if prog, _, ok := h.m.buildCacheSetup(h.Home); ok {
		extra = append([]string{"GOCACHEPROG=" + prog}, extra...)
	}
	if proxy, _, ok := h.m.moduleCacheSetup(); ok {
		extra = append([]string{"GOPROXY=" + proxy}, extra...)
	}
	return h.m.processEnv(h.Owner, h.Home, extra), nil
}

// Start starts cmd as one of the workspace's processes: it sets cmd.Owner
// (the user's owner key) and cmd.Workspace, cmd.Dir when empty (the
// workspace directory), and under bubblewrap puts the workspace's binds
// (the workspace at /workspace, HOME, GOROOT, the tools, the shared
// build cache with its program and the shared module cache, read-only)
// before cmd.Binds. cmd.Env is the caller's (see Env). Errors never hold a
// host path.
func (h *Handle) Start(ctx context.Context, cmd sandbox.Cmd) (*sandbox.Process, error) {
	if h.runner == nil {
		return nil, errors.New("workspace: no runner to start processes")
	}
	cmd.Owner = h.Owner.Key()
	cmd.Workspace = h.WorkspaceID
	if cmd.Dir == "" {
		cmd.Dir = h.Dir
	}
	if h.binds != nil {
		binds := slices.Clip(h.binds)
		if _, cache, ok := h.m.buildCacheSetup(h.Home); ok {
			binds = append(binds, cache...) // what Env's GOCACHEPROG needs
		}
		if _, mods, ok := h.m.moduleCacheSetup(); ok {
			binds = append(binds, mods...) // what Env's GOPROXY reads
		}
		cmd.Binds = append(binds, cmd.Binds...)
	}
	return h.runner.Start(ctx, cmd)
}

// Binds returns the workspace's binds that Start adds under bubblewrap (nil
// without isolation). The Host paths never reach a client.
func (h *Handle) Binds() []sandbox.Bind { return slices.Clone(h.binds) }

// ReadOnlyRoot opens the directory behind a read-only client root, for
// the server's file endpoints: "goroot" (GOROOT) or "gomodcache" (the
// user's module cache); any other name is ErrNotFound. The caller closes
// it. The module cache lies in the user's HOME, where the user's processes
// can replace any directory with a symlink, so it is opened inside a root
// on HOME (whose own path only the server can change): a symlink there
// resolves inside HOME or fails, never reaching the host. The path never
// reaches a client.
func (h *Handle) ReadOnlyRoot(name string) (*os.Root, error) {
	return h.m.readOnlyRoot(h.Home, name)
}

// readOnlyRoot is ReadOnlyRoot for a user whose directories are d.
func (m *Manager) readOnlyRoot(d HomeDirs, name string) (*os.Root, error) {
	switch name {
	case "goroot":
		if m.opts.Go.Root == "" {
			return nil, fmt.Errorf("%w: no GOROOT", ErrNotFound)
		}
		return os.OpenRoot(m.opts.Go.Root)
	case "gomodcache":
		rel, err := filepath.Rel(d.Home, d.GoModCache)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("%w: the module cache is not inside HOME", ErrNotFound)
		}
		home, err := os.OpenRoot(d.Home)
		if err != nil {
			return nil, fmt.Errorf("open home: %w", stripPath(err))
		}
		defer home.Close()
		r, err := home.OpenRoot(rel)
		if err != nil {
			return nil, fmt.Errorf("open the module cache: %w", stripPath(err))
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
}

// Key says whose sessions a bridge runs for h: the tenant, the owner key
// and the workspace.
func (h *Handle) Key() bridge.Key {
	return bridge.Key{Tenant: h.Owner.Tenant, Owner: h.Owner.Key(), WorkspaceID: h.WorkspaceID}
}
