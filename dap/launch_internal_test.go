package dap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

func launchFixture(t *testing.T) launchEnv {
	t.Helper()
	root := t.TempDir()
	workspaceDir := filepath.Join(root, "workspaceDir")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(workspaceDir, "sub"), filepath.Join(workspaceDir, "nested", "mod"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"go.mod": "module m\n", "main.go": "package main\n", "main_test.go": "package main\n",
		"nested/mod/go.mod": "module n\n", "nested/mod/main.go": "package main\n",
	} {
		if err := os.WriteFile(filepath.Join(workspaceDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(workspaceDir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/sh", filepath.Join(workspaceDir, "sh")); err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(root, "priv")
	sp, err := newSessionPaths(workspace.PathsConfig{Roots: []workspace.Root{
		{Client: workspace.ClientWorkspace, Process: workspaceDir},
		{Client: workspace.ClientGoRoot, Process: filepath.Join(root, "goroot"), ReadOnly: true},
	}}, priv, priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return launchEnv{paths: sp, workspaceReal: workspaceDir, workspaceProc: workspaceDir, output: filepath.Join(priv, "__debug_bin")}
}

// TestCheckLaunchRefuses covers the launch checks of DAP-01 (mode exec,
// program outside the workspace or a symlink out), DAP-03 (env, dlvCwd,
// cwd), DAP-04 (buildFlags), DAP-05 (output) and DAP-06 (core, replay,
// substitutePath).
func TestCheckLaunchRefuses(t *testing.T) {
	t.Parallel()
	env := launchFixture(t)
	for _, tc := range []struct {
		name   string
		args   string
		reason string
	}{
		{"not an object", `[1]`, reasonMalformed},
		{"not JSON", `{`, reasonMalformed},
		{"exec mode", `{"mode":"exec","program":"/bin/sh","args":["-c","id"]}`, reasonMode},
		{"core mode", `{"mode":"core","program":"/workspace","coreFilePath":"/etc/shadow"}`, reasonArgument},
		{"replay mode", `{"mode":"replay","program":"/workspace"}`, reasonMode},
		{"remote mode", `{"mode":"remote","program":"/workspace"}`, reasonMode},
		{"mode not a string", `{"mode":1,"program":"/workspace"}`, reasonMode},
		{"no program", `{"mode":"debug"}`, reasonPath},
		{"program outside", `{"program":"/etc"}`, reasonPath},
		{"program host path", `{"program":"/bin/sh"}`, reasonPath},
		{"program dot dot", `{"program":"../outside"}`, reasonPath},
		{"program workspace dot dot", `{"program":"/workspace/../outside"}`, reasonPath},
		{"program goroot", `{"program":"/goroot/src/cmd/go"}`, reasonPath},
		{"program symlink out", `{"program":"/workspace/escape"}`, reasonPath},
		{"program symlink to sh", `{"program":"sh"}`, reasonPath},
		{"program missing", `{"program":"nope"}`, reasonPath},
		{"cwd outside", `{"program":".","cwd":"../.."}`, reasonPath},
		{"cwd root", `{"program":".","cwd":"/"}`, reasonPath},
		{"cwd symlink out", `{"program":".","cwd":"escape"}`, reasonPath},
		{"dlvCwd", `{"program":".","dlvCwd":"/"}`, reasonArgument},
		{"output", `{"program":".","output":"/etc/passwd"}`, reasonArgument},
		{"substitutePath", `{"program":".","substitutePath":[{"from":"/workspace","to":"/"}]}`, reasonArgument},
		{"backend rr", `{"program":".","backend":"rr"}`, reasonArgument},
		{"traceDirPath", `{"program":".","traceDirPath":"/tmp"}`, reasonArgument},
		{"stdinFrom", `{"program":".","stdinFrom":"/etc/shadow"}`, reasonArgument},
		{"stdoutTo", `{"program":".","stdoutTo":"/tmp/x"}`, reasonArgument},
		{"processId", `{"program":".","processId":1}`, reasonArgument},
		{"outputMode local", `{"program":".","outputMode":"local"}`, reasonArgument},
		{"console terminal", `{"program":".","console":"integratedTerminal"}`, reasonArgument},
		{"toolexec", `{"program":".","buildFlags":"-toolexec=/bin/sh"}`, reasonBuildFlags},
		{"toolexec list", `{"program":".","buildFlags":["-toolexec","/bin/sh"]}`, reasonBuildFlags},
		{"exec flag", `{"program":".","buildFlags":"-exec /bin/sh"}`, reasonBuildFlags},
		{"overlay", `{"program":".","buildFlags":"-overlay=/tmp/o.json"}`, reasonBuildFlags},
		{"o flag", `{"program":".","buildFlags":"-o /tmp/x"}`, reasonBuildFlags},
		{"ldflags extld", `{"program":".","buildFlags":"-ldflags=-extld=/bin/sh"}`, reasonBuildFlags},
		{"quoted toolexec", `{"program":".","buildFlags":"-tags=x '-toolexec=/bin/sh'"}`, reasonBuildFlags},
		{"gcflags importcfg", `{"program":".","buildFlags":"-gcflags=-importcfg=/tmp/x"}`, reasonBuildFlags},
		{"gcflags cpuprofile", `{"program":".","buildFlags":"-gcflags 'all=-N -cpuprofile=/tmp/p'"}`, reasonBuildFlags},
		{"tags with space trick", `{"program":".","buildFlags":["-tags=a -toolexec=x"]}`, reasonBuildFlags},
		{"unterminated quote", `{"program":".","buildFlags":"-tags='x"}`, reasonBuildFlags},
		{"buildFlags number", `{"program":".","buildFlags":3}`, reasonMalformed},
		{"LD_PRELOAD", `{"program":".","env":{"LD_PRELOAD":"/tmp/x.so"}}`, reasonEnv},
		{"GOFLAGS", `{"program":".","env":{"GOFLAGS":"-toolexec=/bin/sh"}}`, reasonEnv},
		{"GODEBUG", `{"program":".","env":{"GODEBUG":"x=1"}}`, reasonEnv},
		{"GOTOOLCHAIN", `{"program":".","env":{"GOTOOLCHAIN":"go1.99"}}`, reasonEnv},
		{"CC", `{"program":".","env":{"CC":"/bin/sh"}}`, reasonEnv},
		{"CGO_LDFLAGS", `{"program":".","env":{"CGO_LDFLAGS":"-x"}}`, reasonEnv},
		{"PATH", `{"program":".","env":{"PATH":"/tmp"}}`, reasonEnv},
		{"HOME", `{"program":".","env":{"HOME":"/"}}`, reasonEnv},
		{"unset marker", `{"program":".","env":{"IDESERVER_SANDBOX":null}}`, reasonEnv},
		{"lower case gowork", `{"program":".","env":{"gowork":"/x"}}`, reasonEnv},
		{"bad env name", `{"program":".","env":{"A=B":"x"}}`, reasonEnv},
		{"env not object", `{"program":".","env":["A=B"]}`, reasonMalformed},
		{"env number", `{"program":".","env":{"A":1}}`, reasonMalformed},
		{"args not strings", `{"program":".","args":[1]}`, reasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, r := checkLaunch(json.RawMessage(tc.args), env)
			if r == nil {
				t.Fatalf("checkLaunch(%s) accepted", tc.args)
			}
			if r.Reason != tc.reason {
				t.Errorf("reason %q (%s), want %q", r.Reason, r.Message, tc.reason)
			}
			if r.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

func TestCheckLaunchAccepts(t *testing.T) {
	t.Parallel()
	env := launchFixture(t)
	workspaceDir := env.workspaceReal
	for _, tc := range []struct {
		name                   string
		args                   string
		mode, program, dlvCwd  string
		buildFlags             []string
		wantArgs               []string
		wantCwd                string
		wantNoEnv, wantNoDebug bool
	}{
		{name: "workspace root", args: `{"mode":"debug","program":"/workspace"}`, mode: "debug", program: workspaceDir, dlvCwd: workspaceDir, wantNoEnv: true},
		{name: "default mode, relative", args: `{"program":"."}`, mode: "debug", program: workspaceDir, dlvCwd: workspaceDir, wantNoEnv: true},
		{name: "file", args: `{"program":"main.go","noDebug":true}`, mode: "debug", program: filepath.Join(workspaceDir, "main.go"), dlvCwd: workspaceDir, wantNoEnv: true, wantNoDebug: true},
		{name: "auto test file", args: `{"mode":"auto","program":"/workspace/main_test.go"}`, mode: "test", program: workspaceDir, dlvCwd: workspaceDir, wantNoEnv: true},
		{name: "auto main", args: `{"mode":"auto","program":"/workspace/main.go"}`, mode: "debug", program: filepath.Join(workspaceDir, "main.go"), dlvCwd: workspaceDir, wantNoEnv: true},
		{name: "nested module", args: `{"program":"nested/mod"}`, mode: "debug", program: filepath.Join(workspaceDir, "nested", "mod"), dlvCwd: filepath.Join(workspaceDir, "nested", "mod"), wantNoEnv: true},
		{name: "flags and args", args: `{"program":".","buildFlags":"-tags=a,b -race -gcflags 'all=-N -l'","args":["/workspace/sub","x"],"cwd":"/workspace/sub","env":{"FOO":"1","GOMAXPROCS":"2","BAR":null}}`,
			mode: "debug", program: workspaceDir, dlvCwd: workspaceDir, buildFlags: []string{"-tags=a,b", "-race", "-gcflags=all=-N -l"},
			wantArgs: []string{filepath.Join(workspaceDir, "sub"), "x"}, wantCwd: filepath.Join(workspaceDir, "sub")},
		{name: "double dash flags", args: `{"program":".","buildFlags":["--tags","x"]}`, mode: "debug", program: workspaceDir, dlvCwd: workspaceDir, buildFlags: []string{"-tags=x"}, wantNoEnv: true},
		{name: "default backend", args: `{"program":".","backend":"default","console":"internalConsole","showLog":true}`, mode: "debug", program: workspaceDir, dlvCwd: workspaceDir, wantNoEnv: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, mode, r := checkLaunch(json.RawMessage(tc.args), env)
			if r != nil {
				t.Fatalf("refused: %v", r)
			}
			if mode != tc.mode || out["mode"] != tc.mode {
				t.Errorf("mode %q/%v, want %q", mode, out["mode"], tc.mode)
			}
			if out["program"] != tc.program {
				t.Errorf("program %v, want %v", out["program"], tc.program)
			}
			if out["dlvCwd"] != tc.dlvCwd {
				t.Errorf("dlvCwd %v, want %v", out["dlvCwd"], tc.dlvCwd)
			}
			if out["output"] != env.output || out["outputMode"] != "remote" {
				t.Errorf("output %v, outputMode %v", out["output"], out["outputMode"])
			}
			for _, k := range []string{"backend", "console", "showLog"} {
				if _, ok := out[k]; ok {
					t.Errorf("%s forwarded", k)
				}
			}
			if tc.buildFlags != nil && jsonString(out["buildFlags"]) != jsonString(tc.buildFlags) {
				t.Errorf("buildFlags %v, want %v", out["buildFlags"], tc.buildFlags)
			}
			if tc.wantArgs != nil && jsonString(out["args"]) != jsonString(tc.wantArgs) {
				t.Errorf("args %v, want %v", out["args"], tc.wantArgs)
			}
			if tc.wantCwd != "" && out["cwd"] != tc.wantCwd {
				t.Errorf("cwd %v, want %v", out["cwd"], tc.wantCwd)
			}
			if _, ok := out["env"]; ok == tc.wantNoEnv {
				t.Errorf("env %v", out["env"])
			}
			if nd, _ := out["noDebug"].(bool); nd != tc.wantNoDebug {
				t.Errorf("noDebug %v", out["noDebug"])
			}
		})
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCheckLaunchConsole: console "integratedTerminal" is accepted only
// where terminals are possible, and then gets outputMode "local" (the
// program inherits the terminal dlv runs in); the launch's other checks
// (cwd, env, args) apply unchanged.
func TestCheckLaunchConsole(t *testing.T) {
	t.Parallel()
	env := launchFixture(t)
	term := env
	term.terminal = true
	for _, tc := range []struct {
		name   string
		env    launchEnv
		args   string
		reason string // "" accepted
	}{
		{"no terminals", env, `{"program":".","console":"integratedTerminal"}`, reasonArgument},
		{"terminal", term, `{"program":".","console":"integratedTerminal","args":["/workspace/sub"],"cwd":"sub","env":{"FOO":"1"}}`, ""},
		{"terminal outputMode local", term, `{"program":".","console":"integratedTerminal","outputMode":"local"}`, ""},
		{"terminal outputMode remote", term, `{"program":".","console":"integratedTerminal","outputMode":"remote"}`, reasonArgument},
		{"external terminal", term, `{"program":".","console":"externalTerminal"}`, reasonArgument},
		{"console not a string", term, `{"program":".","console":true}`, reasonArgument},
		{"terminal cwd outside", term, `{"program":".","console":"integratedTerminal","cwd":"/"}`, reasonPath},
		{"terminal LD_PRELOAD", term, `{"program":".","console":"integratedTerminal","env":{"LD_PRELOAD":"/tmp/x.so"}}`, reasonEnv},
		{"internal console local output", term, `{"program":".","outputMode":"local"}`, reasonArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, r := checkLaunch(json.RawMessage(tc.args), tc.env)
			if tc.reason != "" {
				if r == nil || r.Reason != tc.reason {
					t.Fatalf("checkLaunch(%s) = %v, want reason %s", tc.args, r, tc.reason)
				}
				return
			}
			if r != nil {
				t.Fatalf("refused: %v", r)
			}
			if out["outputMode"] != "local" {
				t.Errorf("outputMode %v, want local", out["outputMode"])
			}
			if _, ok := out["console"]; ok {
				t.Error("console forwarded")
			}
		})
	}
}

// TestCheckLaunchIsolated: under bubblewrap the checked host paths are
// forwarded as dlv sees them: the workspace at its process path, the
// debug binary in the session directory's target.
func TestCheckLaunchIsolated(t *testing.T) {
	t.Parallel()
	env := launchFixture(t)
	sp, err := newSessionPaths(workspace.PathsConfig{
		Roots:   []workspace.Root{{Client: workspace.ClientWorkspace, Process: "/workspace"}},
		Aliases: []workspace.Alias{{Dir: env.workspaceReal, Client: workspace.ClientWorkspace}},
	}, "/srv/tmp/dap-1", sessionTarget, nil)
	if err != nil {
		t.Fatal(err)
	}
	env.paths, env.workspaceProc, env.output = sp, "/workspace", sessionTarget+"/__debug_bin"
	out, _, r := checkLaunch(json.RawMessage(`{"program":"nested/mod/main.go","cwd":"sub","args":["/workspace/sub","main.go"]}`), env)
	if r != nil {
		t.Fatalf("refused: %v", r)
	}
	for k, want := range map[string]string{
		"program": "/workspace/nested/mod/main.go", "cwd": "/workspace/sub", "dlvCwd": "/workspace/nested/mod",
		"output": sessionTarget + "/__debug_bin", "args": `["/workspace/sub","main.go"]`,
	} {
		got, _ := out[k].(string)
		if k == "args" {
			got = jsonString(out[k])
		}
		if got != want {
			t.Errorf("%s = %v, want %s", k, out[k], want)
		}
	}
	if _, _, r := checkLaunch(json.RawMessage(`{"program":"/workspace/escape"}`), env); r == nil || r.Reason != reasonPath {
		t.Errorf("symlink out: %v", r)
	}
}
