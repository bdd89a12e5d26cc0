// Package store persists ideserver's state — tenants, users, API token
// hashes, browser logins ([Login], the record behind a sign-in cookie),
// workspace records with their UI state, shares, snippets and each owner's
// host uid — in a single bbolt file.
//
// It imports nothing of ours. cmd/ideserver opens the one *DB for a data
// directory and hands it to server/, workspace/, playground/ and the CLI
// subcommands; no other package opens the file. Every exported method of *DB is exactly one
// bbolt transaction, so each call is atomic and durable (bbolt fsyncs on
// commit) when it returns nil. A *DB is safe for concurrent use: bbolt runs
// read transactions in parallel and serializes writers.
//
// The store does not validate identifier syntax (callers do: tenant and user ids follow docs/api.md); it
// only refuses empty ids. Per-tenant records live in nested buckets, never in
// concatenated keys, so no id — whatever bytes it contains — can reach
// another tenant's keys.
package store
