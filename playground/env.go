package playground

import (
	"path/filepath"
	"strconv"

	"github.com/ideserver/ideserver/sandbox"
)

// Where things appear inside the sandbox under bubblewrap isolation.
const (
	// cacheTarget is the shared build cache, read-only for runs and
	// read-write for the prebuild.
	cacheTarget = "/gocache"
	// sandboxTmp is the sandbox's own /tmp: bubblewrap mounts a fresh
	// tmpfs there for every process, so what a build or a program writes
	// below it is gone when it ends.
	sandboxTmp = "/tmp"
)

// goFlags is GOFLAGS of every build, vet and prebuild, fixed: nothing is
// read from a go.env file (GOENV=off) or from the server's environment.
// -trimpath keeps host and sandbox paths out of binaries, and makes build
// and vet compile dependencies with the same flags, so that the prebuilt
// cache serves both.
const goFlags = "-mod=mod -trimpath"

// telemetryOff is the go command's XDG_CONFIG_HOME: a relative path, so
// it has no configuration directory and telemetry is off (see goEnv).
const telemetryOff = "no-config"

// scratchDir is where a command of the run whose directory root is keeps
// HOME, TMPDIR, GOPATH and its writable build cache: the sandbox's fresh
// /tmp under isolation, else a directory of the run (removed with it).
func (s *Service) scratchDir(root string) string {
	if s.isolated() {
		return sandboxTmp
	}
	return filepath.Join(root, "tmp")
}

// isolated reports whether processes run inside bubblewrap.
func (s *Service) isolated() bool { return s.opts.Runner.Isolation() == sandbox.IsolationBwrap }

// binds returns the binds of a process with its own binds own: under
// bubblewrap Options.Binds first, then own, in a new slice.
func (s *Service) binds(own ...sandbox.Bind) []sandbox.Bind {
	var out []sandbox.Bind
	if s.isolated() {
		out = append(out, s.opts.Binds...)
	}
	return append(out, own...)
}

// goEnv is the complete environment of the go command for a run or the
// prebuild: scratch holds HOME, TMPDIR, GOPATH and GOCACHE; gocacheprog,
// when not "", is GOCACHEPROG. Host paths of GOROOT are translated by the
// sandbox (GOROOT is bound read-only by Options.Binds).
func (s *Service) goEnv(scratch, gocacheprog string) []string {
	env := []string{
		"PATH=" + filepath.Join(s.opts.GOROOT, "bin") + ":/usr/bin:/bin",
		"GOROOT=" + s.opts.GOROOT,
		"HOME=" + scratch,
		"TMPDIR=" + scratch,
		"GOPATH=" + filepath.Join(scratch, "gopath"),
		"GOMODCACHE=" + filepath.Join(scratch, "gopath", "pkg", "mod"),
		"GOCACHE=" + filepath.Join(scratch, "gocache"),
		"GOENV=off",
		"GOFLAGS=" + goFlags,
		"GO111MODULE=on",
		"GOWORK=off",
		"CGO_ENABLED=0",
		"GOTOOLCHAIN=local",
		"GOPROXY=off",
		"GOSUMDB=off",
		"LANG=C.UTF-8",
		// Telemetry off, for the go command and every tool it runs: each
		// command has a fresh HOME, where telemetry would be "local", so
		// the go command would start a second go process (its telemetry
		// sidecar) and every tool would create counter files, on each
		// run. A relative XDG_CONFIG_HOME makes os.UserConfigDir fail (as
		// documented), and without a configuration directory telemetry
		// is off; a child that still starts does nothing
		// (GO_TELEMETRY_CHILD=2). GOTELEMETRY is only reported by go env.
		"XDG_CONFIG_HOME=" + telemetryOff,
		"GO_TELEMETRY_CHILD=2",
	}
	if gocacheprog != "" {
		env = append(env, "GOCACHEPROG="+gocacheprog)
	}
	return env
}

// runEnv is the environment of a program: HOME and TMPDIR in scratch, a
// soft memory limit, short tracebacks.
func (s *Service) runEnv(scratch string) []string {
	return []string{
		"HOME=" + scratch, "TMPDIR=" + scratch, "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
		"GOMEMLIMIT=" + strconv.FormatInt(s.opts.MemoryLimit*3/4, 10),
		"GOTRACEBACK=single",
	}
}
