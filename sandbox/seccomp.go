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
	offArg1 = 16 + 8*1 // low 32 bits of args[1]
)

// blockedIoctls are the ioctl requests refused with EPERM: TIOCSTI injects
// input into a terminal, TIOCLINUX can do the same on a virtual console.
var blockedIoctls = []uint32{unix.TIOCSTI, 0x541c /* TIOCLINUX */}

// seccompProgram returns the BPF program bubblewrap installs (--seccomp) as
// raw struct sock_filter bytes: a foreign architecture is killed, the
// syscalls of blockedSyscalls (plus ptrace unless ptrace is allowed) and the
// ioctls of blockedIoctls fail with EPERM, everything else is allowed.
func seccompProgram(allowPtrace bool) ([]byte, error) {
	arch, blocked, ok := seccompArch()
	if !ok {
		return nil, errNoSeccomp
	}
	if !allowPtrace {
		blocked = append(blocked, unix.SYS_PTRACE, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_PROCESS_VM_READV)
	}
	const (
		ldw = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	// Jumps to the three return instructions at the end are patched once
	// the program's length is known.
	const (
		toAllow = iota + 1
		toDeny
	)
	type insn struct {
		unix.SockFilter
		jt int // 0: Jt as given; toAllow or toDeny: patched
	}
	var p []insn
	add := func(code uint16, k uint32, jt int) {
		p = append(p, insn{unix.SockFilter{Code: code, K: k}, jt})
	}
	add(ldw, offArch, 0)
	// The native architecture skips the kill; another one (i386 on amd64,
	// with different syscall numbers) is killed.
	p = append(p, insn{unix.SockFilter{Code: jeq, K: arch, Jt: 1, Jf: 0}, 0})
	add(ret, unix.SECCOMP_RET_KILL_PROCESS, 0)
	add(ldw, offNr, 0)
	if runtime.GOARCH == "amd64" {
		add(jge, 0x40000000, toDeny) // the x32 ABI
	}
	for _, nr := range blocked {
		add(jeq, uint32(nr), toDeny)
	}
	// ioctl: check the request's low 32 bits (the kernel takes an int).
	add(jeq, unix.SYS_IOCTL, 0)
	ioctlAt := len(p) - 1
	add(ldw, offArg1, 0)
	for _, req := range blockedIoctls {
		add(jeq, req, toDeny)
	}
	allowAt := len(p)
	add(ret, unix.SECCOMP_RET_ALLOW, 0)
	denyAt := len(p)
	add(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM), 0)
	p[ioctlAt].Jf = uint8(allowAt - ioctlAt - 1) // not ioctl: allow
	out := make([]byte, 0, 8*len(p))
	for i, in := range p {
		switch in.jt {
		case toDeny:
			in.Jt = uint8(denyAt - i - 1)
		case toAllow:
			in.Jt = uint8(allowAt - i - 1)
		}
		if denyAt-i-1 > 255 {
			return nil, errors.New("seccomp program too long")
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
