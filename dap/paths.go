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

	"github.com/ideserver/ideserver/workspace"
)

// debugDir is how a client sees a session's directory (the binary dlv
// builds) named: in dlv's output only, never as a path it may use.
const debugDir = "/tmp/debug"

// sessionPaths is a session's mapping between client paths and dlv's
// process paths: the workspace.Paths of its Handle with the session's own
// directories (newSessionPaths), applied to DAP messages. It is immutable
// and safe for concurrent use.
type sessionPaths struct {
	paths *workspace.Paths
	shown []string // client roots and alias names: a message's "path" elsewhere is emptied
}

// newSessionPaths returns the paths of a session whose Handle's Paths are
// configured by base. It adds the session's directory, dir on the host
// and dirProc as dlv sees it, as an alias shown as debugDir; and the
// symlink-resolved forms (serverRealPath: the server's own links only) of
// the host directories of hosts (each a root's host directory and its
// client root), of dir and of the redacted directories of base (the
// user's directories, the data directory): dlv runs in the resolved
// workspace directory and names what it builds there by that path.
func newSessionPaths(base workspace.PathsConfig, dir, dirProc string, hosts []workspace.Alias) (*sessionPaths, error) {
	c := workspace.PathsConfig{Roots: base.Roots, Aliases: slices.Clip(base.Aliases), Redact: slices.Clip(base.Redact)}
	// resolved is the resolved form of the host directory d when it
	// differs.
	resolved := func(d string) (string, bool) {
		real, ok := serverRealPath(d)
		return filepath.ToSlash(real), ok && real != d && real != "/"
	}
	dir = absSlash(dir)
	c.Aliases = append(c.Aliases, workspace.Alias{Dir: dir, Client: debugDir})
	if dirProc != dir {
		c.Aliases = append(c.Aliases, workspace.Alias{Dir: dirProc, Client: debugDir})
	}
	for _, a := range append(slices.Clip(hosts), workspace.Alias{Dir: dir, Client: debugDir}) {
		if real, ok := resolved(absSlash(a.Dir)); ok {
			c.Aliases = append(c.Aliases, workspace.Alias{Dir: real, Client: a.Client})
		}
	}
	for _, d := range base.Redact {
		if real, ok := resolved(absSlash(d)); ok && !slices.Contains(c.Redact, real) {
			c.Redact = append(c.Redact, real)
		}
	}
	p, err := workspace.NewPaths(c)
	if err != nil {
		return nil, fmt.Errorf("dap: %w", err)
	}
	s := &sessionPaths{paths: p}
	for _, r := range c.Roots {
		s.shown = append(s.shown, r.Client)
	}
	for _, a := range c.Aliases {
		s.shown = append(s.shown, a.Client)
	}
	return s, nil
}

// absSlash is the host path p absolute, clean and with slashes ("" stays
// "").
func absSlash(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return filepath.ToSlash(p)
}

// under reports whether the clean slash path p is root or below it, and
// the rest ("." for root itself).
func under(p, root string) (string, bool) {
	if p == root {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return rest, true
	}
	return "", false
}

// cleanClientPath returns the client path p of a DAP message as a clean
// absolute path: DAP clients send paths like "a/../b.go" and "." (taken
// relative to /workspace). ok is false for "", a file URI, NUL,
// backslashes and a relative path that leaves the workspace. The result
// may still lie outside every root.
func cleanClientPath(p string) (string, bool) {
	if p == "" || strings.ContainsAny(p, "\x00\\") || strings.HasPrefix(p, "file:") {
		return "", false
	}
	clean := path.Clean(p)
	if !path.IsAbs(clean) {
		if clean != "." && !filepath.IsLocal(clean) {
			return "", false
		}
		clean = path.Join(workspace.ClientWorkspace, clean)
	}
	return clean, true
}

// toProcess maps a client path of a DAP message (cleanClientPath) to
// dlv's process path through workspace.Paths.ToProcess, or fails with an
// error wrapping workspace.ErrOutsideRoots.
func (s *sessionPaths) toProcess(p string) (string, error) {
	clean, ok := cleanClientPath(p)
	if !ok {
		return "", fmt.Errorf("%w: %q", workspace.ErrOutsideRoots, p)
	}
	return s.paths.ToProcess(clean)
}

// isShown reports whether the absolute client path p lies in a client root
// or below an alias's name.
func (s *sessionPaths) isShown(p string) bool {
	p = path.Clean(p)
	for _, c := range s.shown {
		if _, ok := under(p, c); ok {
			return true
		}
	}
	return false
}

// messageToClient rewrites one DAP message (JSON) from dlv for the client:
// paths in every string value are replaced (workspace.Paths.ReplaceInText),
// and a "path" value that is still an absolute path outside the client
// roots and aliases (a system library, say) is emptied. Keys are left
// alone. The result is compact JSON with HTML-significant characters
// escaped.
func (s *sessionPaths) messageToClient(msg []byte) ([]byte, error) {
	v, err := decodeJSON(msg)
	if err != nil {
		return nil, err
	}
	return encodeJSON(s.walkToClient(v, ""))
}

func (s *sessionPaths) walkToClient(v any, key string) any {
	switch x := v.(type) {
	case string:
		out := s.paths.ReplaceInText(x)
		if key == "path" && path.IsAbs(out) && !s.isShown(out) {
			return ""
		}
		return out
	case map[string]any:
		for k, e := range x {
			x[k] = s.walkToClient(e, k)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = s.walkToClient(e, key)
		}
		return x
	}
	return v
}

// rewriteToProcess rewrites a decoded client value in place. isSource
// says v is a DAP Source (the value of a "source" key, or an element of
// "sources"): its "path" must map to a process path (toProcess), else an
// error wrapping workspace.ErrOutsideRoots. Any other string that is a
// clean absolute client path in a root is mapped; everything else is left
// alone.
func (s *sessionPaths) rewriteToProcess(v any, isSource bool) (any, error) {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "/") && path.Clean(x) == x {
			if proc, err := s.paths.ToProcess(x); err == nil {
				return proc, nil
			}
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			if isSource && k == "path" {
				str, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%w: source path is not a string", workspace.ErrOutsideRoots)
				}
				proc, err := s.toProcess(str)
				if err != nil {
					return nil, err
				}
				x[k] = proc
				continue
			}
			nv, err := s.rewriteToProcess(e, k == "source" || k == "sources")
			if err != nil {
				return nil, err
			}
			x[k] = nv
		}
		return x, nil
	case []any:
		for i, e := range x {
			nv, err := s.rewriteToProcess(e, isSource)
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
