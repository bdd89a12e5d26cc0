package sandbox

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
