// Package playground serves the Go Playground compatible API (compile, fmt,
// vet, share and snippets) and workspace share links: immutable snapshots of
// a workspace's files that anyone with the link may read and fork.
//
// Programs are built and run through package sandbox as the internal owner
// [Owner] with a fixed environment (GOENV=off, GOFLAGS=-mod=mod -trimpath,
// CGO_ENABLED=0, GOTOOLCHAIN=local, GOPROXY=off), no network, a wall-clock
// limit, an output cap and a memory limit (RLIMIT_DATA via prlimit when
// available, plus GOMEMLIMIT), under a global and per-client concurrency
// limit with a bounded queue. Runs keep nothing: the program's files are in
// a run directory removed after it, and every build and program gets an
// empty HOME, TMPDIR, GOPATH and build cache in the sandbox's own /tmp.
// Builds share one read-only build cache ([Cache], a buildcache.Cache):
// [Service.PrepareCache] fills it as [CacheOwner], and buildcache's cache
// program serves it to the go command through GOCACHEPROG, keeping what a
// build adds in the run's own /tmp.
//
// It imports buildcache, sandbox, workspace and store. cmd/ideserver builds the
// [Service]; server calls it from its HTTP handlers. It knows nothing of
// HTTP routing or authentication.
package playground
