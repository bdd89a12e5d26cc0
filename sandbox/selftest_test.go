package sandbox_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

// checks returns the report's checks by name.
func checks(rep sandbox.SelfTestReport) map[string]sandbox.SelfTestCheck {
	m := make(map[string]sandbox.SelfTestCheck)
	for _, c := range rep.Checks {
		m[c.Name] = c
	}
	return m
}

func TestSelfTest(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	r := newIsoRunner(t, "selftest", sandbox.Limits{})
	for _, tc := range []struct {
		name     string
		binds    []sandbox.Bind
		network  sandbox.Network
		wantFail []string // checks that must fail; all others pass
		skipped  []string
	}{
		{
			name:    "passes",
			binds:   []sandbox.Bind{{Host: e.ws, Target: "/workspace"}},
			skipped: []string{"tiocsti"},
		},
		{
			name:    "host path bind passes",
			binds:   []sandbox.Bind{{Host: e.ws}},
			network: sandbox.NetworkFull,
			skipped: []string{"tiocsti", "network"},
		},
		{
			name:     "data dir bound",
			binds:    []sandbox.Bind{{Host: e.ws, Target: "/workspace"}, {Host: e.data, ReadOnly: true}},
			wantFail: []string{"hidden-paths"},
			skipped:  []string{"tiocsti"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := r.SelfTest(t.Context(), sandbox.SelfTestProbe{
				Owner: "t1", Binds: tc.binds, Network: tc.network,
				Hidden: []string{e.data, e.sibling},
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Isolation != sandbox.IsolationBwrap {
				t.Errorf("Isolation = %q", rep.Isolation)
			}
			got := checks(rep)
			for _, name := range []string{"workspace", "hidden-paths", "pid-namespace", "server-pid", "network", "tenant-uid", "no-capabilities", "seccomp", "system-read-only", "tiocsti"} {
				c, ok := got[name]
				switch {
				case !ok:
					t.Errorf("no check %q in %+v", name, rep.Checks)
				case strings.Contains(c.Detail, e.base):
					t.Errorf("check %s names a host path: %q", name, c.Detail)
				}
			}
			for _, c := range rep.Checks {
				wantOK := !contains(tc.wantFail, c.Name)
				if c.OK != wantOK {
					t.Errorf("check %s: OK = %v, want %v (%s)", c.Name, c.OK, wantOK, c.Detail)
				}
				if c.Skipped != contains(tc.skipped, c.Name) {
					t.Errorf("check %s: Skipped = %v", c.Name, c.Skipped)
				}
			}
			if rep.OK() != (len(tc.wantFail) == 0) {
				t.Errorf("OK() = %v with failed %+v", rep.OK(), rep.Failed())
			}
			if len(rep.Failed()) != len(tc.wantFail) {
				t.Errorf("Failed() = %+v", rep.Failed())
			}
			ents, _ := os.ReadDir(e.ws)
			for _, ent := range ents {
				if strings.HasPrefix(ent.Name(), ".ideserver-selftest") {
					t.Errorf("probe file %s left in the workspace", ent.Name())
				}
			}
		})
	}
}

func TestSelfTestWrongUID(t *testing.T) {
	t.Parallel()
	e := newIsoEnv(t)
	needBwrap(t)
	// The probe runs as testUID, but the workspace belongs to another
	// uid: the workspace check fails, and the report says so.
	if err := os.Chown(e.ws, testUID+1, testUID+1); err != nil {
		t.Fatal(err)
	}
	r := newIsoRunner(t, "selftest-uid", sandbox.Limits{})
	rep, err := r.SelfTest(t.Context(), sandbox.SelfTestProbe{Owner: "t1", Binds: []sandbox.Bind{{Host: e.ws, Target: "/workspace"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c := checks(rep)["workspace"]; c.OK || c.Detail == "" {
		t.Errorf("workspace check = %+v", c)
	}
	if rep.OK() {
		t.Error("report OK with a failed check")
	}
}

func TestSelfTestNone(t *testing.T) {
	t.Parallel()
	r := newRunner(t, "selftest-none")
	rep, err := r.SelfTest(t.Context(), sandbox.SelfTestProbe{Owner: "t1", Binds: []sandbox.Bind{{Host: t.TempDir()}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Isolation != sandbox.IsolationNone || len(rep.Checks) != 1 || rep.Checks[0].OK ||
		!strings.Contains(rep.Checks[0].Detail, "nothing is isolated") {
		t.Errorf("report = %+v", rep)
	}
}

func TestSelfTestInvalidProbe(t *testing.T) {
	t.Parallel()
	r := newIsoRunner(t, "selftest-invalid", sandbox.Limits{})
	ws := t.TempDir()
	for _, tc := range []struct {
		name  string
		probe sandbox.SelfTestProbe
	}{
		{"no tenant", sandbox.SelfTestProbe{Binds: []sandbox.Bind{{Host: ws}}}},
		{"no binds", sandbox.SelfTestProbe{Owner: "t1"}},
		{"read-only workspace", sandbox.SelfTestProbe{Owner: "t1", Binds: []sandbox.Bind{{Host: ws, ReadOnly: true}}}},
		{"bad target", sandbox.SelfTestProbe{Owner: "t1", Binds: []sandbox.Bind{{Host: ws, Target: "/proc"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.SelfTest(t.Context(), tc.probe); !errors.Is(err, sandbox.ErrInvalidCmd) {
				t.Errorf("err = %v, want ErrInvalidCmd", err)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
