package sandbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

func TestBwrapBindTarget(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	sub := filepath.Join(e.ws, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(sub, testUID, testUID); err != nil {
		t.Fatal(err)
	}
	r := newIsoRunner(t, "target", sandbox.Limits{})
	c := e.sh(`pwd; echo hi > made; test -e "$1" && echo SEES_HOST_PATH; echo done`)
	c.Args = append(c.Args, "probe", e.ws)
	c.Env = baseEnv("HOME=/workspace")
	c.Dir = sub
	c.Binds = []sandbox.Bind{{Host: e.ws, Target: "/workspace"}}
	out, st := run(t, r, c)
	if st.Code != 0 || !strings.HasSuffix(out, "done\n") {
		t.Fatalf("exit %+v; output:\n%s", st, out)
	}
	if !strings.HasPrefix(out, "/workspace/sub\n") {
		t.Errorf("pwd is not /workspace/sub:\n%s", out)
	}
	if strings.Contains(out, "SEES_HOST_PATH") {
		t.Errorf("the host path is visible inside:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(sub, "made")); err != nil || string(b) != "hi\n" {
		t.Errorf("file written inside: %q, %v", b, err)
	}
}

func TestBindTargetRefused(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	r := newRunner(t, "badtarget")
	for _, tc := range []struct{ name, target string }{
		{"relative", "workspace"},
		{"unclean", "/workspace/../etc"},
		{"trailing slash", "/workspace/"},
		{"root", "/"},
		{"usr", "/usr"},
		{"below usr", "/usr/local/ws"},
		{"proc", "/proc"},
		{"dev", "/dev"},
		{"tmp", "/tmp"},
		{"below tmp", "/tmp/ws"},
		{"etc", "/etc"},
		{"lib64", "/lib64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Start(t.Context(), sandbox.Cmd{
				Kind: "run", Owner: "t1", Path: "true", Env: baseEnv(), Dir: ws,
				Binds: []sandbox.Bind{{Host: ws, Target: tc.target}},
			})
			if !errors.Is(err, sandbox.ErrInvalidCmd) {
				t.Fatalf("err = %v, want ErrInvalidCmd", err)
			}
			if strings.Contains(err.Error(), ws) || strings.Contains(err.Error(), os.TempDir()) {
				t.Errorf("error names a host path: %v", err)
			}
		})
	}
	t.Run("twice", func(t *testing.T) {
		_, err := r.Start(t.Context(), sandbox.Cmd{
			Kind: "run", Owner: "t1", Path: "true", Env: baseEnv(), Dir: ws,
			Binds: []sandbox.Bind{{Host: ws, Target: "/workspace"}, {Host: ws, Target: "/workspace"}},
		})
		if !errors.Is(err, sandbox.ErrInvalidCmd) {
			t.Fatalf("err = %v, want ErrInvalidCmd", err)
		}
	})
}

// Each isolated process gets a /tmp of its own, writable by its user and
// bounded by Limits.Tmp.
func TestBwrapTmp(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "tmp", sandbox.Limits{Tmp: 1 << 20})
	out, st := run(t, r, e.sh(`stat -c %a /tmp; test -e /tmp/left && echo SEES_LEFT; echo x > /tmp/left && echo wrote; dd if=/dev/zero of=/tmp/big bs=64k count=64 2>/dev/null; echo rc=$?`))
	if st.Code != 0 || !strings.HasPrefix(out, "1777\n") || !strings.Contains(out, "wrote\n") || strings.Contains(out, "rc=0") {
		t.Errorf("exit %+v; output:\n%s", st, out)
	}
	// A second process does not see the first one's files.
	if out, _ := run(t, r, e.sh(`test -e /tmp/left && echo SEES_LEFT; df -k /tmp | tail -1`)); strings.Contains(out, "SEES_LEFT") || !strings.Contains(out, " 1024 ") {
		t.Errorf("second process: %q", out)
	}
	// The root outside /tmp and the binds is read-only: nothing is
	// written to memory only the cgroup bounds (SBX-03).
	if out, _ := run(t, r, e.sh(`mkdir -p /home/planted 2>/dev/null && echo ROOT_WRITABLE; touch /x 2>/dev/null && echo ROOT_WRITABLE; echo done`)); strings.Contains(out, "ROOT_WRITABLE") || !strings.Contains(out, "done") {
		t.Errorf("root of the sandbox: %q", out)
	}
	def := newIsoRunner(t, "tmp-default", sandbox.Limits{})
	if out, _ := run(t, def, e.sh(`df -k /tmp | tail -1`)); !strings.Contains(out, " 524288 ") {
		t.Errorf("default /tmp: %q, want 512 MiB", out)
	}
}
