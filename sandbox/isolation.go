package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Isolation selects how a Runner confines processes.
type Isolation string

const (
	// IsolationNone starts processes directly, as the server's user,
	// without namespaces, cgroups, rlimits or seccomp. The default.
	IsolationNone Isolation = "none"
	// IsolationBwrap starts every process inside bubblewrap: new user,
	// pid, ipc, uts, mount and (when possible) cgroup namespaces, no
	// network for [NetworkNone], all capabilities dropped, a seccomp
	// filter, rlimits, and a cgroup per workspace where the host allows.
	IsolationBwrap Isolation = "bwrap"
)

// Bind makes a host directory or file visible inside an isolated process,
// at Target, or at the same path as on the host when Target is empty.
// Ignored with [IsolationNone] (which only checks that Host exists).
//
// Target must be absolute and clean, and must not be "/", a system
// directory the sandbox mounts itself (/usr, /bin, /sbin, /lib*, /etc,
// /proc, /dev, /tmp, /sys, /run, /var) or a path below one, or the Target
// of another bind; [Runner.Start] refuses such a bind with [ErrInvalidCmd].
// Binds are mounted in order, so a bind's Target may be nested inside an
// earlier one's.
//
// Host must not be, nor lie inside, the Host of another bind that is
// read-write: a process writing there could replace the inner source.
// Start refuses that with [ErrInvalidCmd], naming both binds by Target.
// With [IsolationBwrap] the runner opens each Host itself, from / and
// without following any symbolic link, and bubblewrap mounts what it
// opened (--bind-fd): renaming or replacing a path component meanwhile
// cannot redirect the mount, and a Host that is or passes through a
// symbolic link fails the start with ErrInvalidCmd. Host must be a
// directory or a regular file.
//
// Inside, the sandbox's /proc/1/cmdline holds no Host (bubblewrap reads
// its arguments from a descriptor), and host paths below a Host in the
// environment are translated (see [Cmd.Binds]). Its /proc/self/mountinfo,
// however, shows each bind's source as a path
// relative to the root of the file system it lies on: for a Host on the
// host's root file system that is its full host path. Put the data
// directory on a file system of its own to show only paths below it.
type Bind struct {
	Host     string // absolute host path; it must exist
	Target   string // path inside the sandbox; "" means Host
	ReadOnly bool
}

// target returns where b is mounted inside the sandbox.
func (b Bind) target() string {
	if b.Target == "" {
		return b.Host
	}
	return b.Target
}

// reservedTargets are the directories a Bind.Target may neither be nor lie
// below: the sandbox mounts them itself, or they belong to the system.
var reservedTargets = []string{
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
	"/proc", "/dev", "/tmp", "/sys", "/run", "/var", "/boot",
}

// Limits are the resource limits of isolated processes. Zero values mean
// the documented default; negative values mean "no limit".
type Limits struct {
	// FileSize is RLIMIT_FSIZE in bytes per process; 0 means 1 GiB.
	FileSize int64
	// NoFile is RLIMIT_NOFILE per process; 0 means 4096.
	NoFile int64
	// Memory is the memory limit in bytes of a workspace's cgroup (all
	// its processes together); 0 means none.
	Memory int64
	// Pids is the maximum number of tasks (processes and threads) in a
	// workspace's cgroup; 0 means none.
	Pids int64
	// CPU is the CPU time a workspace's cgroup may use, in thousandths of
	// a core (1500: one and a half cores); 0 means none.
	CPU int64
	// Tmp is the size in bytes of each isolated process's /tmp, a fresh
	// tmpfs of its own (mode 1777) that ends with the process; 0 means
	// 512 MiB. Its pages count as the memory of the process's cgroup.
	Tmp int64
}

// Default limits (see [Limits]).
const (
	DefaultFileSize = 1 << 30
	DefaultNoFile   = 4096
	DefaultTmp      = 512 << 20
)

func (l Limits) withDefaults() Limits {
	if l.FileSize == 0 {
		l.FileSize = DefaultFileSize
	}
	if l.NoFile == 0 {
		l.NoFile = DefaultNoFile
	}
	if l.Tmp == 0 {
		l.Tmp = DefaultTmp
	}
	return l
}

// ErrNoIdentity is returned by a [Options.OwnerUID] function that has no
// uid for an owner.
var ErrNoIdentity = errors.New("sandbox: no host uid for owner")

// systemDirs are bound read-only into every isolated process when they
// exist (symlinks are recreated as symlinks).
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcFiles is the subset of /etc visible inside: name resolution, TLS roots,
// the dynamic linker, shells' start-up files and Debian's alternatives
// (targets of /usr/bin symlinks). Not /etc/shadow, not the server's config,
// and not the host's /etc/passwd and /etc/group: each process gets its own
// (see [identityFiles]).
var etcFiles = []string{
	"/etc/alternatives", "/etc/bash.bashrc", "/etc/ca-certificates",
	"/etc/ca-certificates.conf", "/etc/gai.conf", "/etc/host.conf",
	"/etc/hosts", "/etc/inputrc", "/etc/ld.so.cache", "/etc/ld.so.conf",
	"/etc/ld.so.conf.d", "/etc/localtime", "/etc/mime.types", "/etc/nsswitch.conf",
	"/etc/profile", "/etc/profile.d", "/etc/protocols",
	"/etc/resolv.conf", "/etc/services", "/etc/ssl", "/etc/terminfo",
}

// Bubblewrap's descriptors (see [bwrapArgs]).
const (
	fdSeccomp = 3  // the BPF program
	fdInfo    = 4  // bubblewrap reports its child's pid
	fdBlock   = 5  // bubblewrap's child waits for a byte
	fdPasswd  = 6  // the sandbox's /etc/passwd
	fdGroup   = 7  // the sandbox's /etc/group
	fdResolv  = 8  // the sandbox's /etc/resolv.conf (user-mode networking only)
	fdArgs    = 9  // these arguments, NUL-separated (--args)
	fdSources = 10 // the first bind source: roPaths, then c.Binds, in order
)

// bwrapArgs returns bubblewrap's arguments (before "--" and the command) for
// c, which bubblewrap reads from descriptor fdArgs (--args), so that they
// are not the argv of the sandbox's pid 1. The fd constants above say what
// bubblewrap's other descriptors are; fd 8 is used only when userNet (a
// network namespace of its own that slirp4netns connects). Each of roPaths
// and then each of c.Binds is mounted from the descriptor
// fdSources+i (--bind-fd, --ro-bind-fd), which [openSource] opened without
// following symbolic links: a tenant process that swaps a path component
// for a link cannot redirect a mount. The system directories and /etc files
// stay path-based: they are root's, which no tenant can change. tmpSize
// bounds the sandbox's /tmp (a tmpfs of its own); negative means no bound.
// It fails when c.Dir is not inside a bind.
func bwrapArgs(c *Cmd, roPaths []string, uid int, userNet bool, tmpSize int64) ([]string, error) {
	a := []string{
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--unshare-cgroup-try",
		"--die-with-parent", "--cap-drop", "ALL",
		"--hostname", "ideserver",
		"--seccomp", strconv.Itoa(fdSeccomp), "--info-fd", strconv.Itoa(fdInfo), "--block-fd", strconv.Itoa(fdBlock),
	}
	if c.Network != NetworkFull {
		// NetworkOutbound without slirp4netns gets no network rather than
		// the host's: failing closed keeps the host's loopback out of reach.
		a = append(a, "--unshare-net")
	}
	if c.PTY == nil {
		// A new session detaches from any controlling tty (TIOCSTI). A PTY
		// command needs its tty; seccomp blocks TIOCSTI there.
		a = append(a, "--new-session")
	}
	if uid >= 0 {
		a = append(a, "--uid", strconv.Itoa(uid), "--gid", strconv.Itoa(uid))
	}
	for _, d := range systemDirs {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if t, err := os.Readlink(d); err == nil {
				a = append(a, "--symlink", t, d)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	for _, f := range etcFiles {
		a = append(a, "--ro-bind-try", f, f)
	}
	a = append(a, "--ro-bind-data", strconv.Itoa(fdPasswd), "/etc/passwd", "--ro-bind-data", strconv.Itoa(fdGroup), "/etc/group")
	if userNet {
		a = append(a, "--ro-bind-data", strconv.Itoa(fdResolv), "/etc/resolv.conf")
	}
	a = append(a, "--proc", "/proc", "--dev", "/dev")
	if tmpSize >= 0 {
		a = append(a, "--size", strconv.FormatInt(tmpSize, 10))
	}
	a = append(a, "--perms", "1777", "--tmpfs", "/tmp")
	fd := fdSources
	for _, p := range roPaths {
		a = append(a, "--ro-bind-fd", strconv.Itoa(fd), p)
		fd++
	}
	for _, b := range c.Binds {
		if b.ReadOnly {
			a = append(a, "--ro-bind-fd", strconv.Itoa(fd), b.target())
		} else {
			a = append(a, "--bind-fd", strconv.Itoa(fd), b.target())
		}
		fd++
	}
	// The root itself (bubblewrap's tmpfs holding the mount points) is
	// read-only once everything is mounted: a process writes only to /tmp
	// (bounded) and its read-write binds, never to memory that only the
	// cgroup bounds. Not recursive: the mounts below keep their own flags.
	a = append(a, "--remount-ro", "/")
	if err := checkNesting(c.Binds, roPaths); err != nil {
		return nil, err
	}
	dir, ok := sandboxPath(c.Dir, c.Binds, roPaths)
	if !ok && c.Dir != "/" && c.Dir != "/tmp" {
		return nil, fmt.Errorf("%w: dir is outside every bind", ErrInvalidCmd)
	}
	return append(a, "--chdir", dir), nil
}

// sandboxPath translates the host path p into the sandbox's view: below the
// Host of a bind it becomes the same relative path below that bind's Target
// (the bind with the longest Host wins, as the innermost mount would: only
// read-only binds nest, see [checkNesting]); below a read-only path it is
// unchanged. ok is false when p is in neither, and p
// is then returned unchanged.
func sandboxPath(p string, binds []Bind, roPaths []string) (string, bool) {
	best := -1
	for i, b := range binds {
		if within(p, b.Host) && (best < 0 || len(b.Host) > len(binds[best].Host)) {
			best = i
		}
	}
	if best >= 0 {
		b := binds[best]
		rel, _ := filepath.Rel(b.Host, p)
		return filepath.Join(b.target(), rel), true
	}
	for _, ro := range roPaths {
		if within(p, ro) {
			return p, true
		}
	}
	return p, false
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// validateBinds checks Binds; messages never hold host paths.
func (c *Cmd) validateBinds() error {
	for i, b := range c.Binds {
		if !filepath.IsAbs(b.Host) || filepath.Clean(b.Host) != b.Host {
			return fmt.Errorf("%w: bind %d must be a clean absolute path", ErrInvalidCmd, i)
		}
		if _, err := os.Stat(b.Host); err != nil {
			return fmt.Errorf("%w: %s does not exist", ErrInvalidCmd, bindName(i, b))
		}
		if b.Target == "" {
			continue
		}
		if !filepath.IsAbs(b.Target) || filepath.Clean(b.Target) != b.Target || b.Target == "/" {
			return fmt.Errorf("%w: bind %d target must be a clean absolute path other than /", ErrInvalidCmd, i)
		}
		for _, r := range reservedTargets {
			if within(b.Target, r) {
				return fmt.Errorf("%w: bind %d target is or lies below a system directory", ErrInvalidCmd, i)
			}
		}
		for j := range i {
			if c.Binds[j].target() == b.Target {
				return fmt.Errorf("%w: bind %d target is used twice", ErrInvalidCmd, i)
			}
		}
	}
	return checkNesting(c.Binds, nil)
}

// checkNesting refuses a bind (or a read-only path) whose Host is, or lies
// inside, the Host of another, read-write bind: whoever writes to the
// outer one from inside a sandbox could otherwise replace the inner one's
// source (with a link to / or a directory of its choosing) before a later
// sandbox mounts it. The error names both binds by Target, never a host
// path. Read-only binds may nest.
func checkNesting(binds []Bind, roPaths []string) error {
	for j, w := range binds {
		if w.ReadOnly {
			continue
		}
		for i, b := range binds {
			if i != j && within(b.Host, w.Host) {
				return fmt.Errorf("%w: %s lies inside read-write %s on the host", ErrInvalidCmd, bindName(i, b), bindName(j, w))
			}
		}
		for i, p := range roPaths {
			if within(p, w.Host) {
				return fmt.Errorf("%w: read-only path %d lies inside read-write %s on the host", ErrInvalidCmd, i, bindName(j, w))
			}
		}
	}
	return nil
}

// translateEnv returns env with every value, and every ':'-separated
// element of a value, that is a host path below a bind's Host translated
// into the sandbox's view (see [sandboxPath]); other entries are unchanged.
func translateEnv(env []string, binds []Bind) []string {
	if len(binds) == 0 {
		return env
	}
	out := make([]string, len(env))
	for i, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		parts := strings.Split(v, ":")
		for j, el := range parts {
			if filepath.IsAbs(el) && filepath.Clean(el) == el {
				parts[j], _ = sandboxPath(el, binds, nil)
			}
		}
		out[i] = k + "=" + strings.Join(parts, ":")
	}
	return out
}

// identityFiles returns the /etc/passwd and /etc/group an isolated process
// sees: root, the tenant's user (uid and gid uid, named after USER in env
// when it is a plain name, else "user", with HOME from env and bash as its
// shell) and nobody. The host's users stay hidden, and shells and tools
// that look up the current user (bash's prompt, os/user, ssh, git) find
// one.
func identityFiles(env []string, uid int) (passwd, group []byte) {
	name, home := "user", "/"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "USER="); ok && plainName(v) {
			name = v
		}
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && filepath.IsAbs(v) && !strings.ContainsAny(v, ":\n") {
			home = v
		}
	}
	if uid == 0 || uid == 65534 {
		// The server's own uid (no tenant uids): keep the lines unique.
		name = map[int]string{0: "root", 65534: "nobody"}[uid]
	}
	u := strconv.Itoa(uid)
	var pw, gr strings.Builder
	pw.WriteString("root:x:0:0:root:/root:/usr/sbin/nologin\n")
	gr.WriteString("root:x:0:\n")
	if uid != 0 && uid != 65534 {
		pw.WriteString(name + ":x:" + u + ":" + u + ":" + name + ":" + home + ":/bin/bash\n")
		gr.WriteString(name + ":x:" + u + ":\n")
	}
	pw.WriteString("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
	gr.WriteString("nogroup:x:65534:\n")
	return []byte(pw.String()), []byte(gr.String())
}

// plainName reports whether s is a short user name of [a-z0-9_-], starting
// with a letter or underscore.
func plainName(s string) bool {
	if s == "" || len(s) > 32 || s == "root" || s == "nobody" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case (r >= '0' && r <= '9') || r == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// bindName names bind i of a Cmd in an error: "bind /workspace" by its
// Target, which is what the sandbox sees, or "bind 2" for a bind without
// one (whose host path is not for a client).
func bindName(i int, b Bind) string {
	if b.Target != "" {
		return "bind " + b.Target
	}
	return "bind " + strconv.Itoa(i)
}
