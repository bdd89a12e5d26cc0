// Package lsp runs gopls for workspaces and bridges the browser's LSP
// WebSocket to it.
//
// A Manager starts one gopls per LSP connection, through sandbox, in the
// workspace directory with the tenant's Go environment and no listeners or
// debug servers. Between the client and gopls it forwards one JSON-RPC
// message at a time, in order, rewriting URIs and paths in both directions
// between the client's view (file:///workspace, file:///goroot,
// file:///gomodcache) and the host directories (Roots), refusing client URIs
// outside those roots with InvalidParams, sanitising initialize parameters
// and configuration replies, allowlisting workspace/executeCommand, and
// answering gopls's file-watch registration itself by feeding it the
// workspace's file events. When gopls dies, pending requests get an error,
// gopls is restarted with backoff, and initialize and every open document
// are replayed.
//
// Who may import it: cmd/ideserver (which adapts a Manager to
// server.LSPService). It imports workspace, sandbox and internal packages,
// never server.
package lsp
