// Package playground serves the Go Playground compatible API (compile, fmt,
// vet, share and snippets) and workspace share links: immutable snapshots of
// a workspace's files that anyone with the link may read and fork.
//
// Programs are built and run through package sandbox with a fixed
// environment (CGO_ENABLED=0, GOTOOLCHAIN=local, GOPROXY=off, module mode),
// a per-run temporary directory, no network, a wall-clock limit, an output
// cap and a memory limit (RLIMIT_DATA via prlimit when available, plus
// GOMEMLIMIT), under a global and per-client concurrency limit with a
// bounded queue.
//
// It imports sandbox, workspace and store. cmd/ideserver builds the
// [Service]; server calls it from its HTTP handlers. It knows nothing of
// HTTP routing or authentication.
package playground
