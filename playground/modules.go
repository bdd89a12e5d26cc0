package playground

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/ideserver/ideserver/modcache"
	"github.com/ideserver/ideserver/sandbox"
)

// msgModuleTimeout starts the message of a run whose modules took too long.
const msgModuleTimeout = "timeout fetching modules"

// Modules resolves the third-party modules a program imports into the
// server's shared, read-only module cache, and gives the build a GOPROXY
// reading that cache alone (*modcache.Fetcher). The program never gets a
// network: only the server's fetcher downloads, with checksums verified.
type Modules interface {
	Resolve(ctx context.Context, gomod []byte, imports []string, lim modcache.Limits) (modcache.Resolved, error)
	Offline(isolated bool) (goproxy string, binds []sandbox.Bind, ok bool)
}

// resolveModules completes fs's go.mod and adds its go.sum when the
// program imports packages outside the standard library and its own
// module, or its go.mod requires modules. It returns ok true when the
// build needs the shared module cache (modEnv), and a user-facing message
// ("" when none) when the modules cannot be had; err is the server's
// failure.
func (s *Service) resolveModules(ctx context.Context, fs *FileSet) (ok bool, msg string, err error) {
	gomod := fs.Data("go.mod")
	if !fs.Contains("go.mod") {
		gomod = []byte(defaultGoMod(s.opts.GoVersion))
	}
	mf, perr := modfile.Parse("go.mod", gomod, nil)
	if perr != nil {
		return false, "", nil // the build reports it
	}
	imports := thirdPartyImports(fs, modulePath(mf))
	if len(imports) == 0 && len(mf.Require) == 0 {
		return false, "", nil
	}
	if s.opts.Modules == nil {
		return false, "", nil // GOPROXY=off: the build says what is missing
	}
	key := resolutionKey(gomod, imports)
	if r, ok := s.resolved.get(key, s.opts.Now()); ok {
		useResolved(fs, r)
		return true, "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ModuleTimeout)
	defer cancel()
	r, err := s.opts.Modules.Resolve(ctx, gomod, imports, s.opts.ModuleLimits)
	switch {
	case err == nil:
	case errors.Is(err, modcache.ErrClosed):
		return false, "", ErrClosed
	case ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return false, "", ctx.Err()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, modcache.ErrTimeout):
		return false, fmt.Sprintf("%s: they took longer than %v", msgModuleTimeout, s.opts.ModuleTimeout), nil
	default:
		return false, "cannot use modules: " + strings.TrimPrefix(modError(err), "modcache: "), nil
	}
	s.resolved.put(key, r, s.opts.Now())
	useResolved(fs, r)
	return true, "", nil
}

// useResolved puts r's go.mod and go.sum into fs, in place of the
// program's own.
func useResolved(fs *FileSet, r modcache.Resolved) {
	fs.Add("go.mod", r.GoMod)
	if len(r.GoSum) > 0 {
		fs.Add("go.sum", r.GoSum)
	}
}

// resolutionKey identifies a resolution: the go.mod and the imports.
func resolutionKey(gomod []byte, imports []string) string {
	h := sha256.New()
	h.Write(gomod)
	for _, p := range imports {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return string(h.Sum(nil))
}

// resolutions remembers recent resolutions, so that running the same
// program again (or another with the same go.mod and imports) resolves
// nothing: at most maxResolutions, each for resolutionTTL (a newer
// "latest" is seen after that). Safe for concurrent use.
type resolutions struct {
	mu    sync.Mutex
	byKey map[string]resolution
	order []string // keys, oldest first
}

type resolution struct {
	r  modcache.Resolved
	at time.Time
}

const (
	maxResolutions = 128
	resolutionTTL  = 10 * time.Minute
)

func (c *resolutions) get(key string, now time.Time) (modcache.Resolved, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok || now.Sub(e.at) > resolutionTTL {
		return modcache.Resolved{}, false
	}
	return e.r, true
}

func (c *resolutions) put(key string, r modcache.Resolved, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]resolution{}
	}
	if _, ok := c.byKey[key]; !ok {
		c.order = append(c.order, key)
	}
	c.byKey[key] = resolution{r: r, at: now}
	for len(c.order) > maxResolutions {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
}

// defaultGoMod is the go.mod of a body without one.
func defaultGoMod(goVersion string) string { return "module play\n\ngo " + goVersion + "\n" }

// modEnv is env (a build's) reading the shared module cache alone, and
// the binds that needs.
func (s *Service) modEnv(env []string) ([]string, []sandbox.Bind) {
	goproxy, binds, ok := s.opts.Modules.Offline(s.isolated())
	if !ok {
		return env, nil
	}
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "GOPROXY=") })
	return append(out, "GOPROXY="+goproxy), binds
}

// modError is err's message as a user reads it.
func modError(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{modcache.ErrNotFound, modcache.ErrTooMany, modcache.ErrReplace, modcache.ErrChecksum, modcache.ErrPrivate, modcache.ErrFull, modcache.ErrInvalid} {
		msg = strings.ReplaceAll(msg, sentinel.Error()+": ", "")
	}
	return msg
}

// modulePath is the program's module path ("play" without a module line).
func modulePath(mf *modfile.File) string {
	if mf.Module != nil {
		return mf.Module.Mod.Path
	}
	return "play"
}

// thirdPartyImports returns the import paths of fs's Go files that are
// neither the standard library's (goimports' rule: no dot in the first
// element) nor in module main, sorted.
func thirdPartyImports(fs *FileSet, main string) []string {
	var out []string
	for _, name := range fs.Names() {
		if path.Ext(name) != ".go" {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, fs.Data(name), parser.ImportsOnly)
		if err != nil {
			continue // the build reports it
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil || isStdPath(p) || p == main || strings.HasPrefix(p, main+"/") || p == "C" {
				continue
			}
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
