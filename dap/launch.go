package dap

import (
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ideserver/ideserver/workspace"
)

// launchEnv is what checking a launch needs to know of the session.
type launchEnv struct {
	paths         *sessionPaths // maps args to dlv's process paths
	workspaceReal string        // the workspace's host directory, symlinks resolved: paths are checked there
	// workspaceProc is workspaceReal as dlv sees it: itself without
	// isolation, the workspace's process path under bubblewrap.
	workspaceProc string
	output        string // the binary dlv builds, as dlv sees it
	// terminal: console "integratedTerminal" is possible (the server has
	// terminals and the client said supportsRunInTerminalRequest). The
	// launch then gets outputMode "local": the caller runs dlv in a
	// terminal whose PTY the program inherits.
	terminal bool
}

// process returns real, a host path in the workspace with symlinks
// resolved (workspaceReal or below), as dlv sees it; any other path is "".
func (env launchEnv) process(real string) string {
	rel, err := filepath.Rel(env.workspaceReal, real)
	if err != nil || rel != "." && !filepath.IsLocal(rel) {
		return ""
	}
	return path.Join(env.workspaceProc, filepath.ToSlash(rel))
}

// Launch arguments by treatment.
var (
	// refusedLaunchKeys reach beyond the workspace or override what the
	// proxy sets.
	refusedLaunchKeys = map[string]string{
		"dlvCwd":              "the proxy chooses dlv's directory",
		"output":              "the proxy chooses where the debug binary is built",
		"substitutePath":      "paths are mapped by the server",
		"guessSubstitutePath": "paths are mapped by the server",
		"backend":             "only the default backend is available",
		"traceDirPath":        "replay is not available",
		"coreFilePath":        "core files are not available",
		"stdinFrom":           "file redirection is not available",
		"stdoutTo":            "file redirection is not available; output arrives as output events",
		"stderrTo":            "file redirection is not available; output arrives as output events",
		"processId":           "attaching is not available",
		"waitFor":             "attaching is not available",
	}
	// passLaunchKeys are forwarded unchanged (strings still get their
	// client paths mapped).
	passLaunchKeys = []string{
		"stopOnEntry", "stackTraceDepth", "maxStringLen", "maxArrayValues",
		"showGlobalVariables", "showRegisters", "hideSystemGoroutines",
		"goroutineFilters", "showPprofLabels", "showRawStrings",
		"followExec", "followExecRegex", "name", "type", "request",
		"__sessionId", "__configurationTarget", "__restart",
	}
)

// checkLaunch validates the arguments of a launch request and returns the
// arguments to forward, with program, cwd and args mapped to dlv's
// process paths (program and cwd checked on the host first) and dlvCwd,
// output and outputMode set by the proxy (outputMode "local"
// exactly when the launch asked for console "integratedTerminal", which
// env.terminal allows). Unknown keys are dropped.
// It also returns the effective mode, "debug" or "test" ("auto" resolved),
// for metrics.
func checkLaunch(raw json.RawMessage, env launchEnv) (map[string]any, string, *refusal) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, "", refuse(reasonMalformed, "The launch arguments are not valid JSON.")
	}
	in, ok := v.(map[string]any)
	if !ok {
		return nil, "", refuse(reasonMalformed, "The launch arguments must be a JSON object.")
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if why, bad := refusedLaunchKeys[k]; bad {
			if k == "backend" && (in[k] == "default" || in[k] == "") {
				continue
			}
			return nil, "", refuse(reasonArgument, "The launch argument %q is not allowed: %s.", k, why)
		}
	}
	out := make(map[string]any)
	for _, k := range passLaunchKeys {
		if e, ok := in[k]; ok {
			out[k] = e
		}
	}

	inTerminal := false
	switch c := in["console"]; c {
	case nil, "", "internalConsole":
	case "integratedTerminal":
		if !env.terminal {
			return nil, "", refuse(reasonArgument, "console \"integratedTerminal\" needs a client that sets supportsRunInTerminalRequest in initialize and attaches to the terminal named in the ideserverTerminal event, on a server with terminals; leave console out or use \"internalConsole\".")
		}
		inTerminal = true
	default:
		return nil, "", refuse(reasonArgument, "console %v is not available: use \"internalConsole\" (output events) or \"integratedTerminal\" (an ideserver terminal).", jsonText(c))
	}
	if om, ok := in["outputMode"]; ok {
		switch {
		case inTerminal && om != "local":
			return nil, "", refuse(reasonArgument, "With console \"integratedTerminal\" the program's output goes to its terminal: leave outputMode out.")
		case !inTerminal && om != "remote":
			return nil, "", refuse(reasonArgument, "outputMode must be \"remote\": program output arrives as output events.")
		}
	}

	mode := "debug"
	if m, ok := in["mode"]; ok {
		s, isStr := m.(string)
		if !isStr {
			return nil, "", refuse(reasonMode, "mode must be a string: \"debug\", \"test\" or \"auto\".")
		}
		switch s {
		case "debug", "test", "auto", "":
			if s != "" {
				mode = s
			}
		default:
			return nil, "", refuse(reasonMode, "mode %q is not allowed: use \"debug\", \"test\" or \"auto\" (exec, core, replay and remote modes reach beyond the workspace).", s)
		}
	}
	if nd, ok := in["noDebug"]; ok {
		b, isBool := nd.(bool)
		if !isBool {
			return nil, "", refuse(reasonMalformed, "noDebug must be true or false.")
		}
		out["noDebug"] = b
	}

	// program: a package directory or a .go file inside the workspace.
	progArg, _ := in["program"].(string)
	if progArg == "" {
		return nil, "", refuse(reasonPath, "The launch request needs program: a package directory or file in the workspace, e.g. \"/workspace\" or \".\".")
	}
	// Paths are resolved inside the workspace's root only: what a
	// symlink outside points at is never looked at (SBX-12).
	root, err := os.OpenRoot(env.workspaceReal)
	if err != nil {
		return nil, "", refuse(reasonPath, "The workspace cannot be opened.")
	}
	defer root.Close()
	prog, fi, r := workspacePath(env, root, progArg, "program")
	if r != nil {
		return nil, "", r
	}
	if mode == "auto" {
		mode = "debug"
		if !fi.IsDir() && strings.HasSuffix(prog, "_test.go") {
			mode = "test"
		}
	}
	pkgDir := prog
	if !fi.IsDir() {
		pkgDir = filepath.Dir(prog)
		if mode == "test" {
			prog = pkgDir // tests are built per package
		}
	}
	out["mode"] = mode
	out["program"] = env.process(prog)

	if c, ok := in["cwd"]; ok && c != "" {
		s, isStr := c.(string)
		if !isStr {
			return nil, "", refuse(reasonMalformed, "cwd must be a string.")
		}
		cwd, fi, r := workspacePath(env, root, s, "cwd")
		if r != nil {
			return nil, "", r
		}
		if !fi.IsDir() {
			return nil, "", refuse(reasonPath, "cwd %q is not a directory in the workspace.", s)
		}
		out["cwd"] = env.process(cwd)
	}

	if a, ok := in["args"]; ok && a != nil {
		list, isList := a.([]any)
		if !isList {
			return nil, "", refuse(reasonMalformed, "args must be a list of strings.")
		}
		for _, e := range list {
			if _, isStr := e.(string); !isStr {
				return nil, "", refuse(reasonMalformed, "args must be a list of strings.")
			}
		}
		mapped, _ := env.paths.rewriteToProcess(list, false)
		out["args"] = mapped
	}

	if bf, ok := in["buildFlags"]; ok && bf != nil {
		flags, r := checkBuildFlags(bf)
		if r != nil {
			return nil, "", r
		}
		if len(flags) > 0 {
			out["buildFlags"] = flags
		}
	}

	if e, ok := in["env"]; ok && e != nil {
		m, r := checkEnv(e)
		if r != nil {
			return nil, "", r
		}
		if len(m) > 0 {
			out["env"] = m
		}
	}

	out["dlvCwd"] = env.process(moduleDir(root, pkgDir, env.workspaceReal))
	out["output"] = env.output
	out["outputMode"] = "remote"
	if inTerminal {
		// dlv's stdio is the terminal's PTY; the program inherits it.
		out["outputMode"] = "local"
	}
	return out, mode, nil
}

// workspacePath maps a client path (cleanClientPath) to a host path inside
// the workspace, symlinks resolved inside the workspace's root (open as
// root) only, and returns it with its FileInfo; what names a missing file
// is refused as well. A symlink leading out of the workspace is refused without its
// target being looked at, so the answer is the same whatever exists on
// the host.
func workspacePath(env launchEnv, root *os.Root, p, what string) (string, os.FileInfo, *refusal) {
	clean, ok := cleanClientPath(p)
	var rel string
	if ok {
		rel, ok = under(clean, workspace.ClientWorkspace)
	}
	if !ok {
		return "", nil, refuse(reasonPath, "%s %q is outside the workspace: use a path under /workspace or relative to it.", what, p)
	}
	real, fi, err := resolveIn(root, env.workspaceReal, rel)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil, refuse(reasonPath, "%s %q does not exist in the workspace.", what, p)
	case errors.Is(err, errEscapes):
		return "", nil, refuse(reasonPath, "%s %q leads outside the workspace (through a symbolic link).", what, p)
	case err != nil:
		return "", nil, refuse(reasonPath, "%s %q cannot be resolved in the workspace.", what, p)
	}
	return real, fi, nil
}

// within reports whether p is root or below it (both cleaned host paths).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// moduleDir returns the nearest directory from dir up to rootDir (root's
// host directory) that holds go.mod, or rootDir: dlv builds in its working
// directory, and `go build` needs to find the module there. go.mod is
// looked up inside root, so a go.mod symlink leading out of the workspace
// counts as none.
func moduleDir(root *os.Root, dir, rootDir string) string {
	for d := dir; within(rootDir, d); d = filepath.Dir(d) {
		rel, err := filepath.Rel(rootDir, d)
		if err != nil {
			break
		}
		if fi, err := root.Stat(filepath.Join(rel, "go.mod")); err == nil && fi.Mode().IsRegular() {
			return d
		}
		if d == rootDir {
			break
		}
	}
	return rootDir
}
