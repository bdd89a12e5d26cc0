package workspace

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Client roots: the directories as the browser sees them, whatever the
// process behind them sees (docs/design.md, glossary: client paths and
// process paths).
const (
	ClientWorkspace  = "/workspace"  // the workspace's files
	ClientGoRoot     = "/goroot"     // the standard library, read-only
	ClientGoModCache = "/gomodcache" // the user's module cache, read-only
)

// ErrOutsideRoots is wrapped by the errors of [Paths.ToProcess] and
// [Paths.ToProcessURI] for a client path or URI that is not one of the
// client roots or a canonical path below one.
var ErrOutsideRoots = errors.New("outside the workspace roots")

// Root is one client root and the directory behind it as a process sees
// it.
type Root struct {
	Client string // a clean absolute slash path other than "/", e.g. ClientWorkspace
	// Process is the directory as the process sees it (the sandbox view
	// under bubblewrap, the host directory without isolation): absolute
	// and clean. "" means the root is not available: client paths below
	// it are refused.
	Process  string
	ReadOnly bool // edits below it are refused (see Paths.ReadOnly)
}

// Alias is a further directory that can turn up in a process's text and
// is shown to the client as Client: the host form of a root whose process
// path differs (Client is then that root's), or a directory a client may
// see named but never use (a debugger's build directory, say). Aliases
// are rewritten towards the client only, at path boundaries.
type Alias struct {
	Dir    string // absolute and clean
	Client string // what the client sees instead: a clean absolute slash path
}

// PathsConfig describes a Paths.
type PathsConfig struct {
	Roots   []Root  // mapped both ways
	Aliases []Alias // mapped towards the client only
	// Redact are directories that must never reach a client in any form
	// (the data directory, a user's HOME): wherever one appears in text,
	// at a path boundary or not, it is replaced by "…".
	Redact []string
}

// Paths is the one mapping between client paths (what the browser sees:
// /workspace, /goroot, /gomodcache) and process paths (what a sandboxed
// process sees: the sandbox view under bubblewrap, host paths without
// isolation). Process paths and host paths never reach a client through
// it. It is immutable and safe for concurrent use; a Handle carries the
// Paths of its workspace.
type Paths struct {
	cfg     PathsConfig
	roots   []Root   // available roots, as given
	toCli   []prefix // process directory → client root, longest first (roots and root aliases)
	needles []needle // what ReplaceInText looks for, longest first
}

// prefix is one directory with the client path it maps to.
type prefix struct{ dir, client string }

// needle is one string ReplaceInText replaces.
type needle struct {
	from, to string
	anywhere bool // Redact: wherever it occurs; else only as a whole path at a boundary
}

// NewPaths checks c and returns its Paths. Client roots and alias names
// must be clean absolute slash paths other than "/"; directories absolute
// and clean, never "/".
func NewPaths(c PathsConfig) (*Paths, error) {
	c = PathsConfig{Roots: slices.Clone(c.Roots), Aliases: slices.Clone(c.Aliases), Redact: slices.Clone(c.Redact)}
	p := &Paths{cfg: c}
	clientRoot := make(map[string]bool)
	for _, r := range c.Roots {
		if !cleanAbs(r.Client) {
			return nil, fmt.Errorf("workspace paths: client root %q must be a clean absolute path other than /", r.Client)
		}
		if r.Process == "" {
			p.roots = append(p.roots, r) // refused, but known
			continue
		}
		if !cleanAbs(r.Process) {
			return nil, fmt.Errorf("workspace paths: the directory of %s must be clean, absolute and not /", r.Client)
		}
		p.roots = append(p.roots, r)
		clientRoot[r.Client] = true
		p.toCli = append(p.toCli, prefix{r.Process, r.Client})
		p.addNeedles(r.Process, r.Client, false)
	}
	for _, a := range c.Aliases {
		if !cleanAbs(a.Client) || !cleanAbs(a.Dir) {
			return nil, fmt.Errorf("workspace paths: alias %q must name a clean absolute directory other than /", a.Client)
		}
		if clientRoot[a.Client] {
			p.toCli = append(p.toCli, prefix{a.Dir, a.Client})
		}
		p.addNeedles(a.Dir, a.Client, false)
	}
	for _, d := range c.Redact {
		if d == "" {
			continue
		}
		if !cleanAbs(d) {
			return nil, errors.New("workspace paths: redacted directories must be clean, absolute and not /")
		}
		p.addNeedles(d, "…", true)
	}
	slices.SortStableFunc(p.toCli, func(a, b prefix) int { return len(b.dir) - len(a.dir) })
	// Longest first; at one length a named path before "…", so that at one
	// position the innermost directory wins and a root keeps its name.
	slices.SortStableFunc(p.needles, func(a, b needle) int {
		if d := len(b.from) - len(a.from); d != 0 {
			return d
		}
		switch {
		case a.anywhere == b.anywhere:
			return 0
		case b.anywhere:
			return -1
		}
		return 1
	})
	p.needles = slices.CompactFunc(p.needles, func(a, b needle) bool { return a.from == b.from })
	return p, nil
}

// addNeedles adds dir, and its form in a file URI when that differs.
func (p *Paths) addNeedles(dir, to string, anywhere bool) {
	p.needles = append(p.needles, needle{dir, to, anywhere})
	if esc := escapedPath(dir); esc != dir {
		p.needles = append(p.needles, needle{esc, to, anywhere})
	}
}

// cleanAbs reports whether p is a clean absolute slash path other than /.
func cleanAbs(p string) bool {
	return path.IsAbs(p) && path.Clean(p) == p && p != "/" && !strings.ContainsAny(p, "\x00\\")
}

// Config returns a copy of p's configuration, for a Paths of more
// aliases or redacted directories (a session adds its own).
func (p *Paths) Config() PathsConfig {
	return PathsConfig{Roots: slices.Clone(p.cfg.Roots), Aliases: slices.Clone(p.cfg.Aliases), Redact: slices.Clone(p.cfg.Redact)}
}

// Root returns the root a client path lies in (the root itself or below
// it, after path.Clean), available or not; ok is false outside every
// root.
func (p *Paths) Root(clientPath string) (r Root, ok bool) {
	if !path.IsAbs(clientPath) {
		return Root{}, false
	}
	c := path.Clean(clientPath)
	for _, r := range p.roots {
		if c == r.Client || strings.HasPrefix(c, r.Client+"/") {
			return r, true
		}
	}
	return Root{}, false
}

// ReadOnly reports whether a client path lies in a read-only root
// (/goroot, /gomodcache): the server refuses edits there.
func (p *Paths) ReadOnly(clientPath string) bool {
	r, ok := p.Root(clientPath)
	return ok && r.ReadOnly
}

// ToProcess maps a client path to the process path it names: a client
// root itself, or a path below one whose rest [CleanPath] accepts as it
// is (a trailing slash after the root itself is allowed). Anything else
// ("..", ".", "a//b", NUL, backslashes, control characters, relative
// paths, other directories) is an error wrapping ErrOutsideRoots that
// quotes only the client's input. It is pure.
func (p *Paths) ToProcess(clientPath string) (string, error) {
	proc, why := p.toProcess(clientPath)
	if why != "" {
		return "", outside(why, clientPath)
	}
	return proc, nil
}

// toProcess is ToProcess with the reason of a refusal.
func (p *Paths) toProcess(clientPath string) (proc, why string) {
	for _, r := range p.roots {
		rest, ok := strings.CutPrefix(clientPath, r.Client)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		if r.Process == "" {
			return "", "root not available"
		}
		rest = strings.TrimPrefix(rest, "/")
		if rest == "" {
			return r.Process, ""
		}
		if _, err := CleanPath(rest); err != nil {
			return "", "invalid path"
		}
		return r.Process + "/" + rest, ""
	}
	if strings.ContainsAny(clientPath, "\x00\\") {
		return "", "control character or backslash"
	}
	return "", "outside " + p.rootList()
}

// rootList names the client roots for an error message.
func (p *Paths) rootList() string {
	names := make([]string, len(p.roots))
	for i, r := range p.roots {
		names[i] = r.Client
	}
	switch len(names) {
	case 0:
		return "every root"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// outside is an ErrOutsideRoots error quoting the client's input.
func outside(why, input string) error {
	return fmt.Errorf("%w: %s: %q", ErrOutsideRoots, why, shorten(input))
}

// shorten keeps error messages small.
func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// ToProcessURI maps a client file URI (file:///workspace/main.go) to the
// process's file URI. It refuses, with an error wrapping ErrOutsideRoots,
// anything but a plain file URI without host, query or fragment whose path
// ToProcess accepts: "..", "%2e%2e", "%00", "file://host/", "untitled:" and
// other schemes all fail. The error quotes only the client's input. It is
// pure.
func (p *Paths) ToProcessURI(clientURI string) (string, error) {
	bad := func(why string) error { return outside(why, clientURI) }
	if strings.ContainsAny(clientURI, "\x00\\") || strings.Contains(strings.ToLower(clientURI), "%00") {
		return "", bad("control character")
	}
	u, err := url.Parse(clientURI)
	if err != nil {
		return "", bad("not a URI")
	}
	if u.Scheme != "file" || u.Opaque != "" || u.User != nil || u.Host != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(clientURI, "#") {
		return "", bad("not a file URI of this server")
	}
	proc, why := p.toProcess(u.Path)
	if why != "" {
		return "", bad(why)
	}
	return FileURI(proc), nil
}

// ToClient maps a process path inside a root (or a root's alias) to the
// client path; ok is false for any other path. For a process path q that
// ToProcess gave, ToProcess(ToClient(q)) == q.
func (p *Paths) ToClient(processPath string) (client string, ok bool) {
	for _, m := range p.toCli {
		rest, found := strings.CutPrefix(processPath, m.dir)
		if !found || (rest != "" && rest[0] != '/') {
			continue
		}
		return m.client + rest, true
	}
	return "", false
}

// ToClientURI maps a process file URI inside a root to the client's file
// URI; ok is false for any other URI.
func (p *Paths) ToClientURI(processURI string) (client string, ok bool) {
	u, err := url.Parse(processURI)
	if err != nil || u.Scheme != "file" || u.Host != "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	c, ok := p.ToClient(u.Path)
	if !ok {
		return "", false
	}
	return FileURI(c), true
}

// FileURI is the canonical file URI of an absolute slash path. (uri.File
// of go.lsp.dev/uri would make the path absolute against the server's
// working directory and expand a leading "$GOROOT".)
func FileURI(p string) string {
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// escapedPath is p as it appears in a file URI.
func escapedPath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}
