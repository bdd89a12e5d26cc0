package dap

import (
	"slices"
	"strings"
)

// sessionTarget is where a session's private directory (the socket dlv
// dials and the debug binary it builds) appears inside the sandbox under
// bubblewrap isolation. With IsolationNone dlv sees the host directory.
const sessionTarget = "/ideserver-dap"

// processPaths translates host paths into process paths, the paths dlv
// sees in its sandbox view: unchanged when dlv runs directly; under
// bubblewrap the session directory becomes sessionTarget, the workspace
// (also by its symlink-resolved path) its target in the view, and anything
// else what the session Handle's ProcessPath makes of it. It is immutable after
// newProcessPaths.
type processPaths struct {
	pairs    []hostMap           // host directory → process directory, longest host first
	fallback func(string) string // the session Handle's ProcessPath; nil: identity
}

// newProcessPaths returns the translation of dirs (host directory →
// process directory). isolated false gives the identity.
func newProcessPaths(isolated bool, dirs map[string]string, fallback func(string) string) *processPaths {
	v := &processPaths{}
	if !isolated {
		return v
	}
	v.fallback = fallback
	for host, proc := range dirs {
		v.pairs = append(v.pairs, hostMap{host: host, client: proc})
		if real, ok := serverRealPath(host); ok && real != host {
			v.pairs = append(v.pairs, hostMap{host: real, client: proc})
		}
	}
	slices.SortStableFunc(v.pairs, func(a, b hostMap) int {
		if d := len(b.host) - len(a.host); d != 0 {
			return d
		}
		return strings.Compare(a.host, b.host)
	})
	return v
}

// identity reports whether dlv sees host paths.
func (v *processPaths) identity() bool { return v.fallback == nil && len(v.pairs) == 0 }

// path returns the host path p as dlv sees it.
func (v *processPaths) path(p string) string {
	if v.identity() {
		return p
	}
	for _, m := range v.pairs {
		if rest, ok := under(p, m.host); ok {
			if rest == "." {
				return m.client
			}
			return m.client + "/" + rest
		}
	}
	if v.fallback != nil {
		return v.fallback(p)
	}
	return p
}

// processRoots returns roots with every Host a process path. Where that
// differs from the host path, the host path is kept as a hidden root of the
// same client path, so that a host path that still turns up in a message
// is rewritten too.
func (v *processPaths) processRoots(roots []pathRoot) []pathRoot {
	if v.identity() {
		return roots
	}
	out := make([]pathRoot, 0, 2*len(roots))
	var aliases []pathRoot
	for _, r := range roots {
		t := v.path(r.Host)
		if t == r.Host {
			out = append(out, r)
			continue
		}
		out = append(out, pathRoot{Client: r.Client, Host: t, Hidden: r.Hidden})
		aliases = append(aliases, pathRoot{Client: r.Client, Host: r.Host, Hidden: true})
	}
	return append(out, aliases...)
}
