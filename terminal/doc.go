// Package terminal runs workspaces' terminals: shells (or an explicit
// command) on pseudo-terminals, started through package sandbox, with a
// scrollback ring, any number of attached clients, resize, idle timeout and
// limits.
//
// A terminal outlives its clients. One goroutine per terminal reads the PTY
// and appends to a ring of at least 256 KiB with absolute offsets; it never
// writes to a client. Each attachment ([Session.Attach]) has its own writer
// with its own cursor into the ring, so a slow or stalled client never blocks
// the shell or other clients: a client that falls a whole ring behind is told
// (a {"type":"overrun"} control message) and resumes at the oldest retained
// byte. Attaching replays the ring and subscribes under one lock: no gap, no
// duplicate.
//
// The package is a bridge: it knows nothing of HTTP, routing or
// authentication. Its clients are [Conn]s, message streams that the caller
// (cmd/ideserver's adapter for package server) makes from WebSockets. Tenant
// and workspace ids it is given have been checked by the caller; the
// package only keeps them apart. It imports package sandbox and may be
// imported by cmd/ideserver and tests only.
//
// # Attach protocol
//
// Binary messages carry raw terminal bytes in both directions. Text messages
// are JSON control messages: from the client {"type":"resize","cols":C,"rows":R};
// from the server {"type":"exit","code":N} when the process ended (the last
// message), {"type":"overrun"} when output was skipped, and
// {"type":"error","message":"..."} for a control message that was refused
// (the attachment goes on).
package terminal
