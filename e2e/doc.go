// Package e2e holds ideserver's end-to-end tests and nothing else. The tests
// (package e2e_test) build the real binary from cmd/ideserver once, start
// it as a child process on a temporary data directory, and drive it over
// HTTP and WebSocket the way a browser or a script would: through the
// public API only, importing none of ideserver's packages.
//
// Nothing may import this package.
package e2e
