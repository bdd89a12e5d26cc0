// Package dap runs Delve's DAP server (`dlv dap`) for workspaces and bridges
// the browser's DAP WebSocket to it, one message at a time and in order. It
// confines every debug session to its workspace: launch requests are checked
// (mode, program, cwd, build flags, environment) and completed by the proxy
// (private output binary, remote output mode), requests that could reach
// beyond the workspace are refused with DAP error responses, and paths are
// rewritten in every message between client paths (/workspace, /goroot,
// /gomodcache) and the paths dlv sees, so no host path reaches the client.
//
// Each session starts one dlv through package sandbox in the workspace with
// the user's Go environment. dlv dials back to a unix socket the proxy
// owns in a private 0700 directory (`--client-addr`); no TCP port is ever
// opened. Ending the session (WebSocket closed, disconnect, dlv exit,
// workspace stopped, shutdown) kills dlv and the debuggee and removes the
// built binary. The sessions live in a bridge.Registry, which bounds them
// per workspace and tenant and stops them with their workspace.
//
// A launch with console "integratedTerminal" (from a client that set
// supportsRunInTerminalRequest) moves the session to a second dlv started
// in a new workspace terminal of [Options.Terminals] (package terminal):
// the proxy replays the client's initialize to it, ends the first dlv, and
// names the terminal in a custom [TerminalEvent]; the program inherits the
// terminal's PTY as its stdin, stdout and stderr, and the terminal ends
// with the session.
//
// server and cmd/ideserver import it; it imports internal/bridge,
// workspace, sandbox and terminal, never server.
package dap
