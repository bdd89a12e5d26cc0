package sandbox

import "slices"

// ViewPath returns the host path host as a process with binds sees it
// under [IsolationBwrap]: below the Host of one of binds it becomes the
// same relative path below that bind's Target (the bind with the longest
// Host wins); any other path is returned unchanged. Callers use it to
// speak to a tool in its own terms (file URIs for gopls, paths for dlv).
// It is pure; without isolation a process sees host paths, and callers do
// not translate.
func ViewPath(binds []Bind, host string) string {
	p, _ := sandboxPath(host, binds, nil)
	return p
}

// missingBinds returns the binds of view that binds lacks, as a new slice:
// a caller that gives its view's binds itself (workspace.Handle.Start)
// does not get them twice from [Options.View].
func missingBinds(view, binds []Bind) []Bind {
	out := make([]Bind, 0, len(view)+len(binds))
	for _, b := range view {
		if !slices.Contains(binds, b) {
			out = append(out, b)
		}
	}
	return out
}
