package dap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// errOutside is returned for a client path outside every client root.
var errOutside = errors.New("dap: path outside the workspace")

// Client roots every session shows.
const (
	workspaceRoot  = "/workspace"
	gorootRoot     = "/goroot"
	gomodcacheRoot = "/gomodcache"
)

// pathRoot maps a directory as the client sees it to a host directory.
type pathRoot struct {
	Client string // absolute slash path, e.g. "/workspace"
	Host   string // absolute host directory
	// Hidden roots are rewritten towards the client only: a client path
	// under Client is refused. Use them for directories whose paths may show
	// up in messages (build directories, the server's data) but that a
	// client must not name.
	Hidden bool
}

// pathMap rewrites paths between client paths and host (or process)
// paths. It is immutable and safe for concurrent use.
type pathMap struct {
	roots []pathRoot // in the order given; ToHost uses the non-hidden ones
	pairs []hostMap  // host prefix (and symlink-resolved aliases) → client, longest host first
}

type hostMap struct {
	host, client string
}

// newPathMap returns a map of roots. Host directories are cleaned and made
// absolute; their symlink-resolved forms are rewritten too. A root of "/"
// or a relative client root is an error.
func newPathMap(roots []pathRoot) (*pathMap, error) {
	m := &pathMap{}
	for _, r := range roots {
		if !path.IsAbs(r.Client) || path.Clean(r.Client) != r.Client || r.Client == "/" {
			return nil, fmt.Errorf("dap: client root %q must be a clean absolute path", r.Client)
		}
		host, err := filepath.Abs(r.Host)
		if err != nil || r.Host == "" {
			return nil, fmt.Errorf("dap: host root for %s: %v", r.Client, err)
		}
		if host == string(filepath.Separator) {
			return nil, fmt.Errorf("dap: host root for %s is the file system root", r.Client)
		}
		r.Host = host
		m.roots = append(m.roots, r)
		m.pairs = append(m.pairs, hostMap{host, r.Client})
		// The server's own symlinks only (serverRealPath): an alias
		// that depended on where a tenant's link points would tell
		// whether that host path exists (SBX-12).
		if real, ok := serverRealPath(host); ok && real != host && real != "/" {
			m.pairs = append(m.pairs, hostMap{real, r.Client})
		}
	}
	slices.SortStableFunc(m.pairs, func(a, b hostMap) int { return len(b.host) - len(a.host) })
	return m, nil
}

// ToHost maps a client path to a host path: an absolute path under a
// non-hidden root, or a relative path (taken relative to the first root,
// the workspace). It returns the host path and the client root it is
// under, or an error wrapping errOutside. It does not resolve symlinks.
func (m *pathMap) ToHost(p string) (host, root string, err error) {
	if p == "" || strings.ContainsAny(p, "\x00\\") || strings.HasPrefix(p, "file:") {
		return "", "", fmt.Errorf("%w: %q", errOutside, p)
	}
	clean := path.Clean(p)
	if !path.IsAbs(clean) {
		if len(m.roots) == 0 || (clean != "." && !filepath.IsLocal(clean)) {
			return "", "", fmt.Errorf("%w: %q", errOutside, p)
		}
		clean = path.Join(m.roots[0].Client, clean)
	}
	for _, r := range m.roots {
		if r.Hidden {
			continue
		}
		if rel, ok := under(clean, r.Client); ok {
			return filepath.Join(r.Host, filepath.FromSlash(rel)), r.Client, nil
		}
	}
	return "", "", fmt.Errorf("%w: %q", errOutside, p)
}

// hostOf returns the host directory of the client root named client, or
// "".
func (m *pathMap) hostOf(client string) string {
	for _, r := range m.roots {
		if r.Client == client {
			return r.Host
		}
	}
	return ""
}

// under reports whether p is root or below it, and the rest.
func under(p, root string) (string, bool) {
	if p == root {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return rest, true
	}
	return "", false
}

// ToClient replaces every host root in s that is a whole path prefix
// (starting at the beginning of s, after a byte that cannot be part of a
// path, or after "file://", and ending at the end of s or before '/' or
// another byte that cannot continue a file name) with its client root. The rest of that path
// is copied unchanged; text between paths is copied unchanged.
func (m *pathMap) ToClient(s string) string {
	var b strings.Builder
	i, copied := 0, 0
	for i < len(s) {
		at, which := -1, -1
		for j, p := range m.pairs {
			k := indexAtBoundary(s, i, p.host)
			if k >= 0 && (at < 0 || k < at) {
				at, which = k, j // pairs are longest first, so ties keep the longest
			}
		}
		if at < 0 {
			break
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[copied:at])
		b.WriteString(m.pairs[which].client)
		i = at + len(m.pairs[which].host)
		for i < len(s) && (nameByte(s[i]) || s[i] == '/') {
			i++ // the rest of this path is inside the root
		}
		b.WriteString(s[at+len(m.pairs[which].host) : i])
		copied = i
	}
	if copied == 0 {
		return s
	}
	b.WriteString(s[copied:])
	return b.String()
}

// indexAtBoundary returns the first index at or after from of host in s
// that starts a path (at from's token start, after a byte that cannot be
// part of a path, or after "file://") and ends at a boundary, or -1.
func indexAtBoundary(s string, from int, host string) int {
	off := from
	for {
		k := strings.Index(s[off:], host)
		if k < 0 {
			return -1
		}
		start := off + k
		end := start + len(host)
		startOK := start == 0 || !(nameByte(s[start-1]) || s[start-1] == '/') ||
			strings.EqualFold(s[max(0, start-len("file://")):start], "file://") // a file URI's path
		if startOK && (end == len(s) || !nameByte(s[end])) {
			return start
		}
		off = start + 1
	}
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '~' || c == '+' || c == '@' || c >= 0x80
}

// underClientRoot reports whether a client path lies under one of the roots.
func (m *pathMap) underClientRoot(p string) bool {
	for _, r := range m.roots {
		if _, ok := under(path.Clean(p), r.Client); ok {
			return true
		}
	}
	return false
}

// MessageToClient rewrites one DAP message (JSON) from dlv for the client:
// host paths in every string value are replaced, and a "path" value that
// is still an absolute path outside the client roots (a system library,
// say) is emptied. Keys are left alone. The result is compact JSON with
// HTML-significant characters escaped.
func (m *pathMap) MessageToClient(msg []byte) ([]byte, error) {
	v, err := decodeJSON(msg)
	if err != nil {
		return nil, err
	}
	v = m.walkToClient(v, "")
	return encodeJSON(v)
}

func (m *pathMap) walkToClient(v any, key string) any {
	switch x := v.(type) {
	case string:
		s := m.ToClient(x)
		if key == "path" && path.IsAbs(s) && !m.underClientRoot(s) {
			return ""
		}
		return s
	case map[string]any:
		for k, e := range x {
			x[k] = m.walkToClient(e, k)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = m.walkToClient(e, key)
		}
		return x
	}
	return v
}

// rewriteToHost rewrites a decoded client value in place. isSource says v
// is a DAP Source (the value of a "source" key, or an element of
// "sources"): its "path" must map to a host path, else errOutside. Any
// other string that is a clean client path under a root is mapped to the
// host; everything else is left alone.
func (m *pathMap) rewriteToHost(v any, isSource bool) (any, error) {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "/") && path.Clean(x) == x {
			if h, _, err := m.ToHost(x); err == nil {
				return h, nil
			}
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			if isSource && k == "path" {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%w: source path is not a string", errOutside)
				}
				h, _, err := m.ToHost(s)
				if err != nil {
					return nil, err
				}
				x[k] = h
				continue
			}
			nv, err := m.rewriteToHost(e, k == "source" || k == "sources")
			if err != nil {
				return nil, err
			}
			x[k] = nv
		}
		return x, nil
	case []any:
		for i, e := range x {
			nv, err := m.rewriteToHost(e, isSource)
			if err != nil {
				return nil, err
			}
			x[i] = nv
		}
		return x, nil
	}
	return v, nil
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	if d.More() {
		return nil, errors.New("decode message: trailing data")
	}
	return v, nil
}

func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return b, nil
}
