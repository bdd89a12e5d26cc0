package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/internal/gotool"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/terminal"
	"github.com/ideserver/ideserver/workspace"
)

// deps are the shared components the features are built from.
type deps struct {
	cfg        *Config
	logger     *slog.Logger
	runner     *sandbox.Runner
	workspaces *workspace.Manager
	watchers   *workspace.Watchers
	tools      *gotool.Installer
	registerer prometheus.Registerer
	// tenantUIDs: tenant processes run as their own uids (bwrap as root),
	// so directories above what they bind must be passable (0711).
	tenantUIDs bool
	goRoot     string // GOROOT for tenant processes, "" when there is none (see goRoot)
	toolchain  string // goRoot's identity for the shared caches' stamps (goToolchain)

	buildCache  *workspace.BuildCache // the users' shared build cache; nil without Go
	moduleCache *moduleCache          // the users' shared module cache; nil when off

	// Set by the features wired earlier, for those wired later.
	terminals       *terminal.Manager   // nil when terminals are not served
	playground      *playground.Service // set by wirePlayground
	playgroundCache *playground.Cache   // the playground's shared build cache
}

// feature is what wiring one feature gives back besides its entry in
// server.Options.
type feature struct {
	ready []server.ReadyCheck
	// close stops the feature and its processes; called at shutdown, in
	// reverse order of wiring, before the sandbox runner closes.
	close func(ctx context.Context) error
}

// wireFeatures builds every optional feature into opts. The returned
// features are closed by the caller.
func wireFeatures(d deps, opts *server.Options) ([]feature, error) {
	var out []feature
	for _, wire := range []func(*deps, *server.Options) (feature, error){
		wireTerminals, wireLSP, wireDAP, wirePlayground, wireBuildCaches, wireModuleCache,
	} {
		f, err := wire(&d, opts)
		if err != nil {
			return out, err
		}
		opts.ReadyChecks = append(opts.ReadyChecks, f.ready...)
		out = append(out, f)
	}
	return out, nil
}

// closeFeatures closes features in reverse order.
func closeFeatures(ctx context.Context, fs []feature) []error {
	var errs []error
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].close != nil {
			if err := fs[i].close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}
