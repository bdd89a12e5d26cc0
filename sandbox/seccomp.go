package sandbox

import (
	"encoding/binary"
	"errors"
	"runtime"

	"golang.org/x/sys/unix"
)

// errNoSeccomp is returned by seccompProgram on an architecture without a
// filter; isolated processes then run without one (logged once).
var errNoSeccomp = errors.New("seccomp filter not available on " + runtime.GOARCH)

// seccomp_data offsets (little-endian architectures only).
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 + 8*0 // low 32 bits of args[0]
	offArg1 = 16 + 8*1 // low 32 bits of args[1]
)

// blockedIoctls are the ioctl requests refused with EPERM: TIOCSTI injects
// input into a terminal, TIOCLINUX can do the same on a virtual console.
var blockedIoctls = []uint32{unix.TIOCSTI, 0x541c /* TIOCLINUX */}

// cloneNamespaceFlags are the clone(2) flags that create a namespace.
// CLONE_NEWTIME is not among them: clone(2) reads that bit as part of the
// exit signal, and only clone3 and unshare (both refused whole) take it.
const cloneNamespaceFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID |
	unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP

// nosysSyscalls fail with ENOSYS, as on a kernel without them, so that
// callers take their fallback: glibc's pthread_create and posix_spawn
// retry clone3 as clone (whose namespace flags the filter checks, which it
// cannot do for clone3's flags in memory), and io_uring users fall back to
// ordinary reads and writes.
func nosysSyscalls() []uintptr {
	return []uintptr{unix.SYS_CLONE3, unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER}
}

// seccompProgram returns the BPF program bubblewrap installs (--seccomp) as
// raw struct sock_filter bytes: a foreign architecture is killed; the
// syscalls of blockedSyscalls (plus ptrace unless ptrace is allowed), clone
// with a namespace flag and the ioctls of blockedIoctls fail with EPERM;
// those of nosysSyscalls with ENOSYS; everything else is allowed.
func seccompProgram(allowPtrace bool) ([]byte, error) {
	arch, blocked, ok := seccompArch()
	if !ok {
		return nil, errNoSeccomp
	}
	if !allowPtrace {
		blocked = append(blocked, unix.SYS_PTRACE, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_PROCESS_VM_READV)
	}
	const (
		ldw  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	// Jump targets: a literal offset (next: fall through) or one of the
	// return instructions at the end, patched once the length is known.
	const (
		next = iota
		toAllow
		toDeny
		toNosys
		skip // skip+n: over the next n instructions
	)
	type insn struct {
		unix.SockFilter
		jt, jf int
	}
	var p []insn
	add := func(code uint16, k uint32, jt, jf int) {
		p = append(p, insn{unix.SockFilter{Code: code, K: k}, jt, jf})
	}
	add(ldw, offArch, next, next)
	// The native architecture skips the kill; another one (i386 on amd64,
	// with different syscall numbers) is killed.
	add(jeq, arch, skip+1, next)
	add(ret, unix.SECCOMP_RET_KILL_PROCESS, next, next)
	add(ldw, offNr, next, next)
	if runtime.GOARCH == "amd64" {
		add(jge, 0x40000000, toDeny, next) // the x32 ABI
	}
	for _, nr := range blocked {
		add(jeq, uint32(nr), toDeny, next)
	}
	for _, nr := range nosysSyscalls() {
		add(jeq, uint32(nr), toNosys, next)
	}
	// clone: refuse namespace flags (in the low 32 bits of args[0], all
	// the kernel reads of them).
	add(jeq, unix.SYS_CLONE, next, skip+2)
	add(ldw, offArg0, next, next)
	add(jset, cloneNamespaceFlags, toDeny, toAllow)
	// ioctl: check the request's low 32 bits (the kernel takes an int).
	add(jeq, unix.SYS_IOCTL, next, toAllow)
	add(ldw, offArg1, next, next)
	for _, req := range blockedIoctls {
		add(jeq, req, toDeny, next)
	}
	allowAt := len(p)
	add(ret, unix.SECCOMP_RET_ALLOW, next, next)
	denyAt := len(p)
	add(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM), next, next)
	nosysAt := len(p)
	add(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS), next, next)
	out := make([]byte, 0, 8*len(p))
	for i, in := range p {
		off := func(target int) (uint8, error) {
			var d int
			switch target {
			case next:
				return 0, nil
			case toAllow:
				d = allowAt - i - 1
			case toDeny:
				d = denyAt - i - 1
			case toNosys:
				d = nosysAt - i - 1
			default:
				d = target - skip
			}
			if d < 0 || d > 255 {
				return 0, errors.New("seccomp program too long")
			}
			return uint8(d), nil
		}
		var err error
		if in.Jt, err = off(in.jt); err != nil {
			return nil, err
		}
		if in.Jf, err = off(in.jf); err != nil {
			return nil, err
		}
		out = binary.LittleEndian.AppendUint16(out, in.Code)
		out = append(out, in.Jt, in.Jf)
		out = binary.LittleEndian.AppendUint32(out, in.K)
	}
	return out, nil
}

// commonBlocked are syscalls no tenant process needs: kernel modules and
// kexec, mounts and namespaces, keyrings, BPF, perf, clock and swap
// changes, handle-based opens (which bypass the mount namespace).
func commonBlocked() []uintptr {
	return []uintptr{
		unix.SYS_BPF, unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT,
		unix.SYS_FSOPEN, unix.SYS_FSMOUNT, unix.SYS_FSCONFIG, unix.SYS_FSPICK,
		unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE, unix.SYS_MOUNT_SETATTR,
		unix.SYS_UNSHARE, unix.SYS_SETNS,
		unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
		unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD,
		unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
		unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT, unix.SYS_ACCT,
		unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX,
		unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
		unix.SYS_USERFAULTFD, unix.SYS_PERF_EVENT_OPEN, unix.SYS_SYSLOG,
		unix.SYS_VHANGUP, unix.SYS_QUOTACTL,
	}
}
