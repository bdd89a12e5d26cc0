// Package buildcache is the shared, read-only Go build cache of sandboxed
// builds: a directory in the go command's disk layout that only a prebuild
// writes, as an internal owner ([Cache.Prebuild]), and the cache program of
// gocacheprog/ (built by [BuildProgram]) that serves it to the go command
// through GOCACHEPROG while it keeps what a build adds in a directory of
// the caller's own ([Cache.Setup]).
//
// Two caches use it: the playground's (its runs build with -trimpath and
// without cgo, and keep nothing) and the workspaces' (users' gopls, dlv and
// terminals, which write into their own GOCACHE). Each is filled with the
// environment and flags its builds use, so that the keys match; nothing a
// tenant builds can reach the shared directory, which sandboxes see
// read-only and which belongs to the prebuild's own uid.
//
// It imports sandbox (for binds) and nothing else of ours. playground and
// workspace use it; cmd/ideserver builds the program and starts the
// prebuilds.
package buildcache
