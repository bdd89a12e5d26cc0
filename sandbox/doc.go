// Package sandbox starts tenant processes and makes sure they end.
//
// It is the one way any feature of ideserver starts a process a tenant
// causes: terminals, gopls, dlv and playground runs all go through
// [Runner.Start]. It sits at the bottom of the import graph: it imports only
// the standard library, golang.org/x/sys and github.com/creack/pty, and any
// package of ours may import it.
//
// The runner in this version starts processes directly, without namespaces,
// per-tenant uids or cgroups. The fields that a later, isolating runner needs
// ([Cmd.Tenant], [Cmd.Workspace], [Cmd.Kind], [Cmd.Network]) are already part
// of [Cmd]; this runner records them in its logs and does not enforce them.
//
// # Lifetime of a process
//
// Every process gets a complete environment ([Cmd.Env] and nothing of the
// server's) plus a marker IDESERVER_SANDBOX=<Instance>/<process id>, runs in
// its own process group (or, on a PTY, its own session), and receives SIGKILL
// when the server thread that started it dies (Pdeathsig, held on a locked
// OS thread).
//
// When a [Process] is closed, or its main process exits on its own, everything
// it started is terminated: its process group, its session (PTY), every
// process carrying its exact marker, and every descendant found by walking
// parent links from a snapshot taken before the main process was signalled.
// That includes background jobs, nohup'ed jobs, setsid'ed and double-forked
// children. A shell's background job does not outlive the terminal.
// Processes are sent SIGTERM (and SIGCONT), then SIGKILL after
// [Options.KillGrace]. A process that clears its environment and escapes
// both its group and the parent chain before the snapshot is not found; the
// cgroup runner of a later version closes that gap.
//
// [Runner.Sweep], called once when the server starts, kills what an earlier
// run with the same [Options.Instance] left behind (after a crash, say).
//
// Only Linux is supported: the package reads /proc.
package sandbox
