package workspace

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/ideserver/ideserver/modcache"
)

// GoEnv is the Go tooling configuration every user's process gets.
type GoEnv struct {
	// Root is GOROOT, the host's Go installation (its bin/ goes first on
	// PATH). Required for processes that run go.
	Root    string
	Proxy   string // GOPROXY
	SumDB   string // GOSUMDB; "": the go command's default
	Private string // GOPRIVATE
	NoSumDB string // GONOSUMDB
	Flags   string // GOFLAGS
	// ModuleCache is the users' shared, read-only module cache, filled by
	// the server's own fetcher (as ModuleCacheOwner); nil means none.
	// Processes started through a Handle read it first (GOPROXY, see
	// Handle.Env), and opening a workspace queues the versions its go.sum
	// lists. The Manager does not close it.
	ModuleCache *modcache.Fetcher
}

// stripPath returns the bare system error of a *fs.PathError (whose Path
// may be a host path), or err.
func stripPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ProcessEnv returns the complete environment for a process of owner (a
// user's owner key, see [Owner.Key]): its own HOME and Go caches (see
// [Manager.HomeDirs]), the configured Go settings, a fixed PATH with the Go
// toolchain first, a UTF-8 locale and telemetry off. extra entries
// ("KEY=value") are appended and win over earlier ones of the same key.
// Nothing of the server's own environment is included. The server's
// internal identities have no HOME: for them it is an error (the playground
// builds its own environment).
func (m *Manager) ProcessEnv(owner string, extra ...string) ([]string, error) {
	d, err := m.HomeDirs(owner)
	if err != nil {
		return nil, err
	}
	o, _ := ParseOwnerKey(owner) // valid: HomeDirs checked it
	return m.processEnv(o, d, extra), nil
}

// processEnv is ProcessEnv for user o, whose directories d are prepared.
func (m *Manager) processEnv(o Owner, d HomeDirs, extra []string) []string {
	g := m.opts.Go
	path := "/usr/local/bin:/usr/bin:/bin"
	if g.Root != "" {
		path = filepath.Join(g.Root, "bin") + ":" + path
	}
	env := []string{
		"HOME=" + d.Home,
		"PATH=" + path,
		"LANG=C.UTF-8",
		"USER=" + o.User,
		"GOPATH=" + d.GoPath,
		"GOMODCACHE=" + d.GoModCache,
		"GOCACHE=" + d.GoCache,
		"GOTOOLCHAIN=local",
		"GOTELEMETRY=off",
		"GO_TELEMETRY_CHILD=2",
	}
	if g.Root != "" {
		env = append(env, "GOROOT="+g.Root)
	}
	for _, kv := range [][2]string{{"GOPROXY", g.Proxy}, {"GOSUMDB", g.SumDB}, {"GOPRIVATE", g.Private}, {"GONOSUMDB", g.NoSumDB}, {"GOFLAGS", g.Flags}} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return dedupEnv(append(env, extra...))
}

// dedupEnv keeps the last entry of each key, in first-seen order.
func dedupEnv(env []string) []string {
	last := make(map[string]int, len(env))
	for i, kv := range env {
		last[envKey(kv)] = i
	}
	out := make([]string, 0, len(last))
	for i, kv := range env {
		if last[envKey(kv)] == i {
			out = append(out, kv)
		}
	}
	return out
}

func envKey(kv string) string {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i]
		}
	}
	return kv
}
