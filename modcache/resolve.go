package modcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/ideserver/ideserver/sandbox"
)

// Errors of Resolve besides Fetch's.
var (
	// ErrNotFound: no module provides an import, or a required version
	// does not exist.
	ErrNotFound = errors.New("modcache: module not found")
	// ErrTooMany: the program needs more modules, or bytes of them, than
	// the caller's limits allow.
	ErrTooMany = errors.New("modcache: too many modules")
	// ErrReplace: the go.mod replaces a module by a directory.
	ErrReplace = errors.New("modcache: replace by a directory")
)

// Limits bound what one Resolve may bring into the shared cache.
type Limits struct {
	Modules int   // module versions in the build list; 0 means 20
	Bytes   int64 // their zips' bytes in all; 0 means 100 MiB
}

// Resolved is what Resolve found: the go.mod and go.sum to build with, and
// the module versions they need, all in the shared cache.
type Resolved struct {
	GoMod, GoSum []byte
	Versions     []module.Version
}

// Resolve finds and fetches the modules a program needs, the way the Go
// Playground does: in a run directory of its own, with the network, the go
// command completes gomod (the program's go.mod) for imports (the
// program's import paths outside the standard library and its own module)
// with `go mod tidy -e` on a file of blank imports only (none of the
// program's code is read), so an import no requirement provides gets the
// latest version of the module that provides it, with its checksums
// verified against the checksum database. Every version of the resulting
// build list is then fetched into the shared cache (Fetch), so the program
// builds offline from it (GOPROXY=file://…, Setup). A replace by a
// directory is refused (ErrReplace). Errors name the module and wrap
// ErrNotFound, ErrTooMany, ErrReplace or Fetch's.
func (f *Fetcher) Resolve(ctx context.Context, gomod []byte, imports []string, lim Limits) (_ Resolved, err error) {
	defer func() { err = f.hidePaths(err) }() // a playground client reads it
	if lim.Modules <= 0 {
		lim.Modules = 20
	}
	if lim.Bytes <= 0 {
		lim.Bytes = 100 << 20
	}
	mf, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return Resolved{}, fmt.Errorf("go.mod: %w", err)
	}
	for _, r := range mf.Replace {
		if r.New.Version == "" {
			return Resolved{}, fmt.Errorf("%w: %s => %s: only a module version may replace a module here", ErrReplace, r.Old.Path, r.New.Path)
		}
	}
	mainPath := "play"
	if mf.Module != nil {
		mainPath = mf.Module.Mod.Path
	}
	run, err := f.newRun()
	if err != nil {
		return Resolved{}, err
	}
	defer sandbox.RemoveAll(run)
	var src strings.Builder
	src.WriteString("package resolve\n\nimport (\n")
	for _, p := range imports {
		if err := module.CheckImportPath(p); err != nil {
			return Resolved{}, fmt.Errorf("%w: import %q: %v", ErrNotFound, p, err)
		}
		fmt.Fprintf(&src, "\t_ %s\n", strconv.Quote(p))
	}
	src.WriteString(")\n")
	if err := f.writeRunFiles(run, map[string][]byte{"go.mod": gomod, "resolve.go": []byte(src.String())}); err != nil {
		return Resolved{}, err
	}
	stderr := &sandbox.Output{Max: 64 << 10}
	if err := f.goRun(ctx, run, &sandbox.Output{Max: 64 << 10}, stderr, "mod", "tidy", "-e"); err != nil {
		return Resolved{}, err
	}
	if msg := tidyError(stderr.String(), run); msg != "" {
		if strings.Contains(msg, "SECURITY ERROR") || strings.Contains(msg, "checksum mismatch") {
			return Resolved{}, fmt.Errorf("%w: %s", ErrChecksum, msg)
		}
		return Resolved{}, fmt.Errorf("%w: %s", ErrNotFound, msg)
	}
	stdout := &sandbox.Output{Max: 4 << 20}
	stderr = &sandbox.Output{Max: 64 << 10}
	if err := f.goRun(ctx, run, stdout, stderr, "list", "-m", "-json", "all"); err != nil {
		return Resolved{}, err
	}
	var out Resolved
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	for {
		var m struct {
			Path, Version string
			Main          bool
			Replace       *struct{ Path, Version string }
		}
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m.Main || m.Path == mainPath {
			continue
		}
		v := module.Version{Path: m.Path, Version: m.Version}
		if m.Replace != nil {
			v = module.Version{Path: m.Replace.Path, Version: m.Replace.Version}
		}
		out.Versions = append(out.Versions, v)
	}
	if len(out.Versions) > lim.Modules {
		return Resolved{}, fmt.Errorf("%w: the program needs %d modules; at most %d are allowed", ErrTooMany, len(out.Versions), lim.Modules)
	}
	if err := f.Fetch(ctx, out.Versions...); err != nil {
		return Resolved{}, err
	}
	var total int64
	for _, v := range out.Versions {
		names, _ := files(v)
		if fi, err := f.root.Stat(filepath.FromSlash(names[0])); err == nil {
			total += fi.Size()
		}
	}
	if total > lim.Bytes {
		return Resolved{}, fmt.Errorf("%w: the program's modules take %d MiB; at most %d MiB are allowed", ErrTooMany, total>>20, lim.Bytes>>20)
	}
	if out.GoMod, err = os.ReadFile(filepath.Join(run, "go.mod")); err != nil {
		return Resolved{}, fmt.Errorf("modcache: %w", stripPath(err))
	}
	if out.GoSum, err = os.ReadFile(filepath.Join(run, "go.sum")); err != nil && !os.IsNotExist(err) {
		return Resolved{}, fmt.Errorf("modcache: %w", stripPath(err))
	}
	slices.SortFunc(out.Versions, func(a, b module.Version) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// hostless is an error whose message has the fetcher's host directories
// taken out; errors.Is and errors.As still see what it wraps.
type hostless struct {
	msg string
	err error
}

func (e *hostless) Error() string { return e.msg }
func (e *hostless) Unwrap() error { return e.err }

// hidePaths returns err with the host paths of Options.TempDir (run
// directories, also other downloads') and Options.Dir replaced by "…".
func (f *Fetcher) hidePaths(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, dir := range []string{f.opts.TempDir, f.opts.Dir} {
		msg = strings.ReplaceAll(msg, filepath.Clean(dir), "…")
	}
	if msg == err.Error() {
		return err
	}
	return &hostless{msg: msg, err: err}
}

// writeRunFiles writes files into run, owned by Options.Owner.
func (f *Fetcher) writeRunFiles(run string, files map[string][]byte) error {
	uid, own, err := f.opts.Runner.OwnerUID(f.opts.Owner)
	if err != nil {
		return err
	}
	for name, data := range files {
		p := filepath.Join(run, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return fmt.Errorf("modcache: %w", stripPath(err))
		}
		if own {
			if err := os.Lchown(p, uid, uid); err != nil {
				return fmt.Errorf("modcache: %w", stripPath(err))
			}
		}
	}
	return nil
}

// tidyError is what `go mod tidy -e` reported as an error, but for its
// progress lines, without the run directory's path (run on the host,
// /modfetch in the sandbox); "" when there is none.
func tidyError(stderr, run string) string {
	var lines []string
	for l := range strings.SplitSeq(stderr, "\n") {
		l = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(l), run+"/", ""), "/modfetch/", "")
		l = strings.ReplaceAll(strings.ReplaceAll(l, run, "."), "/modfetch", ".")
		if l == "" || strings.HasPrefix(l, "go: finding") || strings.HasPrefix(l, "go: downloading") || strings.HasPrefix(l, "go: found") {
			continue
		}
		if i := strings.Index(l, "resolve.go:"); i >= 0 {
			l = l[i+len("resolve.go:"):]
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "; ")
}
