// Package modcache is the users' shared, read-only Go module cache: a
// directory in the layout of GOMODCACHE's cache/download (the module
// proxy protocol's files: .info, .mod and .zip of each version) that only
// the server's own [Fetcher] fills, and that users' go commands read as
// the first entry of their GOPROXY ([Fetcher.Setup]), falling through to
// the configured proxy for anything it lacks.
//
// The Fetcher downloads module versions with the real go command
// (`go mod download -json`) as an internal owner of its own, in a sandbox
// with an outbound network, into a run directory of that owner, through
// the configured GOPROXY and with checksums verified by the go command
// against the configured checksum database (GOSUMDB, GONOSUMDB). Only
// when a version downloaded and verified does the server, not the
// sandbox, copy its files into the shared directory, checking the copies
// against the hashes the go command verified, each file written to a
// temporary name and renamed, so a reader finds a file whole or not at
// all. It never writes a version list (`@v/list`), so queries such as
// `@latest` always reach the real proxy. Modules that GOPRIVATE matches are
// refused: they stay in each user's own module cache.
//
// A checksum that does not match, a proxy that does not answer within the
// fetch timeout, or any other failure publish nothing; the run directory
// is removed and the sandbox ends everything the go command started.
//
// [Fetcher.Resolve] serves the playground: it finds the module versions a
// program's imports need (`go mod tidy` on its go.mod and a file of its
// import paths only, in the same kind of sandbox), fetches them, and
// returns the go.mod and go.sum its build uses offline ([Fetcher.Offline]:
// a GOPROXY of the shared cache alone).
//
// It imports sandbox (to run the go command and for binds) and nothing
// else of ours. workspace gives users' processes the shared directory, and
// playground its builds; cmd/ideserver wires the Fetcher.
package modcache
