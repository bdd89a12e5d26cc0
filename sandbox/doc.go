// Package sandbox starts tenant processes and makes sure they end. (In the
// words of docs/design.md it is the runner: the file system a process
// sees, its binds, is the sandbox view.)
//
// It is the one way any feature of ideserver starts a process a tenant
// causes: terminals, gopls, dlv and playground runs all go through
// [Runner.Start]. It sits at the bottom of the import graph: it imports only
// the standard library, golang.org/x/sys and github.com/creack/pty, and any
// package of ours may import it.
//
// # Isolation
//
// [Options.Isolation] chooses how processes are confined. [IsolationNone],
// the default, starts them directly as the server's user: [Cmd.Network],
// [Cmd.Binds] and [Cmd.Ptrace] are recorded, not enforced.
//
// [IsolationBwrap] starts each process inside bubblewrap with new user, pid,
// ipc, uts and mount namespaces (and a cgroup namespace where the kernel
// has one), a network namespace of its own for [NetworkNone] (loopback
// only) and for [NetworkOutbound] (connected by slirp4netns, without the
// host's loopback),
// --die-with-parent, --new-session (except on a PTY, whose command needs its
// controlling tty), all capabilities dropped, a private /tmp, its own /proc,
// a minimal /dev, the system directories and a subset of /etc read-only,
// [Options.ReadOnlyPaths] (GOROOT, the tools) read-only, and [Cmd.Binds].
//
// A bind is mounted at its [Bind.Target] (a fixed path such as /workspace)
// or, without one, at its host path; [Options.ReadOnlyPaths] keep their host
// paths. workspace.Handle.Start gives every process of a user's workspace
// its binds in [Cmd.Binds] (the workspace at /workspace, HOME, GOROOT, the
// tools), so the features that start processes need not know about them;
// processes outside a workspace (the playground's) carry their own binds.
// [Cmd.Dir], [Cmd.Path] and host paths in [Cmd.Env] are translated into the
// sandbox's view (see [Cmd.Binds]), so a tenant process with its workspace
// bound at /workspace never sees the host path; [ViewPath] does the same
// translation for callers that speak to a tool in its own terms (file
// URIs for gopls). Each process gets an /etc/passwd and /etc/group of its
// own naming only root, nobody and the owner's user. What the sandbox hides is
// everything not bound: other workspaces, other tenants' caches, the data
// directory, the server's processes. [Runner.SelfTest] checks that from
// inside with a probe.
//
// Bubblewrap runs as the owner's host uid ([Options.OwnerUID], through
// SysProcAttr.Credential), which is also the uid inside: files the owner
// creates belong to that uid on the host, and signals, ptrace and /proc of
// other owners and of the server are out of reach even outside the
// namespaces. [Process.UID] and [Process.Owns] let a peer check (a
// debugger dialling back) recognise the command inside. Its command runs under prlimit(1) with RLIMIT_FSIZE,
// RLIMIT_NOFILE and RLIMIT_CORE=0 ([Options.Limits]), and under a seccomp
// filter (bubblewrap's --seccomp) that refuses TIOCSTI and TIOCLINUX ioctls,
// ptrace (unless [Cmd.Ptrace]), bpf, mount and the new mount API, unshare
// and setns, clone with a namespace flag, keyrings, kexec, kernel modules,
// perf, userfaultfd and clock changes with EPERM, and clone3 and io_uring
// with ENOSYS (as a kernel without them would, so glibc and io_uring users
// fall back).
//
// Bind sources are opened by the runner without following symbolic links
// and mounted from those descriptors (see [Bind]); bubblewrap reads its
// arguments from a descriptor, so the sandbox's /proc/1/cmdline holds no
// host path. /tmp is a tmpfs of each process's own, bounded by
// [Limits.Tmp].
//
// Where the host allows, each process gets a cgroup: the runner creates an
// instance directory below its own cgroup in the unified (v2) hierarchy and
// in the v1 memory and pids hierarchies, one directory per workspace there
// (holding the memory and pids limits of [Limits]; v2 controllers are used
// when delegated, else v1), and one per process below it. Bubblewrap blocks
// (--block-fd) until both of its processes are in the process's cgroup, so
// nothing the command starts is outside it. [Runner.Cgroups] says what is
// enforced; New logs once what is not.
//
// # Lifetime of a process
//
// Every process gets a complete environment ([Cmd.Env] and nothing of the
// server's) plus a marker IDESERVER_SANDBOX=<Instance>/<process id>, runs in
// its own process group (or, on a PTY, its own POSIX session: setsid), and
// receives SIGKILL when the server thread that started it dies (Pdeathsig,
// held on a locked OS thread).
//
// When a [Process] is closed, or its main process exits on its own, everything
// it started is terminated: its process group, its POSIX session (PTY), every
// process carrying its exact marker, and every descendant found by walking
// parent links from a snapshot taken before the main process was signalled.
// That includes background jobs, nohup'ed jobs, setsid'ed and double-forked
// children. A shell's background job does not outlive the terminal.
// Processes are sent SIGTERM (and SIGCONT), then SIGKILL after
// [Options.KillGrace]. A process that clears its environment and escapes
// both its group and the parent chain before the snapshot is not found by
// the direct runner; an isolating runner also kills whatever is left in the
// process's cgroup (cgroup.kill in v2, a kill loop over cgroup.procs in v1),
// and its pid namespace ends everything when bubblewrap's init dies.
//
// [Runner.Sweep], called once when the server starts, kills what an earlier
// run with the same [Options.Instance] left behind (after a crash, say).
//
// Only Linux is supported: the package reads /proc.
package sandbox
