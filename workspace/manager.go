package workspace

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
)

// Workspace lifecycle states, as stored and as the API shows them.
const (
	StateActive    = "active"
	StateSuspended = "suspended"
)

// Errors of the lifecycle layer; file errors are in errors.go.
var (
	ErrInvalidName = errors.New("invalid workspace name")
	ErrQuota       = errors.New("workspace quota reached")
	ErrTemplate    = errors.New("unknown template")
)

// Owner identifies who a workspace belongs to. Every Manager method takes
// the caller's Owner and answers ErrNotFound for another owner's workspace,
// so a caller cannot tell "exists but not yours" from "does not exist".
type Owner struct {
	Tenant string
	User   string
}

// StopFunc stops whatever a feature runs for a workspace (terminals, gopls,
// dlv). It is called on suspend, delete and Close, and must return only when
// the workspace's processes of that feature are gone.
type StopFunc func(ctx context.Context, workspaceID string) error

// ManagerOptions configures a Manager.
type ManagerOptions struct {
	Store *store.DB // required
	// Dir holds one directory per workspace, named by its id (required).
	Dir   string
	Files FilesOptions
	// Watchers, when set, is stopped for a workspace on suspend and delete.
	Watchers *Watchers
	// TenantsDir holds one directory per tenant, and in it one per user
	// (HOME, Go caches); see HomeDirs. Required for ProcessEnv.
	TenantsDir string
	// Go is passed to every user's process by ProcessEnv.
	Go GoEnv
	// Identity maps an owner key (see Owner.Key) to the host uid its
	// processes run as (e.g. store.DB.OwnerUID over the configured
	// range). It must be stable and distinct per owner: the user, not
	// the tenant, is the isolation boundary. When set, everything the
	// Manager creates for a user belongs to that uid and gid: its HOME
	// (HomeDirs), its workspaces' directories and every entry written
	// through Files; trees from before (another owner) are given to it
	// once. Dir and TenantsDir are then made 0711 (traversable by the
	// users' uids, not listable). nil, or a negative uid, means the
	// server's own uid owns everything and no ownership is changed. Its
	// answers are cached; an error is not.
	Identity func(owner string) (uid int, err error)
	// Runner starts the processes of a Handle (Handle.Start); its
	// isolation decides the Handle's process paths. nil: Handle.Start
	// fails, and process paths are host paths.
	Runner *sandbox.Runner
	// ToolBinds are binds every process started through a Handle gets
	// under bubblewrap after the workspace's own (the published gopls and
	// dlv, read-only), and View's and InternalBinds' answers end with;
	// their hosts must exist then.
	ToolBinds []sandbox.Bind
	// Redact are host directories besides the user's own that must never
	// reach a client (the data directory): a Handle's Paths replaces them
	// in text with "…".
	Redact []string
	// BuildCache is the users' shared, read-only build cache; nil means
	// none (each user's builds start from their own GOCACHE alone).
	BuildCache *BuildCache
	// MaxPerUser caps how many workspaces one user may own; 0 means 100.
	MaxPerUser int
	Logger     *slog.Logger // nil: discard
}

// Manager owns workspaces' records and directories: creation from files or
// a template, listing, rename, suspend/resume, delete, and rooted file
// access. It is safe for concurrent use.
type Manager struct {
	opts   ManagerOptions
	logger *slog.Logger

	mu    sync.Mutex
	open  map[string]*openFiles // workspace id → shared rooted access
	stops []StopFunc
	locks map[string]*sync.Mutex // see keyLock
	uids  map[string]int         // owner key → cached Identity answer
}

type openFiles struct {
	files *Files
	refs  int
}

// NewManager returns a Manager. It creates opts.Dir, and opts.TenantsDir
// when set, if needed: 0700, or 0711 with opts.Identity (an existing one is
// then chmodded to 0711).
func NewManager(opts ManagerOptions) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("workspace: ManagerOptions.Store is required")
	}
	if opts.Dir == "" {
		return nil, errors.New("workspace: ManagerOptions.Dir is required")
	}
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = 100
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		opts:   opts,
		logger: logger,
		open:   make(map[string]*openFiles),
		locks:  make(map[string]*sync.Mutex),
		uids:   make(map[string]int),
	}
	for _, d := range []struct{ what, dir string }{{"workspaces", opts.Dir}, {"tenants", opts.TenantsDir}} {
		if d.dir == "" {
			continue
		}
		if err := os.MkdirAll(d.dir, m.dataDirMode()); err != nil {
			return nil, fmt.Errorf("create %s directory: %w", d.what, err)
		}
		if opts.Identity != nil {
			if err := os.Chmod(d.dir, m.dataDirMode()); err != nil {
				return nil, fmt.Errorf("chmod %s directory: %w", d.what, err)
			}
		}
	}
	return m, nil
}

// dataDirMode is the mode of Dir and TenantsDir: tenants' uids must
// traverse them to reach their own directories, never list them.
func (m *Manager) dataDirMode() os.FileMode {
	if m.opts.Identity != nil {
		return 0o711
	}
	return 0o700
}

// OnStop registers f to run when a workspace is suspended or deleted. Later
// features (terminals, language server, debugger) register here. Call it
// before serving; it is not safe concurrently with Suspend or Delete.
func (m *Manager) OnStop(f StopFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stops = append(m.stops, f)
}

// Dir returns the host directory of workspace id. It is for process
// starters (sandbox callers) only and must never reach a client.
func (m *Manager) Dir(id string) string {
	return filepath.Join(m.opts.Dir, id)
}

// CreateOptions describes a new workspace.
type CreateOptions struct {
	Name     string
	Files    map[string]string // path → content; paths checked with CleanPath
	Template string            // "" or "hello"
}

// Create makes a workspace for owner with its initial files. On any error
// nothing is left behind: neither record nor directory.
func (m *Manager) Create(ctx context.Context, owner Owner, opts CreateOptions) (store.Workspace, error) {
	name, err := checkName(opts.Name)
	if err != nil {
		return store.Workspace{}, err
	}
	files, err := initialFiles(opts)
	if err != nil {
		return store.Workspace{}, err
	}
	existing, err := m.opts.Store.ListWorkspaces(owner.Tenant, owner.User)
	if err != nil {
		return store.Workspace{}, fmt.Errorf("list workspaces: %w", err)
	}
	if len(existing) >= m.opts.MaxPerUser {
		return store.Workspace{}, fmt.Errorf("%w: at most %d workspaces per user", ErrQuota, m.opts.MaxPerUser)
	}
	uid, err := m.ownerUID(owner.Key())
	if err != nil {
		return store.Workspace{}, err
	}
	id := newID()
	dir := m.Dir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return store.Workspace{}, fmt.Errorf("create workspace directory: %w", err)
	}
	if uid != noOwner {
		if err := os.Lchown(dir, uid, uid); err != nil {
			_ = os.RemoveAll(dir)
			return store.Workspace{}, fmt.Errorf("chown workspace directory: %w", err)
		}
	}
	if err := writeInitialFiles(dir, files, m.opts.Files, uid); err != nil {
		_ = os.RemoveAll(dir)
		return store.Workspace{}, err
	}
	now := time.Now().UTC()
	w := store.Workspace{
		ID:        id,
		TenantID:  owner.Tenant,
		UserID:    owner.User,
		Name:      name,
		State:     StateActive,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := m.opts.Store.CreateWorkspace(w); err != nil {
		_ = os.RemoveAll(dir)
		return store.Workspace{}, fmt.Errorf("store workspace: %w", err)
	}
	m.logger.Info("workspace created", "tenant_id", owner.Tenant, "workspace_id", id)
	return w, nil
}

// writeInitialFiles writes files in sorted order, so errors are
// deterministic; new entries belong to uid (unless noOwner).
func writeInitialFiles(dir string, files map[string]string, opts FilesOptions, uid int) error {
	f, err := openOwnedFiles(dir, opts, uid)
	if err != nil {
		return fmt.Errorf("open workspace files: %w", err)
	}
	defer f.Close()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if _, err := f.WriteFile(p, strings.NewReader(files[p]), ""); err != nil {
			return err
		}
	}
	return nil
}

// Get returns owner's workspace id.
func (m *Manager) Get(owner Owner, id string) (store.Workspace, error) {
	w, err := m.opts.Store.GetWorkspace(id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !owns(owner, w)) {
		return store.Workspace{}, fmt.Errorf("%w: workspace %q", ErrNotFound, id)
	}
	if err != nil {
		return store.Workspace{}, fmt.Errorf("get workspace: %w", err)
	}
	return w, nil
}

func owns(o Owner, w store.Workspace) bool {
	return w.TenantID == o.Tenant && w.UserID == o.User
}

// List returns owner's workspaces, oldest first.
func (m *Manager) List(owner Owner) ([]store.Workspace, error) {
	ws, err := m.opts.Store.ListWorkspaces(owner.Tenant, owner.User)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return ws, nil
}

// Rename changes a workspace's display name.
func (m *Manager) Rename(owner Owner, id, name string) (store.Workspace, error) {
	name, err := checkName(name)
	if err != nil {
		return store.Workspace{}, err
	}
	return m.update(owner, id, func(w *store.Workspace) { w.Name = name })
}

// update applies fn to owner's workspace id in one store transaction.
func (m *Manager) update(owner Owner, id string, fn func(*store.Workspace)) (store.Workspace, error) {
	w, err := m.opts.Store.UpdateWorkspace(id, func(w *store.Workspace) error {
		if !owns(owner, *w) {
			return store.ErrNotFound
		}
		fn(w)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Workspace{}, fmt.Errorf("%w: workspace %q", ErrNotFound, id)
	}
	if err != nil {
		return store.Workspace{}, fmt.Errorf("update workspace: %w", err)
	}
	return w, nil
}

// Suspend stops the workspace's processes and marks it suspended. Files and
// state are kept. Suspending a suspended workspace is a no-op.
func (m *Manager) Suspend(ctx context.Context, owner Owner, id string) (store.Workspace, error) {
	unlock := m.lock(id)
	defer unlock()
	if _, err := m.Get(owner, id); err != nil {
		return store.Workspace{}, err
	}
	if err := m.stop(ctx, id); err != nil {
		return store.Workspace{}, err
	}
	return m.update(owner, id, func(w *store.Workspace) { w.State = StateSuspended })
}

// Resume marks a workspace active. Processes start again on use.
func (m *Manager) Resume(owner Owner, id string) (store.Workspace, error) {
	unlock := m.lock(id)
	defer unlock()
	return m.resume(owner, id)
}

func (m *Manager) resume(owner Owner, id string) (store.Workspace, error) {
	w, err := m.Get(owner, id)
	if err != nil || w.State == StateActive {
		return w, err
	}
	return m.update(owner, id, func(w *store.Workspace) { w.State = StateActive })
}

// Use returns owner's workspace id, resuming it when suspended: docs/api.md says
// using a suspended workspace resumes it. Features call it before serving.
func (m *Manager) Use(owner Owner, id string) (store.Workspace, error) {
	w, err := m.Get(owner, id)
	if err != nil || w.State == StateActive {
		return w, err
	}
	return m.Resume(owner, id)
}

// Delete stops the workspace's processes, removes its files, then its
// records. A crash part-way leaves at worst a record whose directory is
// gone, which a second Delete completes.
func (m *Manager) Delete(ctx context.Context, owner Owner, id string) error {
	unlock := m.lock(id)
	defer unlock()
	if _, err := m.Get(owner, id); err != nil {
		return err
	}
	if err := m.stop(ctx, id); err != nil {
		return err
	}
	m.closeFiles(id)
	if err := os.RemoveAll(m.Dir(id)); err != nil {
		return fmt.Errorf("remove workspace files: %w", err)
	}
	if err := m.opts.Store.DeleteWorkspace(id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete workspace record: %w", err)
	}
	m.mu.Lock()
	delete(m.locks, "lifecycle/"+id)
	delete(m.locks, "own/workspace/"+id)
	m.mu.Unlock()
	m.logger.Info("workspace deleted", "tenant_id", owner.Tenant, "workspace_id", id)
	return nil
}

// stop runs every registered StopFunc and ends watches of id.
func (m *Manager) stop(ctx context.Context, id string) error {
	m.mu.Lock()
	stops := append([]StopFunc(nil), m.stops...)
	m.mu.Unlock()
	var errs []error
	for _, f := range stops {
		if err := f(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	if m.opts.Watchers != nil {
		m.opts.Watchers.Stop(id)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop workspace processes: %w", err)
	}
	return nil
}

// lock serialises lifecycle changes (suspend, resume, delete) of one
// workspace and returns the unlock function.
func (m *Manager) lock(id string) func() { return m.keyLock("lifecycle/" + id) }

// keyLock locks the mutex of key, made on first use, and returns the unlock
// function. Keys are "lifecycle/<workspace>" (lock) and "own/<tree>"
// (ownLock); Delete drops a workspace's.
func (m *Manager) keyLock(key string) func() {
	m.mu.Lock()
	l, ok := m.locks[key]
	if !ok {
		l = new(sync.Mutex)
		m.locks[key] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// WithFiles resumes owner's workspace id if needed and calls fn with rooted
// access to its files. Concurrent callers share one Files, so its
// serialisation of conditional writes holds across requests. With
// ManagerOptions.Identity, entries created through f belong to the owner's
// uid, and a workspace directory owned by another uid is first given to it
// (with everything in it, once). fn must not keep f after it returns.
func (m *Manager) WithFiles(owner Owner, id string, fn func(f *Files) error) error {
	if _, err := m.Use(owner, id); err != nil {
		return err
	}
	f, err := m.acquire(owner.Key(), id)
	if err != nil {
		return err
	}
	defer m.release(id)
	return fn(f)
}

// acquire returns the shared Files of owner's workspace id, opening it
// (after adopting the directory for the owner's uid) when none is open.
func (m *Manager) acquire(owner, id string) (*Files, error) {
	m.mu.Lock()
	if o, ok := m.open[id]; ok {
		o.refs++
		m.mu.Unlock()
		return o.files, nil
	}
	m.mu.Unlock()
	uid, err := m.ownerUID(owner)
	if err != nil {
		return nil, err
	}
	if err := m.adoptWorkspace(owner, id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.open[id]; ok { // opened meanwhile
		o.refs++
		return o.files, nil
	}
	f, err := openOwnedFiles(m.Dir(id), m.opts.Files, uid)
	if err != nil {
		return nil, fmt.Errorf("open workspace files: %w", err)
	}
	m.open[id] = &openFiles{files: f, refs: 1}
	return f, nil
}

func (m *Manager) release(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.open[id]
	if !ok {
		return
	}
	if o.refs--; o.refs == 0 {
		delete(m.open, id)
		_ = o.files.Close()
	}
}

// closeFiles forgets the shared Files of id; users still holding it finish
// their call on the (now unlinked) directory.
func (m *Manager) closeFiles(id string) {
	m.mu.Lock()
	delete(m.open, id)
	m.mu.Unlock()
}

// State returns owner's workspace UI state, or nil when none was saved.
func (m *Manager) State(owner Owner, id string) ([]byte, error) {
	if _, err := m.Get(owner, id); err != nil {
		return nil, err
	}
	return m.opts.Store.GetWorkspaceState(id)
}

// SetState stores owner's workspace UI state. The caller bounds its size.
func (m *Manager) SetState(owner Owner, id string, state []byte) error {
	if _, err := m.Get(owner, id); err != nil {
		return err
	}
	return m.opts.Store.PutWorkspaceState(id, state)
}

// Close runs every StopFunc for every workspace that may have processes
// and releases open files. The Manager is unusable afterwards.
func (m *Manager) Close(ctx context.Context) error {
	all, err := m.opts.Store.ListAllWorkspaces()
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	var errs []error
	for _, w := range all {
		if err := m.stop(ctx, w.ID); err != nil {
			errs = append(errs, err)
		}
	}
	m.mu.Lock()
	for id, o := range m.open {
		_ = o.files.Close()
		delete(m.open, id)
	}
	m.mu.Unlock()
	return errors.Join(errs...)
}

// RemoveOrphanDirs deletes workspace directories that have no record (left
// by a crash during Create or Delete). Called once at start.
func (m *Manager) RemoveOrphanDirs() (int, error) {
	all, err := m.opts.Store.ListAllWorkspaces()
	if err != nil {
		return 0, fmt.Errorf("list workspaces: %w", err)
	}
	known := make(map[string]bool, len(all))
	for _, w := range all {
		known[w.ID] = true
	}
	entries, err := os.ReadDir(m.opts.Dir)
	if err != nil {
		return 0, fmt.Errorf("read workspaces directory: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.Type()&fs.ModeType == fs.ModeDir && !known[e.Name()] {
			if err := os.RemoveAll(filepath.Join(m.opts.Dir, e.Name())); err != nil {
				return n, fmt.Errorf("remove orphan workspace directory: %w", err)
			}
			n++
		}
	}
	return n, nil
}

const maxNameLen = 100

// checkName trims and validates a display name; empty becomes "untitled".
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "untitled", nil
	}
	if len(name) > maxNameLen || !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: at most %d bytes of UTF-8", ErrInvalidName, maxNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || isBidiControl(r) {
			return "", fmt.Errorf("%w: no control characters", ErrInvalidName)
		}
	}
	return name, nil
}

func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f
}

// newID returns 130 random bits as 26 lowercase base32 characters.
func newID() string {
	var b [17]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:26]
}
