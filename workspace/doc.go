// Package workspace owns workspaces: their files on disk, rooted file access,
// search and change notification.
//
// Every byte a tenant reads or writes goes through a [Files], which resolves
// client paths against an [os.Root] opened on the workspace directory, never by
// string prefix checks on host paths. Client paths are validated first by
// [CleanPath]. Change notification ([Watchers]) shares one inotify instance
// per workspace directory among all its subscribers.
//
// Errors that may reach a client wrap one of the sentinels in errors.go
// (match them with [errors.Is]) and carry only what the client sent, never a
// host path.
//
// The tenant is the administrative boundary (credentials, limits); the user
// is the isolation boundary. Each user is an isolation principal named by an
// owner key ([Owner.Key], "<tenant>/<user>"; the server's internal
// identities are "@<name>", which no tenant or user id can spell): with
// [ManagerOptions.Identity] each user's files on the host belong to the
// user's own uid (the one its isolated processes run as): its HOME and Go
// caches ([Manager.HomeDirs]), its workspaces, and every entry written
// through [Files].
//
// A bridge (lsp, dap, terminal) gets a [Handle] from [Manager.Open], the
// one ownership check: it starts the workspace's processes with their
// binds (the sandbox view: the workspace at /workspace, HOME, GOROOT, the
// tools) and carries the [Paths] that map client paths (/workspace,
// /goroot, /gomodcache) to process paths and back, and rewrite the text a
// process writes for the client. It imports sandbox and store, and the
// leaf internal/bridge (for [Handle.Key]).
//
// Who may import it: server, lsp, dap, playground and cmd/ideserver.
package workspace
