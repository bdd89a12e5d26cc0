package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Phase names: keys of the summary's phases and resources, and the
// prefixes of its errors.
const (
	phaseSetup      = "setup"
	phaseWorkspaces = "workspaces"
	phaseTerminals  = "terminals"
	phaseLSP        = "lsp"
	phaseRuns       = "runs"
	phaseCleanup    = "cleanup"
)

// user is one user ideload created, with its credential.
type user struct {
	ID      string
	Token   string
	TokenID string
}

// workspaceRef is one workspace ideload created, with its owner.
type workspaceRef struct {
	ID   string
	User *user
}

// loader runs the phases against one server.
type loader struct {
	cfg    config
	api    *api
	stderr io.Writer
	runID  string
	fail   failures

	users []*user
	pool  []workspaceRef // every workspace created, in creation order

	mu        sync.Mutex
	resources map[string]resources
}

func newLoader(cfg config, stderr io.Writer) (*loader, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &loader{
		cfg:       cfg,
		api:       newAPI(cfg.URL, cfg.Timeout, cfg.Concurrency+cfg.Runs),
		stderr:    stderr,
		runID:     hex.EncodeToString(b),
		resources: make(map[string]resources),
	}, nil
}

// summary is what ideload prints.
type summary struct {
	Server    string               `json:"server"`
	Isolation string               `json:"isolation,omitempty"`
	Tenant    string               `json:"tenant"`
	Users     []string             `json:"users"`
	Phases    map[string]any       `json:"phases"`
	Resources map[string]resources `json:"resources,omitempty"`
	Cleanup   *cleanupReport       `json:"cleanup,omitempty"`
	Failed    bool                 `json:"failed"`
	ErrCount  int                  `json:"error_count"`
	Errors    []string             `json:"errors"`
}

// skipped is the report of a phase whose count is 0.
type skipped struct {
	Skipped bool `json:"skipped"`
}

func (l *loader) logf(format string, args ...any) {
	fmt.Fprintf(l.stderr, "ideload %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// run runs every phase and cleans up (unless --keep), with a context of
// its own so that an interrupted run still removes what it created.
func (l *loader) run(ctx context.Context) *summary {
	sum := &summary{Server: l.cfg.URL, Tenant: l.cfg.Tenant, Users: []string{}, Phases: make(map[string]any)}
	sum.Isolation = l.isolation(ctx)
	l.sample("start")

	if err := l.createUsers(ctx); err != nil {
		l.fail.add(phaseSetup, "create users", err)
	}
	for _, u := range l.users {
		sum.Users = append(sum.Users, u.ID)
	}
	sum.Phases[phaseWorkspaces] = l.maybe(l.cfg.Workspaces, func() any { return l.workspacesPhase(ctx) })
	l.ensurePool(ctx)
	sum.Phases[phaseTerminals] = l.maybe(l.cfg.Terminals, func() any { return l.terminalsPhase(ctx) })
	sum.Phases[phaseLSP] = l.maybe(l.cfg.LSP, func() any { return l.lspPhase(ctx) })
	sum.Phases[phaseRuns] = l.maybe(l.cfg.Runs, func() any { return l.runsPhase(ctx) })
	if err := ctx.Err(); err != nil {
		l.fail.add("run", "interrupted", context.Cause(ctx))
	}
	if !l.cfg.Keep {
		sum.Cleanup = l.cleanup(context.WithoutCancel(ctx))
		l.sample(phaseCleanup)
	}

	l.mu.Lock()
	if len(l.resources) > 0 {
		sum.Resources = l.resources
	}
	l.mu.Unlock()
	sum.ErrCount = l.fail.total()
	sum.Failed = sum.ErrCount > 0
	sum.Errors = l.fail.list()
	return sum
}

func (l *loader) maybe(count int, phase func() any) any {
	if count == 0 {
		return skipped{true}
	}
	return phase()
}

// isolation asks /readyz which sandbox mode the server runs in.
func (l *loader) isolation(ctx context.Context) string {
	var r struct {
		Isolation string `json:"isolation"`
	}
	err := l.api.call(ctx, "GET", "/readyz", "", nil, http.StatusOK, &r)
	if ae, ok := err.(*apiError); ok && ae.Status == http.StatusServiceUnavailable {
		l.logf("the server is not ready yet: %s", ae.Message)
	} else if err != nil {
		l.fail.add(phaseSetup, "GET /readyz", err)
	}
	return r.Isolation
}

// sample records the server's resources under name, when --pid is given.
func (l *loader) sample(name string) (resources, bool) {
	if l.cfg.PID == 0 {
		return resources{}, false
	}
	r, err := sampleResources("/proc", l.cfg.PID)
	if err != nil {
		l.fail.add(name, "sample resources", err)
		return r, false
	}
	l.mu.Lock()
	l.resources[name] = r
	l.mu.Unlock()
	return r, true
}

// forEach calls f(i) for i in [0, n), at most conc at once.
func forEach(n, conc int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// poolSize is how many workspaces the phases need: those of the
// workspaces phase, one per --terminals-per-workspace terminals, one per
// LSP connection, and one per user at least.
func (l *loader) poolSize(users int) int {
	c := l.cfg
	n := max(c.Workspaces, c.LSP)
	if c.Terminals > 0 {
		n = max(n, ceilDiv(c.Terminals+c.Shells, c.TermsPerWS))
	}
	if n == 0 {
		return 0
	}
	return max(n, users)
}

// userCount is how many users hold the pool within --per-user workspaces
// and --sockets-per-user WebSockets each.
func (l *loader) userCount() int {
	c := l.cfg
	need := l.poolSize(0)
	if need == 0 {
		return 0
	}
	sockets := c.LSP
	if c.Terminals > 0 {
		sockets = max(sockets, c.Terminals+c.Shells)
	}
	return max(1, ceilDiv(need, c.PerUser), ceilDiv(sockets, c.SocketsPerUser))
}

// createUsers issues a token for each user ideload needs, creating the
// users in the tenant.
func (l *loader) createUsers(ctx context.Context) error {
	n := l.userCount()
	users := make([]*user, n)
	errs := make([]error, n)
	forEach(n, l.cfg.Concurrency, func(i int) {
		id := fmt.Sprintf("ideload-%s-%d", l.runID, i+1)
		var tok struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		errs[i] = l.api.call(ctx, "POST", "/api/v1/admin/tenants/"+l.cfg.Tenant+"/tokens", l.cfg.Token,
			map[string]any{"user": id, "name": "ideload"}, http.StatusCreated, &tok)
		users[i] = &user{ID: id, Token: tok.Token, TokenID: tok.ID}
	})
	for i, err := range errs {
		if err != nil {
			return err
		}
		l.users = append(l.users, users[i])
	}
	if n > 0 {
		l.logf("created %d users in tenant %s", n, l.cfg.Tenant)
	}
	return nil
}

// createWorkspaces creates workspaces first..first+n-1 of the pool from
// the hello template, workspace i owned by user i modulo the users, and
// returns those created; each successful create is timed into lat.
func (l *loader) createWorkspaces(ctx context.Context, phase string, first, n int, lat *latencies) []workspaceRef {
	if len(l.users) == 0 || n <= 0 {
		return nil
	}
	made := make([]workspaceRef, n)
	forEach(n, l.cfg.Concurrency, func(i int) {
		u := l.users[(first+i)%len(l.users)]
		var ws struct {
			ID    string `json:"id"`
			State string `json:"state"`
		}
		err := lat.time(func() error {
			return l.api.call(ctx, "POST", "/api/v1/workspaces", u.Token,
				map[string]any{"name": fmt.Sprintf("load %d", first+i+1), "template": "hello"}, http.StatusCreated, &ws)
		})
		if err != nil {
			l.fail.add(phase, "create workspace", err)
			return
		}
		made[i] = workspaceRef{ID: ws.ID, User: u}
	})
	var out []workspaceRef
	for _, ws := range made {
		if ws.ID != "" {
			out = append(out, ws)
		}
	}
	l.pool = append(l.pool, out...)
	return out
}

// ensurePool creates the workspaces the later phases need beyond those
// of the workspaces phase (untimed).
func (l *loader) ensurePool(ctx context.Context) {
	want := l.poolSize(len(l.users))
	if missing := want - max(l.cfg.Workspaces, len(l.pool)); missing > 0 {
		l.logf("creating %d more workspaces for the other phases", missing)
		l.createWorkspaces(ctx, phaseSetup, len(l.pool), missing, &latencies{})
	}
}

// cleanupReport says what was removed at the end.
type cleanupReport struct {
	WorkspacesDeleted int   `json:"workspaces_deleted"`
	UsersDeleted      int   `json:"users_deleted"`
	Delete            stats `json:"delete"`
}

// cleanup deletes every workspace ideload created, then its users (with
// their tokens and HOMEs).
func (l *loader) cleanup(ctx context.Context) *cleanupReport {
	l.logf("deleting %d workspaces and %d users", len(l.pool), len(l.users))
	var del latencies
	var mu sync.Mutex
	r := &cleanupReport{}
	forEach(len(l.pool), l.cfg.Concurrency, func(i int) {
		ws := l.pool[i]
		err := del.time(func() error {
			return l.api.call(ctx, "DELETE", "/api/v1/workspaces/"+ws.ID, ws.User.Token, nil, http.StatusNoContent, nil)
		})
		if err != nil {
			l.fail.add(phaseCleanup, "delete workspace", err)
			return
		}
		mu.Lock()
		r.WorkspacesDeleted++
		mu.Unlock()
	})
	forEach(len(l.users), l.cfg.Concurrency, func(i int) {
		err := l.api.call(ctx, "DELETE", "/api/v1/admin/tenants/"+l.cfg.Tenant+"/users/"+l.users[i].ID, l.cfg.Token, nil, http.StatusNoContent, nil)
		if err != nil {
			l.fail.add(phaseCleanup, "delete user", err)
			return
		}
		mu.Lock()
		r.UsersDeleted++
		mu.Unlock()
	})
	r.Delete = del.stats()
	return r
}
