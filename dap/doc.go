// Package dap runs Delve's DAP server (`dlv dap`) for workspaces and bridges
// the browser's DAP WebSocket to it, one message at a time and in order. It
// confines every debug session to its workspace: launch requests are checked
// (mode, program, cwd, build flags, environment) and completed by the proxy
// (private output binary, remote output mode), requests that could reach
// beyond the workspace are refused with DAP error responses, and paths are
// rewritten in every message between the client's view (/workspace,
// /goroot, /gomodcache) and the real directories, so no host path reaches
// the client.
//
// Each session starts one dlv through package sandbox in the workspace with
// the tenant's Go environment. dlv dials back to a unix socket the proxy
// owns in a private 0700 directory (`--client-addr`); no TCP port is ever
// opened. Ending the session (WebSocket closed, disconnect, dlv exit,
// workspace stopped) kills dlv and the debuggee and removes the built
// binary.
//
// A launch with console "integratedTerminal" (from a client that set
// supportsRunInTerminalRequest) moves the session to a second dlv started
// in a new workspace terminal through [Options.Terminals]: the proxy
// replays the client's initialize to it, ends the first dlv, and names the
// terminal in a custom [TerminalEvent]; the program inherits the
// terminal's PTY as its stdin, stdout and stderr, and the terminal ends
// with the session.
//
// Only cmd/ideserver imports it (and tests); it imports sandbox and the
// workspace package's types, never server.
package dap
