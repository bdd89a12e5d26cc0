package sandbox

import (
	"encoding/binary"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// seccompEval runs the classic BPF program prog (as seccompProgram builds
// it: loads, jumps and returns only) on a seccomp_data for syscall nr with
// args, and returns the action it answers.
func seccompEval(t *testing.T, prog []byte, arch uint32, nr uintptr, args ...uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], uint32(nr))
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog)/8; pc++ {
		in := prog[8*pc:]
		code := binary.LittleEndian.Uint16(in)
		jt, jf := int(in[2]), int(in[3])
		k := binary.LittleEndian.Uint32(in[4:])
		jump := func(cond bool) {
			if cond {
				pc += jt
			} else {
				pc += jf
			}
		}
		switch code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[k:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump(acc == k)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(acc >= k)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			jump(acc&k != 0)
		case unix.BPF_RET | unix.BPF_K:
			return k
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, code)
		}
	}
	t.Fatal("program ran off its end")
	return 0
}

// SBX-11: the filter's answer for each refused syscall, and for the
// ordinary calls that must keep working (threads, fork, ptrace for dlv).
func TestSeccompDecisions(t *testing.T) {
	arch, _, ok := seccompArch()
	if !ok {
		t.Skip(errNoSeccomp)
	}
	const (
		allow = unix.SECCOMP_RET_ALLOW
		eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		nosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	)
	prog, err := seccompProgram(false)
	if err != nil {
		t.Fatal(err)
	}
	withPtrace, err := seccompProgram(true)
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		name string
		nr   uintptr
		args []uint64
		want uint32
	}
	calls := []call{
		{"clone3", unix.SYS_CLONE3, nil, nosys},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, nil, nosys},
		{"io_uring_enter", unix.SYS_IO_URING_ENTER, nil, nosys},
		{"io_uring_register", unix.SYS_IO_URING_REGISTER, nil, nosys},
		{"unshare", unix.SYS_UNSHARE, []uint64{unix.CLONE_NEWNS}, eperm},
		{"unshare without namespace", unix.SYS_UNSHARE, []uint64{unix.CLONE_FS}, eperm},
		{"setns", unix.SYS_SETNS, nil, eperm},
		{"bpf", unix.SYS_BPF, nil, eperm},
		{"userfaultfd", unix.SYS_USERFAULTFD, nil, eperm},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, nil, eperm},
		{"keyctl", unix.SYS_KEYCTL, nil, eperm},
		{"add_key", unix.SYS_ADD_KEY, nil, eperm},
		{"request_key", unix.SYS_REQUEST_KEY, nil, eperm},
		{"mount", unix.SYS_MOUNT, nil, eperm},
		{"umount2", unix.SYS_UMOUNT2, nil, eperm},
		{"pivot_root", unix.SYS_PIVOT_ROOT, nil, eperm},
		{"move_mount", unix.SYS_MOVE_MOUNT, nil, eperm},
		{"open_tree", unix.SYS_OPEN_TREE, nil, eperm},
		{"fsopen", unix.SYS_FSOPEN, nil, eperm},
		{"fsconfig", unix.SYS_FSCONFIG, nil, eperm},
		{"fsmount", unix.SYS_FSMOUNT, nil, eperm},
		{"fspick", unix.SYS_FSPICK, nil, eperm},
		{"mount_setattr", unix.SYS_MOUNT_SETATTR, nil, eperm},
		{"kexec_load", unix.SYS_KEXEC_LOAD, nil, eperm},
		{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, nil, eperm},
		{"ioctl TIOCSTI", unix.SYS_IOCTL, []uint64{0, unix.TIOCSTI}, eperm},
		{"ioctl TCGETS", unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, allow},
		{"read", unix.SYS_READ, nil, allow},
		{"ptrace", unix.SYS_PTRACE, nil, eperm},
		// What Go's runtime (threads), os/exec (vfork) and glibc's fork use.
		{"clone thread", unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD}, allow},
		{"clone vfork", unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)}, allow},
		{"clone fork", unix.SYS_CLONE, []uint64{unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID | uint64(unix.SIGCHLD)}, allow},
		{"clone pidfd", unix.SYS_CLONE, []uint64{unix.CLONE_PIDFD | unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)}, allow},
		// Namespace flags hidden in the high half are ignored by the kernel.
		{"clone high bits", unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER<<32 | uint64(unix.SIGCHLD)}, allow},
	}
	for _, f := range []struct {
		name string
		flag uint64
	}{
		{"NEWUSER", unix.CLONE_NEWUSER}, {"NEWNS", unix.CLONE_NEWNS}, {"NEWPID", unix.CLONE_NEWPID},
		{"NEWNET", unix.CLONE_NEWNET}, {"NEWIPC", unix.CLONE_NEWIPC}, {"NEWUTS", unix.CLONE_NEWUTS},
		{"NEWCGROUP", unix.CLONE_NEWCGROUP},
	} {
		calls = append(calls, call{"clone " + f.name, unix.SYS_CLONE, []uint64{f.flag | uint64(unix.SIGCHLD)}, eperm})
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if got := seccompEval(t, prog, arch, c.nr, c.args...); got != c.want {
				t.Errorf("filter answers %#x, want %#x", got, c.want)
			}
			want := c.want
			if c.nr == unix.SYS_PTRACE {
				want = allow
			}
			if got := seccompEval(t, withPtrace, arch, c.nr, c.args...); got != want {
				t.Errorf("ptrace filter answers %#x, want %#x", got, want)
			}
		})
	}
	if got := seccompEval(t, prog, arch+1, unix.SYS_READ); got != unix.SECCOMP_RET_KILL_PROCESS {
		t.Errorf("foreign architecture: %#x, want kill", got)
	}
	if runtime.GOARCH == "amd64" {
		if got := seccompEval(t, prog, arch, 0x40000000|unix.SYS_READ); got != eperm {
			t.Errorf("x32 read: %#x, want EPERM", got)
		}
	}
}
