// Package bridge is the kernel the three bridges (lsp, dap and terminal)
// share: what carrying one client's messages to a process and back needs
// whatever the protocol.
//
//   - [Conn] is one WebSocket with the server's rules: one writer at a
//     time, write deadlines, and a close code with a reason, where the
//     first close wins.
//   - [CloseError] is how a bridge says how its WebSocket must close;
//     [CloseCode] maps any bridge result to a close frame.
//   - [Registry] keeps a bridge's running sessions: limits per workspace,
//     tenant and owner, lookup by owner and workspace, stopping a
//     workspace's sessions, and an orderly shutdown.
//   - [ReadFrame], [FrameReader] and [WriteFrame] are the Content-Length
//     framing of the LSP and DAP base protocols, with limits checked before
//     anything is allocated.
//   - [Wait] and [WaitClosed] bound a wait by a context.
//
// The sentinel errors ([ErrLimit], [ErrNotFound], [ErrClosed],
// [ErrUnavailable]) are wrapped by every bridge, so the HTTP layer maps
// each to one answer.
//
// The package imports none of ideserver's packages; lsp, dap, terminal
// and server import it.
package bridge
