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
		"GOTELEMETRY=off",
		"LANG=C.UTF-8",
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
