package dap

import (
	"regexp"
	"slices"
	"strings"
)

// Environment variables a launch may not set or unset: they steer the
// dynamic loader, the Go toolchain (dlv runs `go build` with its own
// environment, which the launch's env changes), the C toolchain, shells,
// or the sandbox.
var (
	deniedEnvPrefixes = []string{"LD_", "DYLD_", "GO", "CGO_", "IDESERVER_", "BASH_FUNC_"}
	allowedGoRuntime  = []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GOTRACEBACK"}
	deniedEnv         = []string{"CC", "CXX", "FC", "AR", "PKG_CONFIG", "PATH", "HOME", "TMPDIR", "SHELL", "BASH_ENV", "ENV", "IFS", "PS4", "CDPATH", "GCCGO", "USER"}
	envKeyPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// checkEnv validates the launch's env map (values strings, or null to
// unset) and returns it.
func checkEnv(v any) (map[string]any, *refusal) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, refuse(reasonMalformed, "env must be an object of names to strings.")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !envKeyPattern.MatchString(k) || len(k) > 256 {
			return nil, refuse(reasonEnv, "The environment variable name %q is not valid.", truncate(k, 60))
		}
		if envDenied(k) {
			return nil, refuse(reasonEnv, "The environment variable %s may not be set by a launch: it controls the loader, the Go or C toolchain, or the sandbox.", k)
		}
		switch val := m[k].(type) {
		case nil:
		case string:
			if strings.IndexByte(val, 0) >= 0 {
				return nil, refuse(reasonEnv, "The value of %s holds a NUL byte.", k)
			}
		default:
			return nil, refuse(reasonMalformed, "The value of %s must be a string or null.", k)
		}
	}
	return m, nil
}

func envDenied(k string) bool {
	u := strings.ToUpper(k)
	if slices.Contains(allowedGoRuntime, u) {
		return false
	}
	if slices.Contains(deniedEnv, u) {
		return true
	}
	for _, p := range deniedEnvPrefixes {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}
