package lsp

import (
	"bytes"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/workspace"
)

// ErrOutsideRoots is wrapped by errors for client URIs that are not inside
// file:///workspace, file:///goroot or file:///gomodcache
// (workspace.ErrOutsideRoots).
var ErrOutsideRoots = workspace.ErrOutsideRoots

// Client-side roots: what the browser sees instead of host directories.
const (
	ClientWorkspace  = workspace.ClientWorkspace
	ClientGoRoot     = workspace.ClientGoRoot
	ClientGoModCache = workspace.ClientGoModCache
)

// Roots maps client paths to gopls's process paths: the directories as gopls
// sees them (their process paths, from the workspace.Handle's Paths),
// which are the host directories when it runs directly and the sandbox's
// paths (/workspace, /goroot, /home/user/go/pkg/mod) under bubblewrap.
// "Host" below means those process paths. The directories are absolute and clean;
// GoRoot and GoModCache may be empty (then the client roots of the same
// name are refused). URIs are mapped by a workspace.Paths over the roots
// (paths); text by textRewriter, which replaces a host directory wherever
// it occurs (not only at a path boundary, as workspace.Paths.ReplaceInText
// does) and so lets a message from gopls be rewritten as raw JSON.
type Roots struct {
	Workspace  string // the workspace directory as gopls sees it
	GoRoot     string // GOROOT as gopls sees it
	GoModCache string // the user's GOMODCACHE as gopls sees it (inside HOME)
	// Redact are further directories that must never reach a client (the
	// data directory, the user's HOME and caches, as host paths and as
	// process paths); they are replaced in text by "…".
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
	return protocol.DocumentURI(workspace.FileURI(p))
}

// paths is the workspace.Paths of r for URIs: the three client roots
// mapped to r's directories both ways (a root whose directory is empty is
// refused). Text is rewritten by textRewriter, which also redacts.
func (r *Roots) paths() (*workspace.Paths, error) {
	dir := func(d string) string {
		if d == "" {
			return ""
		}
		return filepath.ToSlash(filepath.Clean(d))
	}
	return workspace.NewPaths(workspace.PathsConfig{Roots: []workspace.Root{
		{Client: ClientWorkspace, Process: dir(r.Workspace)},
		{Client: ClientGoRoot, Process: dir(r.GoRoot), ReadOnly: true},
		{Client: ClientGoModCache, Process: dir(r.GoModCache), ReadOnly: true},
	}})
}

// textRewriter replaces host directories in any text (URIs, hover markdown,
// error messages) with client paths. It is built once per session.
type textRewriter struct {
	needles []string // host forms, for the fast path
	r       *strings.Replacer
	// lead is the first byte of every needle (a slash: they are absolute
	// directories), 0 when they do not share one; runes are the
	// characters of the needles.
	lead  byte
	runes map[rune]bool
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
	t.runes = make(map[rune]bool)
	for i, n := range t.needles {
		if i == 0 {
			t.lead = n[0]
		} else if n[0] != t.lead {
			t.lead = 0
		}
		for _, c := range n {
			t.runes[c] = true
		}
	}
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

// containsBytes is contains for raw bytes, in one pass when the needles
// share their first byte.
func (t *textRewriter) containsBytes(b []byte) bool {
	if t.lead == 0 {
		for _, n := range t.needles {
			if bytes.Contains(b, []byte(n)) {
				return true
			}
		}
		return false
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], t.lead)
		if j < 0 {
			return false
		}
		i += j
		for _, n := range t.needles {
			if len(b)-i >= len(n) && string(b[i:i+len(n)]) == n {
				return true
			}
		}
		i++
	}
}

// inNeedle reports whether c is a character of a needle.
func (t *textRewriter) inNeedle(c rune) bool { return t.runes[c] }

func (t *textRewriter) contains(s string) bool {
	for _, n := range t.needles {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}
