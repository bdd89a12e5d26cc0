// Package server is ideserver's HTTP edge: routing, authentication of
// tenants and users, the WebSocket upgrade with its Origin and Host checks,
// CSRF rules, request limits, metrics and health. It knows nothing of LSP or
// DAP message contents; protocol bridges receive streams from it.
//
// Only cmd/ideserver imports it.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/terminal"
	"github.com/ideserver/ideserver/workspace"
)

// Limits bound what one request or connection may cost. Zero fields take
// the defaults in parentheses.
type Limits struct {
	MaxFileSize      int64 // largest file body read or written (32 MiB)
	MaxRequestBody   int64 // JSON request bodies (1 MiB)
	MaxStateSize     int64 // workspace UI state (1 MiB)
	MaxWSMessage     int64 // largest WebSocket message read (1 MiB)
	MaxWebSockets    int   // open WebSockets per user (64)
	SearchMaxResults int   // matches per search (1000)
}

func (l *Limits) setDefaults() {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxFileSize, 32<<20)
	def(&l.MaxRequestBody, 1<<20)
	def(&l.MaxStateSize, 1<<20)
	def(&l.MaxWSMessage, 1<<20)
	if l.MaxWebSockets <= 0 {
		l.MaxWebSockets = 64
	}
	if l.SearchMaxResults <= 0 {
		l.SearchMaxResults = 1000
	}
}

// ReadyCheck reports whether a dependency is ready; a non-nil error is a
// reason shown by /readyz, which answers anyone: its text must not hold a
// host path.
type ReadyCheck struct {
	Name  string
	Check func() error
}

// Options configures a Server. Store, Workspaces, Watchers, Origins and
// Tickets are required.
type Options struct {
	Store      *store.DB
	Workspaces *workspace.Manager
	Watchers   *workspace.Watchers
	Origins    *auth.OriginPolicy
	Tickets    *auth.Tickets
	JWT        *auth.JWTVerifier // nil: portal JWTs are not accepted

	// Features; each nil one is not served. Their routes and handlers live
	// in the feature's own file (terminals.go, lsp.go, dap.go,
	// playground.go).
	Terminals  *terminal.Manager
	LSP        LSPService
	DAP        *dap.Manager
	Playground PlaygroundService

	// TLS is true when clients reach the server over HTTPS (directly or
	// through public_url): login cookies are then Secure with a __Host-
	// name.
	TLS           bool
	LoginSameSite http.SameSite // 0 means Lax
	LoginTTL      time.Duration // 0 means 168h

	Limits Limits
	// PingInterval is how often WebSockets are pinged; a peer that does not
	// answer within 2.5 intervals is dropped. 0 means 25s.
	PingInterval time.Duration
	// PongWait is how long a WebSocket may stay silent (no pong, no
	// message) before it is dropped; 0 means 2.5 ping intervals.
	PongWait time.Duration
	// BodyIdle is how long reading a request body may wait for a byte; a
	// body must also arrive at 32 KiB/s on average (see timedBody). 0
	// means 15s.
	BodyIdle time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// Forwarded headers name the client (AUTH-10); from any other peer
	// those headers are ignored. Empty: the peer is always the client.
	TrustedProxies []netip.Prefix
	// AuthFailureBurst is how many bad credentials one client address may
	// present before it is slowed to one every 2s (AUTH-06). 0 means 30.
	AuthFailureBurst   int
	MetricsRequireAuth bool
	ReadyChecks        []ReadyCheck

	// Registerer receives the server's metrics; Gatherer serves /metrics.
	// Both nil: a private registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer

	Logger *slog.Logger // nil: discard
}

// Server serves the HTTP and WebSocket API. Create it with New.
type Server struct {
	opts    Options
	logger  *slog.Logger
	mux     *http.ServeMux
	routes  []route
	metrics *metrics
	sockets *bridge.Registry[*socketSlot]
	// authFails counts bad credentials per client address (AUTH-06).
	authFails *authFailures
	// ticketCreds maps live tickets to the credential that issued them.
	ticketCreds *ticketCreds
	// wsWriteBuffers pools WebSocket write buffers across connections.
	wsWriteBuffers *sync.Pool
	// assets caches the embedded web assets by name, each read, hashed
	// and gzipped once (see asset in ui.go).
	assets sync.Map

	startOnce sync.Once
	done      chan struct{} // closed by Close; ends background work
	wg        sync.WaitGroup
}

// New checks opts and builds the router.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("server: Options.Store is required")
	case opts.Workspaces == nil:
		return nil, errors.New("server: Options.Workspaces is required")
	case opts.Watchers == nil:
		return nil, errors.New("server: Options.Watchers is required")
	case opts.Origins == nil:
		return nil, errors.New("server: Options.Origins is required: an upgrade without an origin policy would allow every site")
	case opts.Tickets == nil:
		return nil, errors.New("server: Options.Tickets is required")
	}
	opts.Limits.setDefaults()
	if opts.LoginSameSite == 0 {
		opts.LoginSameSite = http.SameSiteLaxMode
	}
	if opts.LoginSameSite == http.SameSiteNoneMode && !opts.TLS {
		return nil, errors.New("server: SameSite=None login cookies need TLS")
	}
	if opts.LoginTTL <= 0 {
		opts.LoginTTL = 168 * time.Hour
	}
	if opts.BodyIdle <= 0 {
		opts.BodyIdle = defaultBodyIdle
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil && opts.Gatherer == nil {
		reg := prometheus.NewRegistry()
		opts.Registerer, opts.Gatherer = reg, reg
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		logger:  opts.Logger,
		mux:     http.NewServeMux(),
		metrics: m,
		sockets: bridge.NewRegistry[*socketSlot](bridge.Limits{PerOwner: opts.Limits.MaxWebSockets}),

		ticketCreds: newTicketCreds(),
		authFails:   newAuthFailures(opts.AuthFailureBurst),

		wsWriteBuffers: &sync.Pool{},
		done:           make(chan struct{}),
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	s.mux.Handle("/", s.wrap(route{pattern: "/", public: true, kind: kindPage, handle: s.handleFallback}))
	s.wg.Add(1)
	go s.sweepLogins()
	return s, nil
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// CloseWebSockets closes every open WebSocket with 1001 (going away) and
// waits until their handlers returned or ctx ends. Call it after
// http.Server.Shutdown, which does not track hijacked connections.
func (s *Server) CloseWebSockets(ctx context.Context) error {
	return s.sockets.Close(ctx)
}

// Close stops background work. It does not close the Store or Manager,
// which the caller owns.
func (s *Server) Close() error {
	s.startOnce.Do(func() { close(s.done) })
	s.wg.Wait()
	return nil
}

// sweepLogins deletes expired logins once an hour.
func (s *Server) sweepLogins() {
	defer s.wg.Done()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			if n, err := s.opts.Store.DeleteExpiredLogins(now); err != nil {
				s.logger.Warn("delete expired logins", "err", err)
			} else if n > 0 {
				s.logger.Debug("deleted expired logins", "count", n)
			}
		}
	}
}

// handleFallback answers every request no route matched: 405 with Allow
// when the path has routes for other methods, else 404.
func (s *Server) handleFallback(w http.ResponseWriter, r *http.Request) error {
	if allow := s.allowedMethods(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "This path does not take %s; see the Allow header.", r.Method)
	}
	return errNotFound
}

// routeMethods are the methods routes use (HEAD comes with GET).
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods returns the methods for which a route matches r's path.
func (s *Server) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range routeMethods {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}
