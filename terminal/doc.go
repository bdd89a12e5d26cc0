// Package terminal runs workspaces' terminals: shells (or an explicit
// command) on pseudo-terminals, started through package sandbox, with a
// scrollback ring, any number of attached clients, resize, idle timeout and
// limits.
//
// A terminal ([Terminal]) outlives its clients; each client connection to
// it is an attachment. The [Manager] keeps its terminals in a
// bridge.Registry, which counts them per workspace and tenant, stops a
// workspace's terminals and all of them at shutdown. One goroutine per
// terminal reads the PTY and appends to a ring of at least 256 KiB with
// absolute offsets; it never writes to a client. It reads a non-blocking
// duplicate of the PTY master, so while it waits it is parked in the
// runtime's poller and holds no OS thread. Each attachment
// ([Terminal.Attach]) has its own writer with its own cursor into the
// ring, so a slow or stalled client never blocks the shell or other
// clients: a client that falls a whole ring behind is told (a
// {"type":"overrun"} control message) and resumes at the oldest retained
// byte. A writer that wakes sends everything pending as one message,
// copied from the ring straight into the WebSocket's write buffer
// (bridge.Conn.WriteFrom): a lone echo goes out at once, output that piled
// up while the client was written to goes out together. Attaching replays
// the ring and subscribes under one lock: no gap, no duplicate.
//
// The package is a bridge: it knows nothing of HTTP, routing or
// authentication. Its clients are WebSockets (bridge.Conn) that package
// server upgraded; Attach returns how each must close (a
// bridge.CloseError). Each call names its workspace by a
// workspace.Handle, the caller's checked access (workspace.Manager.Open):
// the handle starts the terminal's process (Handle.Start, with the user's
// environment, Handle.Env) and its Key keeps owners and workspaces apart. It imports
// packages sandbox, workspace and internal/bridge, and is imported by
// server, dap (the debugger's integrated terminal) and cmd/ideserver.
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
