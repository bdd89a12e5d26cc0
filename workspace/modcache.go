package workspace

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/sandbox"
)

// ModuleCacheOwner downloads module versions into the users' shared,
// read-only module cache (GoEnv.ModuleCache, package modcache). It is an
// internal identity: no tenant or user id can spell it.
const ModuleCacheOwner = "@module-cache"

// SandboxModuleCache is where a user's isolated processes see the shared
// module cache (read-only).
const SandboxModuleCache = modcache.Target

// Bounds of what a workspace's go.sum queues.
const (
	maxGoSum         = 4 << 20 // bytes of go.sum read
	maxGoSumVersions = 2000    // versions queued from one go.sum
)

// moduleCacheSetup returns the GOPROXY of the Manager's users' processes
// that reads the shared module cache first, and the bind it needs under
// isolation; ok is false without a shared module cache (or when GOPROXY
// is off).
func (m *Manager) moduleCacheSetup() (goproxy string, binds []sandbox.Bind, ok bool) {
	f := m.opts.Go.ModuleCache
	if f == nil {
		return "", nil, false
	}
	return f.Setup(m.isolated(), m.opts.Go.Proxy)
}

// queueModules queues for the shared module cache the public module
// versions that the go.sum at the root of workspace id lists (see
// modcache.Fetcher.Queue: those present, private or failed lately are
// skipped), when that go.sum changed since it last looked (its size and
// modification time). It is cheap when nothing changed: one open and one
// stat. The file is the tenant's: it is opened inside the workspace's
// root without following a link out and without waiting on a FIFO, and
// only a bounded part of it is read.
func (m *Manager) queueModules(id string) {
	f := m.opts.Go.ModuleCache
	if f == nil {
		return
	}
	root, err := os.OpenRoot(m.Dir(id))
	if err != nil {
		return
	}
	defer root.Close()
	file, err := root.OpenFile("go.sum", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	if !f.Changed(id, fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())) {
		return
	}
	data, err := io.ReadAll(io.LimitReader(file, maxGoSum))
	if err != nil {
		return
	}
	if n := f.Queue(modcache.GoSumVersions(data, maxGoSumVersions)...); n > 0 {
		m.logger.Debug("module versions queued for the shared module cache", "workspace", id, "count", n)
	}
}
