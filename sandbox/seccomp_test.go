package sandbox_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/sandbox"
)

// probeCall is one syscall the seccomp probe tries inside a sandbox. Its
// arguments are chosen so that, without the filter, the kernel answers
// another errno (EINVAL, EBADF, EFAULT, ENOSYS for kexec on a kernel
// without it) and creates nothing. Only pivot_root, move_mount, fsopen,
// fsmount and fspick are refused with EPERM by the kernel itself to a
// process without capabilities; TestSeccompDecisions checks the filter's
// rule for those.
type probeCall struct {
	name string
	nr   uintptr
	args [6]uintptr
	want unix.Errno
}

// probeCalls are the calls of the SBX-11 probe, in the order it prints
// them.
func probeCalls() []probeCall {
	inval := ^uintptr(0) >> 32 // every low flag bit: invalid flags
	calls := []probeCall{
		// Without the filter: clone with CLONE_THREAD and no CLONE_SIGHAND
		// is EINVAL before anything is created.
		{name: "clone", nr: unix.SYS_CLONE, args: [6]uintptr{unix.CLONE_THREAD}, want: unix.EINVAL},
		{name: "clone3", nr: unix.SYS_CLONE3, want: unix.ENOSYS},
		{name: "unshare", nr: unix.SYS_UNSHARE, args: [6]uintptr{unix.CLONE_PTRACE}, want: unix.EPERM},
		{name: "setns", nr: unix.SYS_SETNS, args: [6]uintptr{^uintptr(0), 0}, want: unix.EPERM},
		{name: "io_uring_setup", nr: unix.SYS_IO_URING_SETUP, want: unix.ENOSYS},
		{name: "io_uring_enter", nr: unix.SYS_IO_URING_ENTER, args: [6]uintptr{^uintptr(0)}, want: unix.ENOSYS},
		{name: "io_uring_register", nr: unix.SYS_IO_URING_REGISTER, args: [6]uintptr{^uintptr(0)}, want: unix.ENOSYS},
		{name: "bpf", nr: unix.SYS_BPF, args: [6]uintptr{9999}, want: unix.EPERM},
		{name: "userfaultfd", nr: unix.SYS_USERFAULTFD, args: [6]uintptr{inval}, want: unix.EPERM},
		{name: "perf_event_open", nr: unix.SYS_PERF_EVENT_OPEN, args: [6]uintptr{0, 0, ^uintptr(0), ^uintptr(0), 0}, want: unix.EPERM},
		{name: "keyctl", nr: unix.SYS_KEYCTL, args: [6]uintptr{9999}, want: unix.EPERM},
		{name: "add_key", nr: unix.SYS_ADD_KEY, want: unix.EPERM},
		{name: "request_key", nr: unix.SYS_REQUEST_KEY, want: unix.EPERM},
		{name: "mount", nr: unix.SYS_MOUNT, want: unix.EPERM},
		{name: "umount2", nr: unix.SYS_UMOUNT2, args: [6]uintptr{0, inval}, want: unix.EPERM},
		{name: "pivot_root", nr: unix.SYS_PIVOT_ROOT, want: unix.EPERM},
		{name: "move_mount", nr: unix.SYS_MOVE_MOUNT, args: [6]uintptr{^uintptr(0), 0, ^uintptr(0), 0, inval}, want: unix.EPERM},
		{name: "open_tree", nr: unix.SYS_OPEN_TREE, args: [6]uintptr{^uintptr(0), 0, inval}, want: unix.EPERM},
		{name: "fsopen", nr: unix.SYS_FSOPEN, args: [6]uintptr{0, inval}, want: unix.EPERM},
		{name: "fsconfig", nr: unix.SYS_FSCONFIG, args: [6]uintptr{^uintptr(0), 9999}, want: unix.EPERM},
		{name: "fsmount", nr: unix.SYS_FSMOUNT, args: [6]uintptr{^uintptr(0), inval}, want: unix.EPERM},
		{name: "fspick", nr: unix.SYS_FSPICK, args: [6]uintptr{^uintptr(0), 0, inval}, want: unix.EPERM},
		{name: "mount_setattr", nr: unix.SYS_MOUNT_SETATTR, args: [6]uintptr{^uintptr(0), 0, inval}, want: unix.EPERM},
		{name: "kexec_load", nr: unix.SYS_KEXEC_LOAD, args: [6]uintptr{0, 0, 0, inval}, want: unix.EPERM},
		{name: "kexec_file_load", nr: unix.SYS_KEXEC_FILE_LOAD, args: [6]uintptr{^uintptr(0), ^uintptr(0), 0, 0, inval}, want: unix.EPERM},
	}
	for _, f := range []struct {
		name string
		flag uintptr
	}{
		{"NEWUSER", unix.CLONE_NEWUSER}, {"NEWNS", unix.CLONE_NEWNS}, {"NEWPID", unix.CLONE_NEWPID},
		{"NEWNET", unix.CLONE_NEWNET}, {"NEWIPC", unix.CLONE_NEWIPC}, {"NEWUTS", unix.CLONE_NEWUTS},
		{"NEWCGROUP", unix.CLONE_NEWCGROUP},
	} {
		calls = append(calls, probeCall{name: "clone_" + f.name, nr: unix.SYS_CLONE, args: [6]uintptr{f.flag | unix.CLONE_THREAD}, want: unix.EPERM})
	}
	for _, f := range []struct {
		name string
		flag uintptr
	}{
		{"NEWUSER", unix.CLONE_NEWUSER}, {"NEWNS", unix.CLONE_NEWNS}, {"NEWPID", unix.CLONE_NEWPID},
		{"NEWNET", unix.CLONE_NEWNET}, {"NEWIPC", unix.CLONE_NEWIPC}, {"NEWUTS", unix.CLONE_NEWUTS},
		{"NEWCGROUP", unix.CLONE_NEWCGROUP}, {"NEWTIME", unix.CLONE_NEWTIME},
	} {
		// CLONE_PTRACE is not a flag unshare takes: EINVAL without the filter.
		calls = append(calls, probeCall{name: "unshare_" + f.name, nr: unix.SYS_UNSHARE, args: [6]uintptr{f.flag | unix.CLONE_PTRACE}, want: unix.EPERM})
	}
	return calls
}

// syscallProbe runs inside a sandbox ("iso:syscalls"): it makes each call
// of probeCalls and prints "name errno" per line ("name ok" on success).
func syscallProbe() int {
	for _, c := range probeCalls() {
		a := c.args
		_, _, e := unix.RawSyscall6(c.nr, a[0], a[1], a[2], a[3], a[4], a[5])
		if e == 0 {
			fmt.Println(c.name, "ok")
		} else {
			fmt.Println(c.name, errName(e))
		}
	}
	return 0
}

// errName returns the symbolic name of e ("EPERM"), or its number.
func errName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

// SBX-11: each refused syscall, tried one by one from inside a real
// sandbox, fails with EPERM (ENOSYS for clone3 and io_uring, so callers
// fall back), while clone without namespace flags still reaches the
// kernel.
func TestBwrapSeccompSyscalls(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "seccomp-calls", sandbox.Limits{})
	bin := helperBin(t, e)
	for _, ptrace := range []bool{false, true} {
		c := sandbox.Cmd{
			Kind: "run", Owner: "t1", Workspace: "w1",
			Path: bin, Args: []string{helperArg, "iso:syscalls"},
			Env: baseEnv(), Dir: e.ws, Binds: []sandbox.Bind{{Host: e.ws}}, Ptrace: ptrace,
		}
		out, st := run(t, r, c)
		if st.Code != 0 {
			t.Fatalf("probe exit %+v; output:\n%s", st, out)
		}
		got := map[string]string{}
		for line := range strings.Lines(out) {
			if name, errno, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				got[name] = errno
			}
		}
		for _, call := range probeCalls() {
			t.Run(fmt.Sprintf("ptrace=%v/%s", ptrace, call.name), func(t *testing.T) {
				if want := errName(call.want); got[call.name] != want {
					t.Errorf("%s: %q, want %s", call.name, got[call.name], want)
				}
			})
		}
	}
}

// SBX-11 control: what tenants run still works under the filter: bash
// with a background job, and go build, vet and run (the go command and the
// compiler start many processes and threads; glibc's clone3 falls back to
// clone). gopls and dlv are Go programs as well; dlv's ptrace is the
// Ptrace variant's (see TestBwrapSeccomp).
func TestBwrapGoUnderSeccomp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program inside a sandbox")
	}
	t.Parallel()
	e := newIsoEnv(t)
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skip("no go command:", err)
	}
	cache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The test's own build cache, hard-linked, spares building the standard
	// library again (LinkCache needs one file system; else a cold cache).
	gc := filepath.Join(e.ws, "gocache")
	if err := isotest.LinkCache(strings.TrimSpace(string(cache)), gc, testUID); err != nil {
		t.Logf("cold build cache: %v", err)
	}
	for name, text := range map[string]string{
		"go.mod":  "module hello\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi from go\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(e.ws, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := strings.TrimSpace(string(goroot))
	r, err := sandbox.New(sandbox.Options{
		Instance: instancePrefix + "gobuild", Isolation: sandbox.IsolationBwrap, KillGrace: testGrace,
		OwnerUID:      func(string) (int, error) { return testUID, nil },
		ReadOnlyPaths: []string{root}, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := sandbox.Cmd{
		Kind: "run", Owner: "t1", Workspace: "w1",
		Path: "bash", Args: []string{"-c", "set -e; (sleep 0.01 & wait); echo bash-ok; go build -o /tmp/h . && /tmp/h; go vet . && echo vet-ok; go run ."},
		Env: baseEnv("PATH="+root+"/bin:/usr/bin:/bin", "HOME=/tmp", "GOCACHE="+gc,
			"GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-mod=mod"),
		Dir: e.ws, Binds: []sandbox.Bind{{Host: e.ws}},
	}
	out, st := run(t, r, c)
	if st.Code != 0 || out != "bash-ok\nhi from go\nvet-ok\nhi from go\n" {
		t.Errorf("exit %+v; output:\n%s", st, out)
	}
}
