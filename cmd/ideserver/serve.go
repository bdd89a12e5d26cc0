package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/internal/gotool"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// Names of the local tenant and user created on first start, and of the
// token printed at each start.
const (
	localTenant  = "local"
	localUser    = "local"
	startupToken = "startup"
)

// runServe runs the server until SIGINT or SIGTERM.
func runServe(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, logger, stdout)
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel()}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openStore opens the database in cfg.Data, creating the directory, and
// sets cfg.Data to its real path: the sandbox opens bind sources without
// following any symlink, so a data directory reached through one would
// fail every start.
func openStore(cfg *Config, logger *slog.Logger) (*store.DB, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	real, err := filepath.EvalSymlinks(cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("resolve data directory: %w", err)
	}
	cfg.Data = real
	return store.Open(store.Options{Path: filepath.Join(cfg.Data, "ideserver.db"), Logger: logger})
}

// serve wires every component, serves until ctx ends, then shuts down in
// order: stop accepting, close WebSockets (1001), stop processes, close the
// database.
func serve(ctx context.Context, cfg *Config, logger *slog.Logger, stdout io.Writer) (err error) {
	db, err := openStore(cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()
	secret, err := prepareLocalUser(db, cfg.Token)
	if err != nil {
		return err
	}

	// The runner comes first: the isolation mode it ends up in decides the
	// workspace manager's Identity and the tools' Publish. A workspace's
	// processes get their binds from workspace.Handle.Start (the manager
	// holds the runner); the playground's from the manager's
	// InternalBinds (wirePlayground).
	toolsDir := filepath.Join(cfg.Data, "tools")
	toolsBin := filepath.Join(toolsDir, "bin")
	iso, err := newIsolation(ctx, cfg, db, logger)
	if err != nil {
		return err
	}
	runner := iso.runner
	defer iso.uids.Close()
	defer runner.Close()
	isolated := iso.mode() == sandbox.IsolationBwrap
	if isolated {
		// Bound into every process: it must exist, and per-tenant uids
		// must be able to pass DATA/tools (but not list it).
		if err := ensureDir(toolsBin, 0o755, "tools directory"); err != nil {
			return err
		}
		if err := os.Chmod(toolsDir, passPerm(iso.ownerUIDs())); err != nil {
			return fmt.Errorf("create tools directory: %w", err)
		}
	}

	watchers := workspace.NewWatchers(workspace.WatcherOptions{
		Logger:           logger.With("component", "watch"),
		MaxWatches:       cfg.Limits.MaxWatches,
		MaxTenantWatches: cfg.Limits.MaxTenantWatches,
		// A workspace's watches draw on its tenant's budget (SBX-10).
		Owner: func(workspaceID string) string {
			w, err := db.GetWorkspace(workspaceID)
			if err != nil {
				return ""
			}
			return w.TenantID
		},
	})
	defer watchers.Close()
	goEnv := workspace.GoEnv{
		Root:    goRoot(cfg, logger), // once: it may warn
		Proxy:   cfg.Go.Proxy,
		SumDB:   cfg.Go.SumDB,
		Private: cfg.Go.Private,
		NoSumDB: cfg.Go.NoSumDB,
		Flags:   cfg.Go.Flags,
	}
	var toolBinds []sandbox.Bind
	if isolated {
		toolBinds = []sandbox.Bind{{Host: toolsBin, Target: toolsTarget, ReadOnly: true}}
	}
	toolchain := goToolchain(goEnv.Root, logger)
	buildCache, err := usersBuildCache(cfg, runner, iso.ownerUIDs(), goEnv.Root, toolchain)
	if err != nil {
		return err
	}
	modCache, err := usersModuleCache(cfg, runner, iso.ownerUIDs(), goEnv, logger)
	if err != nil {
		return err
	}
	defer modCache.Close() // before the runner
	goEnv.ModuleCache = modCache.Fetcher()
	manager, err := workspace.NewManager(workspace.ManagerOptions{
		Store:      db,
		BuildCache: buildCache,
		Runner:     runner,
		ToolBinds:  toolBinds,
		Redact:     []string{cfg.Data},
		Identity:   iso.ownerUID,
		Dir:        filepath.Join(cfg.Data, "workspaces"),
		TenantsDir: filepath.Join(cfg.Data, "tenants"),
		Go:         goEnv,
		Files:      workspace.FilesOptions{MaxFileSize: int64(cfg.Limits.MaxFileSize)},
		Watchers:   watchers,
		MaxPerUser: cfg.Limits.MaxWorkspaces,
		Logger:     logger.With("component", "workspace"),
	})
	if err != nil {
		return err
	}
	if n, err := manager.RemoveOrphanDirs(); err != nil {
		logger.Warn("remove orphan workspace directories", "err", err)
	} else if n > 0 {
		logger.Info("removed orphan workspace directories", "count", n)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	origins := slices.Clone(cfg.AllowedOrigins)
	if cfg.PublicURL != "" {
		origins = append(origins, cfg.PublicURL)
	}
	policy, err := auth.NewOriginPolicy(origins, cfg.HostsFor(addr))
	if err != nil {
		return fmt.Errorf("origin policy: %w", err)
	}
	jwtVerifier, err := newJWTVerifier(cfg)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tools, err := newToolInstaller(cfg, toolsDir, goEnv, isolated, logger)
	if err != nil {
		return err
	}
	defer tools.Close()
	opts := server.Options{
		Store:          db,
		Workspaces:     manager,
		Watchers:       watchers,
		Origins:        policy,
		Tickets:        auth.NewTickets(auth.TicketOptions{}),
		JWT:            jwtVerifier,
		TLS:            cfg.TLSEnabled() || strings.HasPrefix(cfg.PublicURL, "https://"),
		LoginSameSite:  sameSite(cfg.Auth.Login.SameSite),
		LoginTTL:       time.Duration(cfg.Auth.Login.TTL),
		TrustedProxies: cfg.TrustedProxyPrefixes(),
		Limits: server.Limits{
			MaxFileSize:      int64(cfg.Limits.MaxFileSize),
			MaxRequestBody:   int64(cfg.Limits.MaxRequestBody),
			MaxStateSize:     int64(cfg.Limits.MaxStateSize),
			MaxWSMessage:     int64(cfg.Limits.MaxWSMessage),
			MaxWebSockets:    cfg.Limits.MaxWebSockets,
			SearchMaxResults: cfg.Limits.SearchMaxResults,
		},
		MetricsRequireAuth: cfg.Metrics.RequireAuth,
		Registerer:         reg,
		Gatherer:           reg,
		Logger:             logger,
	}
	features, err := wireFeatures(deps{
		cfg: cfg, logger: logger, runner: runner, workspaces: manager,
		watchers: watchers, tools: tools, registerer: reg, tenantUIDs: iso.ownerUIDs(),
		goRoot: goEnv.Root, toolchain: toolchain, buildCache: buildCache, moduleCache: modCache,
	}, &opts)
	defer func() {
		// On an early return; after a normal shutdown this finds them
		// closed already.
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
		defer cancel()
		closeFeatures(ctx, features)
	}()
	if err != nil {
		return err
	}
	srv, err := server.New(opts)
	if err != nil {
		return err
	}
	defer srv.Close()

	httpSrv := &http.Server{
		Handler:           withReadyzIsolation(srv.Handler(), runner.Isolation()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	scheme := "http"
	if cfg.TLSEnabled() {
		scheme = "https"
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		httpSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, httpSrv.TLSConfig)
	}

	base := scheme + "://" + addr
	fmt.Fprintf(stdout, "ideserver listening on %s\n", base)
	open := cfg.PublicURL
	if open == "" {
		open = scheme + "://" + browsable(addr)
	}
	fmt.Fprintf(stdout, "Open the IDE as user %q: %s/#token=%s\n", localUser, open, secret)
	logger.Info("serving", "addr", addr, "data_dir", cfg.Data)

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	var errs []error
	if err := httpSrv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop HTTP server: %w", err))
	}
	if err := srv.CloseWebSockets(sctx); err != nil {
		errs = append(errs, fmt.Errorf("close WebSockets: %w", err))
	}
	errs = append(errs, closeFeatures(sctx, features)...)
	features = nil
	if err := manager.Close(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop workspaces: %w", err))
	}
	if err := runner.Close(); err != nil {
		errs = append(errs, fmt.Errorf("stop processes: %w", err))
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	logger.Info("stopped")
	return errors.Join(errs...)
}

// prepareLocalUser makes sure tenant and user "local" exist and returns the
// credential to print: fixed (--token) or new at each start. The previous
// start's token is revoked, so only the last printed URL opens the IDE.
func prepareLocalUser(db *store.DB, fixed string) (string, error) {
	if _, err := db.EnsureUser(localTenant, localUser); err != nil {
		return "", fmt.Errorf("create local user: %w", err)
	}
	if err := db.SetUserAdmin(localTenant, localUser, true); err != nil {
		return "", fmt.Errorf("make local user admin: %w", err)
	}
	if _, err := db.RevokeUserTokensNamed(localTenant, localUser, startupToken); err != nil {
		return "", fmt.Errorf("revoke previous startup token: %w", err)
	}
	_, secret, err := server.IssueToken(db, localTenant, localUser, startupToken, fixed)
	if err != nil {
		return "", fmt.Errorf("startup token: %w", err)
	}
	return secret, nil
}

// instanceID names this server's processes for the sandbox sweep: the same
// data directory gives the same id, so a restart finds what a crashed run
// left, and servers on other data directories are never touched.
func instanceID(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return hex.EncodeToString(sum[:8])
}

// browsable turns a listen address into one a browser on this machine can
// open (an unspecified host becomes loopback).
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func sameSite(v string) http.SameSite {
	switch v {
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	default:
		return http.SameSiteLaxMode
	}
}

// newJWTVerifier builds the portal JWT verifier from the configured key
// file, or returns nil when none is configured.
func newJWTVerifier(cfg *Config) (*auth.JWTVerifier, error) {
	j := cfg.Auth.JWT
	opts := auth.JWTOptions{Audience: j.Audience, Issuer: j.Issuer}
	switch {
	case j.HMACSecretFile != "":
		b, err := os.ReadFile(j.HMACSecretFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.hmac_secret_file: %w", err)
		}
		opts.HMACSecret = []byte(strings.TrimSpace(string(b)))
	case j.PublicKeyFile != "":
		b, err := os.ReadFile(j.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.public_key_file: %w", err)
		}
		opts.PublicKeyPEM = b
	default:
		return nil, nil
	}
	v, err := auth.NewJWTVerifier(opts)
	if err != nil {
		return nil, fmt.Errorf("auth.jwt: %w", err)
	}
	return v, nil
}

// goRoot is the configured GOROOT, else the installation of the go
// command on PATH (found without running it: `go env` would start Go's
// telemetry in the server's HOME), else "" (tenant processes then find no
// go; logged once).
func goRoot(cfg *Config, logger *slog.Logger) string {
	if cfg.Go.Root != "" {
		// Resolved: bind sources are opened without following symlinks.
		if real, err := filepath.EvalSymlinks(cfg.Go.Root); err == nil {
			return real
		}
		return cfg.Go.Root
	}
	goBin, err := exec.LookPath("go")
	if err == nil {
		goBin, err = filepath.EvalSymlinks(goBin)
	}
	if err != nil {
		logger.Warn("no go command on PATH: tenant processes will have no Go toolchain; set go.root", "err", err)
		return ""
	}
	root := filepath.Dir(filepath.Dir(goBin))
	if _, err := os.Stat(filepath.Join(root, "src", "runtime")); err != nil {
		logger.Warn("the go command on PATH is not in a GOROOT; set go.root", "go", goBin)
		return ""
	}
	return root
}

// newToolInstaller prepares the pinned gopls and dlv (or the configured
// ones) under toolsDir (DATA/tools), building them in the background. With
// publish (isolation on), every tool is in DATA/tools/bin, mode 0755, so the
// sandbox's read-only bind of that directory shows it to tenant processes.
func newToolInstaller(cfg *Config, toolsDir string, g workspace.GoEnv, publish bool, logger *slog.Logger) (*gotool.Installer, error) {
	goBinary := "go"
	if g.Root != "" {
		goBinary = filepath.Join(g.Root, "bin", "go")
	}
	env := []string{
		"HOME=" + toolsDir,
		"GO_TELEMETRY_CHILD=2", // no telemetry child outliving a cancelled build
		"GOPATH=" + filepath.Join(toolsDir, "gopath"),
		"GOCACHE=" + filepath.Join(toolsDir, "cache"),
		"GOPROXY=" + g.Proxy,
		"PATH=" + filepath.Join(g.Root, "bin") + ":/usr/local/bin:/usr/bin:/bin",
	}
	return gotool.New(gotool.Options{
		Dir:      filepath.Join(toolsDir, "bin"),
		GoBinary: goBinary,
		Env:      env,
		Paths:    map[string]string{"gopls": cfg.LSP.GoplsPath, "dlv": cfg.DAP.DlvPath},
		Publish:  publish,
		Logger:   logger.With("component", "tools"),
	})
}
