package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// routeKind says how a route authenticates and what it answers.
type routeKind int

const (
	kindAPI       routeKind = iota // JSON API: bearer or cookie (+CSRF)
	kindWebSocket                  // upgrade: Origin/Host checks; bearer, cookie or ticket
	kindPage                       // HTML for browsers: CSP frame-ancestors
	kindOps                        // health, readiness, metrics: no Host check (probes)
)

// route is one entry of the router table. The table is the single source
// of truth for what needs a credential: TestRoutesRequireAuth walks it.
type route struct {
	pattern string // http.ServeMux pattern with method
	kind    routeKind
	public  bool // answers without a credential
	admin   bool // needs an admin credential
	// cookieless routes ignore the login cookie: they serve everyone
	// alike (the Go Playground endpoints), so a cross-site form post
	// carrying the cookie gains nothing and needs no CSRF refusal.
	cookieless bool
	// bodyLimit caps the request body; 0 means Limits.MaxRequestBody.
	bodyLimit int64
	handle    func(w http.ResponseWriter, r *http.Request) error
}

func (s *Server) routeTable() []route {
	routes := s.coreRoutes()
	routes = append(routes, s.terminalRoutes()...)
	routes = append(routes, s.lspRoutes()...)
	routes = append(routes, s.dapRoutes()...)
	routes = append(routes, s.playgroundRoutes()...)
	return routes
}

// coreRoutes are the foundation's routes: operations, auth, workspaces and
// files.
func (s *Server) coreRoutes() []route {
	l := s.opts.Limits
	const ws = "/api/v1/workspaces/{ws}"
	return []route{
		{pattern: "GET /healthz", kind: kindOps, public: true, handle: s.handleHealthz},
		{pattern: "GET /readyz", kind: kindOps, public: true, handle: s.handleReadyz},
		{pattern: "GET /metrics", kind: kindOps, public: !s.opts.MetricsRequireAuth, handle: s.handleMetrics},
		{pattern: "GET /{$}", kind: kindPage, public: true, handle: s.handleIndex},
		{pattern: "GET /assets/{file...}", kind: kindPage, public: true, handle: s.handleAsset},
		{pattern: "GET /embed/{page...}", kind: kindPage, public: true, handle: s.handleEmbed},
		{pattern: "GET /debug/pprof/{name...}", admin: true, handle: s.handlePprof},

		{pattern: "POST /auth/session", public: true, handle: s.handleCreateLogin},
		{pattern: "DELETE /auth/session", public: true, handle: s.handleDeleteLogin},
		{pattern: "POST /api/v1/tickets", handle: s.handleCreateTicket},
		{pattern: "GET /api/v1/me", handle: s.handleMe},

		{pattern: "POST /api/v1/admin/tenants/{tenant}/tokens", admin: true, handle: s.handleAdminCreateToken},
		{pattern: "GET /api/v1/admin/tenants/{tenant}/tokens", admin: true, handle: s.handleAdminListTokens},
		{pattern: "DELETE /api/v1/admin/tenants/{tenant}/tokens/{id}", admin: true, handle: s.handleAdminRevokeToken},
		{pattern: "DELETE /api/v1/admin/tenants/{tenant}/users/{user}", admin: true, handle: s.handleAdminDeleteUser},

		{pattern: "POST /api/v1/workspaces", bodyLimit: l.MaxFileSize, handle: s.handleCreateWorkspace},
		{pattern: "GET /api/v1/workspaces", handle: s.handleListWorkspaces},
		{pattern: "GET " + ws, handle: s.handleGetWorkspace},
		{pattern: "PATCH " + ws, handle: s.handleRenameWorkspace},
		{pattern: "DELETE " + ws, handle: s.handleDeleteWorkspace},
		{pattern: "POST " + ws + "/suspend", handle: s.handleSuspendWorkspace},
		{pattern: "POST " + ws + "/resume", handle: s.handleResumeWorkspace},
		{pattern: "GET " + ws + "/state", handle: s.handleGetState},
		{pattern: "PUT " + ws + "/state", bodyLimit: l.MaxStateSize, handle: s.handlePutState},

		{pattern: "GET " + ws + "/files/{path...}", handle: s.handleGetFile},
		{pattern: "PUT " + ws + "/files/{path...}", bodyLimit: l.MaxFileSize, handle: s.handlePutFile},
		{pattern: "DELETE " + ws + "/files/{path...}", handle: s.handleDeleteFile},
		{pattern: "POST " + ws + "/fs/mkdir", handle: s.handleMkdir},
		{pattern: "POST " + ws + "/fs/rename", handle: s.handleRename},
		{pattern: "GET " + ws + "/search", handle: s.handleSearch},
		{pattern: "GET " + ws + "/watch", kind: kindWebSocket, handle: s.handleWatch},
	}
}

type ctxKey int

const (
	principalKey ctxKey = iota
	loggerKey
	authErrKey // why a presented credential was refused on a public route
)

// principal is the authenticated caller.
type principal struct {
	Tenant string
	User   string
	Admin  bool
	Via    string // "bearer", "jwt", "cookie" or "ticket"
	// cred is what an open WebSocket re-checks on every ping (AUTH-03).
	cred credential
}

func principalFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalKey).(principal)
	return p, ok
}

// log returns the request's logger (with request_id and, once known,
// tenant_id).
func (s *Server) log(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return s.logger
}

// statusWriter records the status for logs and metrics. Flush and friends
// pass through Unwrap (http.ResponseController); Hijack is a method of its
// own because gorilla/websocket asserts http.Hijacker on the writer it is
// given instead of using a ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes over the connection for a WebSocket. The status is recorded
// as 101 so that an error after the hijack is logged, not written to a
// connection the server no longer owns.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// serveHTTP runs checks that must happen before ServeMux sees the request:
// ServeMux would answer a path with "..", "." or "//" segments with a
// redirect to a cleaned URL, and docs/api.md wants those refused outright.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !cleanURLPath(r.URL.Path) {
		s.setSecurityHeaders(w)
		s.writeError(w, r, errorf(http.StatusBadRequest, "invalid_path", "The URL path has '.', '..' or empty segments; send the path without them."))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cleanURLPath reports whether p has no ".", ".." or empty segments (a
// single trailing slash is allowed).
func cleanURLPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(strings.TrimSuffix(p[1:], "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		return true // "/"
	}
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// wrap applies the middleware every route shares: request id and logging,
// metrics, Host check, security headers, body limit, authentication, CSRF
// and the WebSocket origin rules.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		logger := s.logger.With("request_id", id)
		ctx := context.WithValue(r.Context(), loggerKey, logger)
		r = withClient(r.WithContext(ctx), s.opts.TrustedProxies)
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		w.Header().Set("X-Request-Id", id)
		s.setSecurityHeaders(w)

		err := s.serveRoute(w, r, rt)
		if err != nil {
			if sw.status != 0 {
				// Headers already went out (a hijacked WebSocket, a
				// streamed body): log only.
				s.log(r).Debug("request ended with error", "err", err)
			} else {
				s.writeError(w, r, err)
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observeRequest(rt.pattern, status, time.Since(start))
		s.log(r).Debug("request", "method", r.Method, "route", rt.pattern, "status", status, "duration_ms", time.Since(start).Milliseconds(), "client", clientIP(r))
	})
}

func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rt route) error {
	if rt.kind != kindOps && !s.opts.Origins.CheckHost(r.Host, s.opts.TLS) {
		return errorf(http.StatusForbidden, "host_not_allowed", "This server does not answer for that host name; use the address the operator configured.")
	}
	limit := rt.bodyLimit
	if limit == 0 {
		limit = s.opts.Limits.MaxRequestBody
	}
	r.Body = &timedBody{
		ReadCloser: http.MaxBytesReader(w, r.Body, limit), rc: http.NewResponseController(w),
		idle: s.opts.BodyIdle, end: time.Now().Add(s.opts.BodyIdle + time.Duration(limit/minBodyRate)*time.Second),
	}

	if rt.kind == kindWebSocket {
		if err := s.checkUpgradeOrigin(r); err != nil {
			return err
		}
	}
	// AUTH-06: bad credentials are counted per client address where the
	// answer tells whether a credential holds: every route that needs one,
	// and sign-in. (Public pages and assets answer the same either way; a
	// stale cookie there must not lock a browser out.)
	upgrade := rt.kind == kindWebSocket
	oracle := !rt.public || rt.pattern == "POST /auth/session"
	var p principal
	var err error
	addr, now := clientAddr(r), time.Now()
	if cred := s.findCredential(r, upgrade); cred.from == fromNone {
		err = errUnauthorized
	} else if wait, blocked := s.authFails.blocked(addr, now); blocked && oracle {
		retryAfter(w, wait) // the credential is not even looked at
		err = errTooManyFailures
	} else if p, err = s.authenticate(r, cred); oracle && errors.Is(err, errUnauthorized) {
		s.authFails.fail(addr, now)
	}
	if rt.cookieless && err == nil && p.Via == "cookie" {
		p, err = principal{}, errUnauthorized
	}
	switch {
	case err != nil && !rt.public:
		return err
	case err != nil:
		r = r.WithContext(context.WithValue(r.Context(), authErrKey, err))
	case err == nil:
		if rt.kind == kindWebSocket && r.Header.Get("Origin") == "" && p.Via != "bearer" && p.Via != "jwt" {
			return errorf(http.StatusForbidden, "origin_required", "A WebSocket without an Origin header must authenticate with an Authorization bearer credential.")
		}
		if p.Via == "cookie" && !safeMethod(r.Method) {
			if err := s.checkCSRF(r); err != nil {
				return err
			}
		}
		if rt.admin && !p.Admin {
			return errorf(http.StatusForbidden, "admin_required", "This route needs an administrator's credential.")
		}
		r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		r = r.WithContext(context.WithValue(r.Context(), loggerKey, s.log(r).With("tenant_id", p.Tenant)))
	}
	return rt.handle(w, r)
}

// setSecurityHeaders sets the headers every response carries, errors
// included (EMB-01).
func (s *Server) setSecurityHeaders(w http.ResponseWriter) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", s.frameAncestors())
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// frameAncestors is the CSP for every response: our pages may be framed
// only by ourselves and the configured portal origins.
func (s *Server) frameAncestors() string {
	csp := "frame-ancestors 'self'"
	for _, o := range s.opts.Origins.Origins() {
		csp += " " + o
	}
	return csp
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Reading a request body is bounded in time, so a client trickling bytes
// (slowloris on the body; ReadHeaderTimeout covers only the headers) holds
// a connection for a bounded time: Options.BodyIdle without a byte, and in
// all BodyIdle plus the route's body limit at minBodyRate.
const (
	defaultBodyIdle = 15 * time.Second
	minBodyRate     = 32 << 10 // bytes per second
)

// errBodyTimeout is what a handler's body read returns once the deadline
// passed; it is 408.
var errBodyTimeout = errorf(http.StatusRequestTimeout, "request_timeout", "The request body arrived too slowly; send it again.")

// timedBody sets the connection's read deadline before each Read of the
// body: idle from now, at most end. net/http resets it for the next
// request.
type timedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
}

func (b *timedBody) Read(p []byte) (int, error) {
	d := time.Now().Add(b.idle)
	if d.After(b.end) {
		d = b.end
	}
	_ = b.rc.SetReadDeadline(d) // a writer without deadlines (tests): none
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = errBodyTimeout
	}
	return n, err
}
