// Package auth holds ideserver's credential logic as pure functions and
// small concurrency-safe types: opaque secrets (API tokens, browser
// logins, tickets) and their hashes, server-generated identifiers,
// tenant/user id validation, portal JWT verification, single-use WebSocket
// tickets, and the Origin/Host policy for WebSocket upgrades and CSRF.
//
// It performs no I/O, knows nothing of HTTP routing or storage, and imports
// only the standard library and github.com/golang-jwt/jwt/v5. The server
// package (and cmd/ideserver for token issuing) may import it; the protocol
// bridges (lsp, dap, terminal) must not.
//
// Every check fails closed: an empty, malformed or unexpected input is
// refused, and no configuration can make a check allow everything
// (principles 1 and 2 of docs/security.md). Secrets are stored and looked
// up only by their SHA-256 hash (principle 9). A browser's login still
// says "session" in its external names (the "ses" of [PrefixLogin], the
// cookie and /auth/session); docs/design.md keeps "session" for what a
// bridge runs.
package auth
