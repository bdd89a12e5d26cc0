package buildcache

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ideserver/ideserver/internal/dirsize"
	"github.com/ideserver/ideserver/sandbox"
)

// ProgramTarget is where an isolated process sees the cache program
// (read-only).
const ProgramTarget = "/opt/ideserver/gocacheprog"

// Cache is a shared build cache: a host directory in the go command's
// disk layout that only its prebuild writes (as an internal owner, see
// Prebuild), and the cache program through which other processes read it
// and write their own builds elsewhere.
type Cache struct {
	// Dir is the host directory of the shared cache. It must exist and
	// belong to the prebuild owner's uid.
	Dir string
	// Program is the host path of the cache program (see BuildProgram).
	// Processes use the shared cache once the file exists; before that
	// they build into their own cache alone.
	Program string
	// Toolchain identifies the Go installation that fills the cache
	// (see Toolchain). With it, a complete prebuild leaves a stamp
	// beside Dir (Stamp), and the same prebuild later does not run
	// again; "" means no stamp: every prebuild runs.
	Toolchain string
}

// Ready reports whether processes can use the cache: c is not nil and its
// program is built.
func (c *Cache) Ready() bool { return c != nil && programReady(c.Program) }

// Setup returns the GOCACHEPROG value and the binds of a process that
// reads c and writes its own builds into rw (a path as the process sees
// it). Under isolation the shared directory is bound read-only at target
// and the program at ProgramTarget; without, both are their host paths.
// ok is false, and the process builds alone, when c is not Ready or a
// path cannot be quoted for the go command.
func (c *Cache) Setup(isolated bool, target, rw string) (gocacheprog string, binds []sandbox.Bind, ok bool) {
	if !c.Ready() {
		return "", nil, false
	}
	prog, ro := c.Program, c.Dir
	if isolated {
		prog, ro = ProgramTarget, target
		binds = []sandbox.Bind{
			{Host: c.Dir, Target: target, ReadOnly: true},
			{Host: c.Program, Target: ProgramTarget, ReadOnly: true},
		}
	}
	var args []string
	for _, a := range []string{prog, "-ro", ro, "-rw", rw} {
		q, ok := quoteArg(a)
		if !ok {
			return "", nil, false
		}
		args = append(args, q)
	}
	return strings.Join(args, " "), binds, true
}

// quoteArg quotes a for the go command's splitting of GOCACHEPROG
// (cmd/internal/quoted): unchanged without space or quote, else in single
// or double quotes. ok is false when a holds both kinds of quote.
func quoteArg(a string) (string, bool) {
	if a != "" && !strings.ContainsAny(a, " \t\n\r'\"") {
		return a, true
	}
	if !strings.Contains(a, "'") {
		return "'" + a + "'", true
	}
	if !strings.Contains(a, `"`) {
		return `"` + a + `"`, true
	}
	return "", false
}

// GoFunc runs the go command with args in a prebuild's program directory,
// as the prebuild owner, with the shared cache as its GOCACHE (writable)
// and no GOCACHEPROG. It returns the command's output and whether it
// failed (a non-zero exit or a signal); err is for failing to run it.
type GoFunc func(ctx context.Context, args ...string) (out string, failed bool, err error)

// Prebuild says how to fill a shared cache.
type Prebuild struct {
	// Dir is the host directory of the program the prebuild builds: it
	// must exist and be empty. Prebuild writes go.mod, main.go and
	// main_test.go there.
	Dir string
	// GoVersion is the go directive of the program's go.mod.
	GoVersion string
	// Packages are the go command patterns to build; nil means {"std"}.
	Packages []string
	// Commands are the go commands run once the program is written, in
	// order, each as a GoFunc's args (for example {"build", "-o",
	// os.DevNull, "."}): they should be exactly what users' builds do,
	// with the same flags, so the cache keys match.
	Commands [][]string
	// Give, when not nil, hands each file Prebuild writes (its host path,
	// in Dir) to the prebuild owner before the go command runs.
	Give func(file string) error
	// Go runs the go command.
	Go GoFunc
	// Env is the environment Go runs the go command with. The variables
	// that decide the cache's keys (GOFLAGS, GOARCH, CC, ...) are part of
	// the stamp's key.
	Env []string
}

// Result is what a Prebuild did.
type Result struct {
	Packages int           // the packages the program imports
	Duration time.Duration // how long it took
	// Reused: the cache's stamp says the same prebuild completed
	// before, so its commands did not run again.
	Reused bool
	// Key is the stamp key of this prebuild ("" without a Toolchain);
	// stamps of what derives from the cache include it.
	Key string
}

// DefaultPackages is what a Prebuild builds when Packages is nil: the
// standard library.
var DefaultPackages = []string{"std"}

// Prebuild fills c's directory: it lists the packages of p.Packages, writes
// a program importing every one a program may import (and an empty test),
// runs p.Commands in its directory, checks that the disk did not fill
// meanwhile (the go command does not fail when it cannot write its
// cache), and then makes every file of the cache readable, and nothing
// writable, by other uids. Processes may use the cache meanwhile: they
// find what is done. When c has a Toolchain, a prebuild that completes
// leaves a stamp, and one whose stamp is there already writes the program
// but runs none of p.Commands (Result.Reused).
func (c *Cache) Prebuild(ctx context.Context, p Prebuild) (Result, error) {
	start := time.Now()
	write := func(name, data string) error {
		file := filepath.Join(p.Dir, name)
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			return fmt.Errorf("prebuild: %w", err)
		}
		if p.Give == nil {
			return nil
		}
		return p.Give(file)
	}
	if err := write("go.mod", "module prebuild\n\ngo "+p.GoVersion+"\n"); err != nil {
		return Result{}, err
	}
	pkgs := p.Packages
	if pkgs == nil {
		pkgs = DefaultPackages
	}
	list, err := p.run(ctx, append([]string{"list", "-e", "-f", "{{.ImportPath}}|{{.Name}}|{{len .GoFiles}}|{{if or .Error .DepsErrors}}error{{end}}", "--"}, pkgs...)...)
	if err != nil {
		return Result{}, fmt.Errorf("prebuild: %w", err)
	}
	imports := importable(list)
	var src bytes.Buffer
	src.WriteString("// Code generated by the build cache's prebuild. DO NOT EDIT.\n\npackage main\n\nimport (\n")
	for _, p := range imports {
		fmt.Fprintf(&src, "\t_ %q\n", p)
	}
	src.WriteString(")\n\nfunc main() {}\n")
	if err := write("main.go", src.String()); err != nil {
		return Result{}, err
	}
	if err := write("main_test.go", "package main\n\nimport \"testing\"\n\nfunc TestPrebuild(t *testing.T) {}\n"); err != nil {
		return Result{}, err
	}
	var key string
	if c.Toolchain != "" {
		key = p.key(c.Toolchain)
		if n, ok := ReadStamp(Stamp(c.Dir), key); ok && n == len(imports) && !emptyDir(c.Dir) {
			return Result{Packages: n, Duration: time.Since(start), Reused: true, Key: key}, nil
		}
		if err := RemoveStamp(Stamp(c.Dir)); err != nil {
			return Result{}, fmt.Errorf("prebuild: %w", err)
		}
	}
	for _, args := range p.Commands {
		if _, err := p.run(ctx, args...); err != nil {
			return Result{}, fmt.Errorf("prebuild: %w", err)
		}
	}
	if err := checkRoom(c.Dir); err != nil {
		return Result{}, fmt.Errorf("prebuild: %w", err)
	}
	if err := Publish(c.Dir); err != nil {
		return Result{}, err
	}
	if key != "" {
		if err := WriteStamp(Stamp(c.Dir), key, len(imports)); err != nil {
			return Result{}, fmt.Errorf("prebuild: %w", err)
		}
	}
	return Result{Packages: len(imports), Duration: time.Since(start), Key: key}, nil
}

// emptyDir reports whether dir has no entries (or cannot be read): a cache
// emptied by hand behind its stamp's back.
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// run runs p.Go; a failure is an error with the output's last lines.
func (p *Prebuild) run(ctx context.Context, args ...string) (string, error) {
	out, failed, err := p.Go(ctx, args...)
	if err == nil && failed {
		err = fmt.Errorf("go %s: %s", args[0], sandbox.LastLines(out, 20))
	}
	return out, err
}

// importable returns the packages of go list lines "path|name|files|error"
// a program outside the standard library can import: no errors, Go files,
// not a command, nothing internal or vendored.
func importable(list string) []string {
	var out []string
	for line := range strings.SplitSeq(strings.TrimSpace(list), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 || f[3] != "" || f[2] == "0" || f[1] == "main" {
			continue
		}
		p := f[0]
		if strings.HasPrefix(p, "vendor/") || p == "internal" || strings.HasPrefix(p, "internal/") ||
			strings.Contains(p, "/internal/") || strings.HasSuffix(p, "/internal") {
			continue
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Publish makes the shared cache dir readable, and not writable, by other
// uids: directories 0755, files 0644, whatever the umask the go command
// ran with. It goes through an os.Root, so no symlink leads it outside.
func Publish(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("publish build cache: %w", err)
	}
	defer root.Close()
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return root.Chmod(p, 0o755)
		case d.Type().IsRegular():
			return root.Chmod(p, 0o644)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish build cache: make readable: %w", err)
	}
	return nil
}

// Size returns the bytes the regular files of the shared cache take.
func (c *Cache) Size() (int64, error) {
	root, err := os.OpenRoot(c.Dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	return dirsize.Regular(root.FS())
}
