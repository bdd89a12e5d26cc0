package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// selfTestOwner is the owner key the start-up self-test's probe runs as: an
// internal identity, which no tenant or user id can spell. It gets a uid of
// the range like any owner (recorded once).
const selfTestOwner = workspace.SelfTestOwner

// toolsTarget is where the tools directory (the published gopls and dlv)
// appears inside the sandbox, read-only.
const toolsTarget = "/opt/ideserver/bin"

// errNoIsolation is wrapped by decideIsolation's refusals.
var errNoIsolation = errors.New("refusing to start without isolation")

// isolationFacts is what decideIsolation decides from.
type isolationFacts struct {
	Mode        string // isolation.mode: auto, bwrap or none
	MultiTenant bool   // portal JWTs are configured, or the store has tenants other than the local one
	BwrapOK     bool   // bubblewrap was found and passed the self-test (not asked with mode none)
	Problem     string // why bubblewrap does not work, when !BwrapOK; for messages
	Insecure    bool   // isolation.insecure_no_isolation (--insecure-no-isolation)
}

// decideIsolation returns the isolation mode to run in, and a warning to
// log when that is none although isolation was wanted or the deployment is
// multi-tenant. It refuses (an error wrapping errNoIsolation, saying how to
// fix it):
//   - mode bwrap when bubblewrap does not work, flag or not;
//   - mode auto when bubblewrap does not work and the deployment is
//     multi-tenant, unless Insecure;
//   - mode none when the deployment is multi-tenant, unless Insecure.
//
// A pure function: serve gathers the facts.
func decideIsolation(f isolationFacts) (sandbox.Isolation, string, error) {
	const multi = "this deployment is multi-tenant (portal JWTs are configured, or the database has tenants other than " + localTenant + ")"
	switch f.Mode {
	case isolationBwrap:
		if f.BwrapOK {
			return sandbox.IsolationBwrap, "", nil
		}
		return "", "", fmt.Errorf("%w: isolation.mode is bwrap but bubblewrap does not work: %s; fix that (install bubblewrap, see isolation.bwrap_path) or set isolation.mode to auto or none", errNoIsolation, f.Problem)
	case isolationAuto:
		if f.BwrapOK {
			return sandbox.IsolationBwrap, "", nil
		}
		if !f.MultiTenant {
			return sandbox.IsolationNone, "ISOLATION IS OFF: bubblewrap does not work (" + f.Problem + "); tenant processes run as the server's user with access to everything it can reach. Acceptable for one trusted user only; set isolation.mode to bwrap to refuse to start instead", nil
		}
		if f.Insecure {
			return sandbox.IsolationNone, "ISOLATION IS OFF although " + multi + ": bubblewrap does not work (" + f.Problem + ") and --insecure-no-isolation is set; every tenant's processes can read and kill every other's", nil
		}
		return "", "", fmt.Errorf("%w: bubblewrap does not work (%s) and %s; fix bubblewrap, or pass --insecure-no-isolation (isolation.insecure_no_isolation) to serve everyone without isolation", errNoIsolation, f.Problem, multi)
	case isolationNone:
		if !f.MultiTenant {
			return sandbox.IsolationNone, "", nil
		}
		if f.Insecure {
			return sandbox.IsolationNone, "ISOLATION IS OFF although " + multi + ": isolation.mode is none and --insecure-no-isolation is set; every tenant's processes can read and kill every other's", nil
		}
		return "", "", fmt.Errorf("%w: isolation.mode is none and %s; set isolation.mode to auto or bwrap, or pass --insecure-no-isolation (isolation.insecure_no_isolation) to serve everyone without isolation", errNoIsolation, multi)
	default:
		return "", "", fmt.Errorf("isolation.mode %q is not auto, bwrap or none", f.Mode)
	}
}

// multiTenant reports whether the deployment serves more than the local
// user's tenant: portal JWTs are configured, or the store holds another
// tenant.
func multiTenant(cfg *Config, db *store.DB) (bool, error) {
	if cfg.Auth.JWT.HMACSecretFile != "" || cfg.Auth.JWT.PublicKeyFile != "" {
		return true, nil
	}
	tenants, err := db.ListTenants()
	if err != nil {
		return false, fmt.Errorf("list tenants: %w", err)
	}
	for _, t := range tenants {
		if t.ID != localTenant {
			return true, nil
		}
	}
	return false, nil
}

// isolationSetup is the runner serve uses and how it isolates.
type isolationSetup struct {
	runner *sandbox.Runner
	// ownerUID, when not nil, gives each owner (each user, each internal
	// identity) its own host uid (bwrap as root); its files must then be
	// reachable by that uid.
	ownerUID func(owner string) (int, error)
	// uids is the claim on the uid range while ownerUID is set (nil
	// otherwise); the caller closes it after the runner.
	uids *uidClaim
}

// mode returns the isolation in force.
func (s isolationSetup) mode() sandbox.Isolation { return s.runner.Isolation() }

// ownerUIDs reports whether each owner runs as its own host uid.
func (s isolationSetup) ownerUIDs() bool { return s.ownerUID != nil }

// newIsolation decides the isolation mode (see decideIsolation), builds the
// sandbox runner for it, sweeps what an earlier run left, and sets the
// data directory's mode: 0711 with per-owner uids (they traverse it to
// their bind sources), else 0700. With auto or bwrap it tries bubblewrap
// first and runs the self-test. The caller closes the runner.
func newIsolation(ctx context.Context, cfg *Config, db *store.DB, logger *slog.Logger) (isolationSetup, error) {
	c := cfg.Isolation
	multi, err := multiTenant(cfg, db)
	if err != nil {
		return isolationSetup{}, err
	}
	facts := isolationFacts{Mode: c.Mode, MultiTenant: multi, Insecure: c.InsecureNoIsolation}
	slogger := logger.With("component", "sandbox")
	instance := instanceID(cfg.Data)
	var setup isolationSetup
	var claim *uidClaim
	swept := false
	if c.Mode != isolationNone {
		var ownerUID func(string) (int, error)
		if os.Geteuid() == 0 {
			// SBX-09: no other server of this host may hand out these
			// uids; claimed before the self-test gives out the first.
			if claim, err = claimUIDs(c.UIDLockDir, c.UIDFirst, c.UIDCount, cfg.Data); err != nil {
				return isolationSetup{}, err
			}
			defer func() { _ = claim.Close() }() // unless setup keeps it
			ownerUID = func(owner string) (int, error) { return db.OwnerUID(owner, c.UIDFirst, c.UIDCount) }
		}
		r, err := sandbox.New(sandbox.Options{
			Logger:    slogger,
			Instance:  instance,
			Isolation: sandbox.IsolationBwrap,
			BwrapPath: c.BwrapPath,
			OwnerUID:  ownerUID,
			Networks:  c.Network.networks(),
			Limits: sandbox.Limits{
				FileSize: int64(c.Limits.FileSize),
				NoFile:   int64(c.Limits.NoFile),
				Tmp:      int64(c.Limits.Tmp),
				Memory:   int64(c.Limits.Memory),
				Pids:     int64(c.Limits.Pids),
				CPU:      int64(c.Limits.CPU),
			},
			NetworkAllow: c.Network.allowPrefixes(),
		})
		if err != nil {
			facts.Problem = err.Error()
		} else {
			sweep(r, logger)
			swept = true
			if err := selfTest(ctx, r, cfg.Data, ownerUID); err != nil {
				facts.Problem = err.Error()
				r.Close()
			} else {
				facts.BwrapOK = true
				setup = isolationSetup{runner: r, ownerUID: ownerUID}
			}
		}
	}
	mode, warning, err := decideIsolation(facts)
	if err != nil {
		return isolationSetup{}, err
	}
	if warning != "" {
		logger.Warn(warning)
	}
	if mode == sandbox.IsolationNone {
		r, err := sandbox.New(sandbox.Options{Logger: slogger, Instance: instance})
		if err != nil {
			return isolationSetup{}, err
		}
		if !swept { // mode none, or no bubblewrap runner could be built
			sweep(r, logger)
		}
		setup = isolationSetup{runner: r}
	}
	if err := os.Chmod(cfg.Data, passPerm(setup.ownerUIDs())); err != nil {
		setup.runner.Close()
		return isolationSetup{}, fmt.Errorf("data directory mode: %w", err)
	}
	if mode == sandbox.IsolationBwrap && !setup.ownerUIDs() {
		logger.Warn("isolation: the server does not run as root, so all users share its uid: namespaces, seccomp and limits apply, but no uid separates users from each other or from the server's files should they get out")
	}
	if setup.ownerUIDs() {
		setup.uids, claim = claim, nil
	}
	cg := setup.runner.Cgroups()
	logger.Info("isolation", "mode", string(mode), "tenant_uids", setup.ownerUIDs(),
		"cgroups", slog.GroupValue(slog.String("kill", cg.Kill), slog.String("memory", cg.Memory), slog.String("pids", cg.Pids), slog.String("cpu", cg.CPU)))
	return setup, nil
}

// sweep kills processes an earlier run of this data directory left.
func sweep(r *sandbox.Runner, logger *slog.Logger) {
	if n, err := r.Sweep(); err != nil {
		logger.Warn("sweep leftover processes", "err", err)
	} else if n > 0 {
		logger.Warn("killed processes left by an earlier run", "count", n)
	}
}

// selfTest runs the sandbox self-test with a probe workspace and a
// neighbouring directory made under the data directory (removed after):
// the probe must write its workspace and must see neither the data
// directory nor the neighbour. It returns nil when every check passed,
// else an error listing the failed checks.
func selfTest(ctx context.Context, r *sandbox.Runner, dataDir string, ownerUID func(string) (int, error)) error {
	dir, err := os.MkdirTemp(dataDir, ".selftest-")
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	defer os.RemoveAll(dir)
	ws, other := filepath.Join(dir, "workspace"), filepath.Join(dir, "other")
	for _, d := range []string{ws, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("self-test: %w", err)
		}
	}
	if ownerUID != nil {
		// The owner's uid must reach its workspace as it will reach real
		// ones: through the data directory (0711 then) and owning it.
		if err := searchableByOthers(filepath.Dir(dataDir)); err != nil {
			return err
		}
		uid, err := ownerUID(selfTestOwner)
		if err != nil {
			return fmt.Errorf("self-test: %w", err)
		}
		for _, d := range []string{dataDir, dir} {
			if err := os.Chmod(d, 0o711); err != nil {
				return fmt.Errorf("self-test: %w", err)
			}
		}
		if err := os.Chown(ws, uid, uid); err != nil {
			return fmt.Errorf("self-test: %w", err)
		}
	}
	rep, err := r.SelfTest(ctx, sandbox.SelfTestProbe{
		Owner:   selfTestOwner,
		Binds:   []sandbox.Bind{{Host: ws, Target: "/workspace"}},
		Hidden:  []string{dataDir, other},
		Network: sandbox.NetworkNone,
	})
	if err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	var failed []string
	for _, c := range rep.Failed() {
		failed = append(failed, c.Name+" ("+c.Detail+")")
	}
	return fmt.Errorf("self-test failed: %s", strings.Join(failed, ", "))
}

// searchableByOthers checks that dir and its ancestors can be passed by
// any uid (the search bit for others), as bubblewrap running under a
// user's uid must to bind what lies below.
func searchableByOthers(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("tenant uids cannot reach the data directory: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("tenant uids cannot reach the data directory: %s (mode %04o) is not searchable by others; choose a data directory whose parents are (e.g. /var/lib/ideserver) or chmod o+x %s", d, fi.Mode().Perm(), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
