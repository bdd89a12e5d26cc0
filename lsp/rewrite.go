package lsp

import (
	"bytes"
	"maps"
	"strings"
	"sync"

	"github.com/ideserver/ideserver/workspace"
)

// rewriter rewrites decoded messages between client paths and gopls's
// process paths. It is safe for concurrent use once built.
type rewriter struct {
	paths *workspace.Paths // client URIs to gopls's
	text  *textRewriter
	// rawSafe: every host form starts with a slash and holds no character
	// that JSON escapes, so host directories can be replaced in raw JSON
	// text (a slash cannot start a number or a literal, and a host form
	// cannot span a quote or a backslash).
	rawSafe bool

	urisMu sync.Mutex
	uris   map[string]string // processURI's: client URI to gopls's
}

// newRewriter builds a rewriter for roots.
func newRewriter(roots Roots) *rewriter {
	r := roots
	paths, err := r.paths()
	if err != nil {
		// A directory that is not clean and absolute, or "/" (never a
		// Handle's): no client URI is mapped at all.
		paths, _ = workspace.NewPaths(workspace.PathsConfig{})
	}
	rw := &rewriter{paths: paths, text: newTextRewriter(&r), rawSafe: true}
	for _, n := range rw.text.needles {
		if !strings.HasPrefix(n, "/") {
			rw.rawSafe = false
		}
		if strings.ContainsFunc(n, func(c rune) bool {
			return c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029 || c == 0x7f
		}) {
			rw.rawSafe = false
		}
	}
	return rw
}

// uriKey reports whether an object key names a URI field (uri, rootUri,
// targetUri, scopeUri, newUri, oldUri, baseUri, ...).
func uriKey(key string) bool {
	return strings.HasSuffix(strings.ToLower(key), "uri")
}

// textKey names fields holding document text, which is never a URI.
func textKey(key string) bool { return key == "text" || key == "newText" }

func hasScheme(s string, scheme string) bool {
	return len(s) > len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) && s[len(scheme)] == ':'
}

// ToHost rewrites v (a decoded JSON value, changed in place where possible)
// from client paths to gopls's process paths: every string under a URI key, every
// other string that starts with "file:" (but document text), and every
// object key with a colon (WorkspaceEdit.changes) must be a client URI
// inside the roots. The first that is not gives an error wrapping
// ErrOutsideRoots.
func (rw *rewriter) ToHost(v any) (any, error) { return rw.toHost(v, "") }

func (rw *rewriter) toHost(v any, key string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		var renamed map[string]any // added after the loop, which could visit them again
		for k, val := range x {
			nv, err := rw.toHost(val, k)
			if err != nil {
				return nil, err
			}
			if strings.Contains(k, ":") {
				nk, err := rw.paths.ToProcessURI(k)
				if err != nil {
					return nil, err
				}
				delete(x, k)
				if renamed == nil {
					renamed = make(map[string]any)
				}
				renamed[nk] = nv
				continue
			}
			x[k] = nv
		}
		maps.Copy(x, renamed)
		return x, nil
	case []any:
		for i, e := range x {
			ne, err := rw.toHost(e, key)
			if err != nil {
				return nil, err
			}
			x[i] = ne
		}
		return x, nil
	case string:
		if uriKey(key) || (!textKey(key) && hasScheme(x, "file")) {
			return rw.paths.ToProcessURI(x)
		}
		return x, nil
	}
	return v, nil
}

// ToClient rewrites every string and object key of v (changed in place
// where possible) so that no host directory of the roots appears: URIs and
// paths in the roots become their client form, redacted directories become
// "…".
func (rw *rewriter) ToClient(v any) any {
	switch x := v.(type) {
	case map[string]any:
		var renamed map[string]any // added after the loop, which could visit them again
		for k, val := range x {
			nv := rw.ToClient(val)
			if nk := rw.text.rewrite(k); nk != k {
				delete(x, k)
				if renamed == nil {
					renamed = make(map[string]any)
				}
				renamed[nk] = nv
				continue
			}
			x[k] = nv
		}
		maps.Copy(x, renamed)
		return x
	case []any:
		for i, e := range x {
			x[i] = rw.ToClient(e)
		}
		return x
	case string:
		return rw.text.rewrite(x)
	}
	return v
}

// mayNeedClientRewrite reports whether raw bytes could hold a host
// directory: they contain one literally, or JSON escapes that could spell
// one.
func (rw *rewriter) mayNeedClientRewrite(raw []byte) bool {
	return rw.text.containsBytes(raw) || bytes.Contains(raw, []byte(`\/`)) || bytes.Contains(raw, []byte(`\u`))
}

// inClientRoots reports whether a client URI names a file in the client's
// roots; workspaceOnly restricts it to /workspace.
func inClientRoots(u string, workspaceOnly bool) bool {
	prefixes := []string{"file://" + ClientWorkspace}
	if !workspaceOnly {
		prefixes = append(prefixes, "file://"+ClientGoRoot, "file://"+ClientGoModCache)
	}
	for _, p := range prefixes {
		if u == p || strings.HasPrefix(u, p+"/") {
			return true
		}
	}
	return false
}

// allURIs reports whether every URI-keyed string and colon key in v passes ok.
func allURIs(v any, key string, ok func(string) bool) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if strings.Contains(k, ":") && !ok(k) {
				return false
			}
			if !allURIs(val, k, ok) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !allURIs(e, key, ok) {
				return false
			}
		}
	case string:
		if uriKey(key) || (!textKey(key) && strings.Contains(x, "://")) {
			return ok(x)
		}
	}
	return true
}
