package lsp

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/workspace"
)

// ErrOutsideRoots is wrapped by errors for client URIs that are not inside
// file:///workspace, file:///goroot or file:///gomodcache.
var ErrOutsideRoots = errors.New("uri outside the workspace roots")

// Client-side roots: what the browser sees instead of host directories.
const (
	ClientWorkspace  = "/workspace"
	ClientGoRoot     = "/goroot"
	ClientGoModCache = "/gomodcache"
)

// Roots maps the client's view to the tool's: the directories as gopls
// sees them, which are the host directories when it runs directly and the
// sandbox's paths (/workspace, /goroot, /home/user/go/pkg/mod, see
// sandbox.Runner.ViewPath) under bubblewrap. "Host" below means that view.
// The directories are absolute and clean; GoRoot and GoModCache may be
// empty (then the client roots of the same name are refused).
type Roots struct {
	Workspace  string // the workspace directory as gopls sees it
	GoRoot     string // GOROOT as gopls sees it
	GoModCache string // the user's GOMODCACHE as gopls sees it (inside HOME)
	// Redact are further directories that must never reach a client (the
	// data directory, the user's HOME and caches, in the host's and the
	// tool's view); they are replaced in text by "…".
	Redact []string
}

// rootPair is one client prefix with its host directory.
type rootPair struct{ client, host string }

func (r *Roots) pairs() []rootPair {
	var ps []rootPair
	for _, p := range []rootPair{
		{ClientWorkspace, r.Workspace},
		{ClientGoRoot, r.GoRoot},
		{ClientGoModCache, r.GoModCache},
	} {
		if p.host != "" {
			ps = append(ps, rootPair{p.client, filepath.ToSlash(filepath.Clean(p.host))})
		}
	}
	// Longest host first: nested roots map to the innermost.
	sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].host) > len(ps[j].host) })
	return ps
}

// fileURI is the canonical file URI of an absolute slash path. It is
// built here rather than with uri.File (go.lsp.dev/uri), which makes the
// path absolute against the server's working directory and expands a
// leading "$GOROOT".
func fileURI(p string) protocol.DocumentURI {
	return protocol.DocumentURI((&url.URL{Scheme: "file", Path: p}).String())
}

// ToHostURI maps a client URI (file:///workspace/main.go) to the host URI
// gopls uses. It refuses, with an error wrapping ErrOutsideRoots, anything
// but a plain file URI without host, query or fragment whose path is one of
// the client roots or a path below one that workspace.CleanPath accepts:
// "..", "%2e%2e", "%00", "file://host/", "untitled:" and other schemes all
// fail. The error quotes only the client's input. ToHostURI is pure.
func (r *Roots) ToHostURI(clientURI string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s: %q", ErrOutsideRoots, why, shorten(clientURI))
	}
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
	for _, p := range []rootPair{
		{ClientWorkspace, r.Workspace},
		{ClientGoRoot, r.GoRoot},
		{ClientGoModCache, r.GoModCache},
	} {
		rest, ok := strings.CutPrefix(u.Path, p.client)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		if p.host == "" {
			return "", bad("root not available")
		}
		rest = strings.TrimPrefix(rest, "/")
		if rest != "" {
			if _, err := workspace.CleanPath(rest); err != nil {
				return "", bad("invalid path")
			}
		}
		host := filepath.ToSlash(filepath.Clean(p.host))
		if rest != "" {
			host += "/" + rest
		}
		return string(fileURI(host)), nil
	}
	return "", bad("outside /workspace, /goroot and /gomodcache")
}

// ToClientURI maps a host file URI inside one of the roots to the client's
// view; ok is false for any other URI. For a canonical host URI h (as
// fileURI makes) of a path that CleanPath accepts below a root,
// ToHostURI(ToClientURI(h)) == h.
func (r *Roots) ToClientURI(hostURI string) (client string, ok bool) {
	u, err := url.Parse(hostURI)
	if err != nil || u.Scheme != "file" || u.Host != "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	for _, p := range r.pairs() {
		rest, found := strings.CutPrefix(u.Path, p.host)
		if !found || (rest != "" && rest[0] != '/') {
			continue
		}
		return string(fileURI(p.client + rest)), true
	}
	return "", false
}

// shorten keeps error messages small.
func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// textRewriter replaces host directories in any text (URIs, hover markdown,
// error messages) with the client's view. It is built once per session.
type textRewriter struct {
	needles []string // host forms, for the fast path
	r       *strings.Replacer
}

func newTextRewriter(r *Roots) *textRewriter {
	var args []string
	type pair struct{ from, to string }
	var ps []pair
	for _, p := range r.pairs() {
		ps = append(ps, pair{p.host, p.client})
		if esc := escapedPath(p.host); esc != p.host {
			ps = append(ps, pair{esc, p.client})
		}
	}
	for _, d := range r.Redact {
		if d == "" {
			continue
		}
		d = filepath.ToSlash(filepath.Clean(d))
		ps = append(ps, pair{d, "…"})
		if esc := escapedPath(d); esc != d {
			ps = append(ps, pair{esc, "…"})
		}
	}
	// Longest first, so that at one position the innermost directory wins.
	sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].from) > len(ps[j].from) })
	t := &textRewriter{}
	for _, p := range ps {
		if p.from == "/" || p.from == "." {
			continue // never rewrite every slash
		}
		args = append(args, p.from, p.to)
		t.needles = append(t.needles, p.from)
	}
	t.r = strings.NewReplacer(args...)
	return t
}

// escapedPath is p as it appears in a file URI.
func escapedPath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// rewrite replaces every host directory in s.
func (t *textRewriter) rewrite(s string) string {
	if !t.contains(s) {
		return s
	}
	// Replacing can splice text into a new occurrence; repeat until stable
	// (each round shortens the text).
	for i := 0; i < 8 && t.contains(s); i++ {
		s = t.r.Replace(s)
	}
	return s
}

func (t *textRewriter) contains(s string) bool {
	for _, n := range t.needles {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}
