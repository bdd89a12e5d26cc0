// Package lsp runs gopls for workspaces and bridges the browser's LSP
// WebSocket to it.
//
// A Manager starts one gopls per LSP connection of a workspace.Handle (the
// one ownership check is the caller's, workspace.Manager.Open), through
// Handle.Start, in the workspace directory with the user's Go environment
// (Handle.Env) and no listeners or debug servers. Between the client and gopls it forwards one JSON-RPC
// message at a time, in order, rewriting URIs and paths in both directions
// between client paths (file:///workspace, file:///goroot,
// file:///gomodcache) and the directories as gopls sees them (Roots, from
// the Handle's Paths, whose URI mapping they use), refusing client URIs
// outside those roots with InvalidParams, sanitising initialize parameters
// and configuration replies, allowlisting workspace/executeCommand, and
// answering gopls's file-watch registration itself by feeding it the
// workspace's file events. When gopls dies, pending requests get an error,
// gopls is restarted with backoff, and initialize and every open document
// are replayed.
//
// The proxy speaks LSP itself only where it originates or inspects a
// message, and there it uses go.lsp.dev/protocol (v0.12.0, LSP 3.16): the
// fields of initialize it fixes, the watched-files registration it
// answers and the events it feeds, window/showMessage notices, its answers
// to workspace/applyEdit, method names and URIs. Everything else passes
// through as it came or as decoded JSON, so fields of newer LSP versions
// survive: a message comes out with every field and value it had, apart
// from rewritten URIs and paths. gopls's notifications and responses to
// ordinary requests, and the client's read-only requests (hover,
// completion, definition and the like), are not decoded: one scan checks
// the JSON and finds what the proxy needs, URIs and paths are replaced in
// the bytes, and a message with none is forwarded as it came; a message
// with anything that scan will not judge (escapes that could spell a path,
// keys equal but for case, a URI outside the roots) takes the decoding
// path. Other messages are re-encoded (key order and spacing may change,
// values do not).
//
// Edits into read-only roots are never offered. file:///goroot and
// file:///gomodcache can be browsed but not changed, and a WorkspaceEdit
// is applied as a whole (a rename applied only in /workspace would leave
// the code broken), so an edit that touches either is refused whole and
// the user is told why, in the place the request came from:
//   - a rename (or workspace/will{Create,Rename,Delete}Files) whose edit
//     touches one is answered with an error saying so (the client shows
//     "Rename failed: ...");
//   - a code action whose edit touches one is listed disabled, with that
//     reason and without its edit; resolving one (codeAction/resolve)
//     gives the error;
//   - formatting, rename or willSaveWaitUntil of a document in a read-only
//     root is refused with the error before it reaches gopls;
//   - gopls's workspace/applyEdit touching one is answered applied=false
//     with the reason, and the client gets a window/showMessage (an edit
//     outside every root is refused silently, as before).
//
// Who may import it: server (an *Manager is its LSPService) and
// cmd/ideserver, which builds the Manager. It imports internal/bridge,
// workspace and sandbox, never server.
package lsp
