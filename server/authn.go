package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/store"
)

// Cookie names: with TLS the __Host- prefix pins the cookie to this exact
// host and path "/" (no sibling-subdomain tossing, EMB-05/EMB-06).
const (
	loginCookieName       = "ideserver_session"
	loginCookieNameSecure = "__Host-ideserver_session"
	csrfHeader            = "X-Requested-With"
	csrfValue             = "ideserver"
)

// cookieName is the name of the login cookie.
func (s *Server) cookieName() string {
	if s.opts.TLS {
		return loginCookieNameSecure
	}
	return loginCookieName
}

// credSource says where a request presents its credential.
type credSource int

const (
	fromNone          credSource = iota
	fromAuthorization            // the Authorization header
	fromTicket                   // a WebSocket ticket in the query
	fromCookie                   // the login cookie
)

// presented is the credential a request presents: where, and its value
// (the header value, the ticket or the cookie's value).
type presented struct {
	from  credSource
	value string
}

// findCredential finds the credential r presents, in the one order: the
// Authorization header, a WebSocket ticket (only when upgrade is true),
// then the login cookie. The first one present is the request's
// credential, whatever follows it.
func (s *Server) findCredential(r *http.Request, upgrade bool) presented {
	if h := r.Header.Get("Authorization"); h != "" {
		return presented{fromAuthorization, h}
	}
	if upgrade && r.URL.Query().Has("ticket") {
		return presented{fromTicket, r.URL.Query().Get("ticket")}
	}
	if c, err := r.Cookie(s.cookieName()); err == nil && c.Value != "" {
		return presented{fromCookie, c.Value}
	}
	return presented{}
}

// authenticate checks the credential findCredential found in r and
// returns the caller. A presented but bad credential is an error even if
// another would work: clients should learn that their token is wrong.
func (s *Server) authenticate(r *http.Request, c presented) (principal, error) {
	switch c.from {
	case fromAuthorization:
		cred, ok := strings.CutPrefix(c.value, "Bearer ")
		if !ok || cred == "" {
			return principal{}, errUnauthorized
		}
		return s.authenticateBearer(r, strings.TrimSpace(cred))
	case fromTicket:
		return s.authenticateTicket(r, c.value)
	case fromCookie:
		return s.authenticateCookie(c.value)
	}
	return principal{}, errUnauthorized
}

func (s *Server) authenticateTicket(r *http.Request, ticket string) (principal, error) {
	tenant, user, err := s.opts.Tickets.Redeem(ticket, r.URL.Path)
	if err != nil {
		s.log(r).Debug("ticket refused", "err", err)
		return principal{}, errUnauthorized
	}
	p, err := s.principalFor(tenant, user, "ticket")
	if err != nil {
		return principal{}, err
	}
	// The socket lives as long as the credential that issued the ticket;
	// failing that record, as long as the user.
	p.cred = credential{kind: credUser, tenant: tenant, user: user}
	if cred, ok := s.ticketCreds.take(string(auth.HashSecret(ticket))); ok {
		p.cred = cred
	}
	return p, nil
}

func (s *Server) authenticateCookie(secret string) (principal, error) {
	hash := auth.HashSecret(secret)
	login, err := s.opts.Store.LoginByHash(hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return principal{}, fmt.Errorf("look up login: %w", err)
		}
		return principal{}, errUnauthorized
	}
	if login.Source == "" {
		// Stored by a version that did not record what a login was
		// made from: nothing would end it when its credential goes
		// (SBX-06). The browser signs in again.
		_ = s.opts.Store.DeleteLogin(hash)
		return principal{}, errUnauthorized
	}
	p, err := s.principalFor(login.TenantID, login.UserID, "cookie")
	p.cred = credential{kind: credLogin, hash: string(hash)}
	return p, err
}

func (s *Server) authenticateBearer(r *http.Request, cred string) (principal, error) {
	if auth.LooksLikeJWT(cred) {
		if s.opts.JWT == nil {
			return principal{}, errUnauthorized
		}
		claims, err := s.opts.JWT.Verify(cred)
		if errors.Is(err, auth.ErrReservedID) {
			// The signature held: telling the portal what is wrong
			// reveals nothing it does not know.
			s.log(r).Warn("portal jwt names a reserved tenant; refused", "err", err)
			return principal{}, errReservedTenant
		}
		if err != nil {
			s.log(r).Debug("jwt refused", "err", err)
			return principal{}, errUnauthorized
		}
		// Portal users are created on first sight.
		u, err := s.opts.Store.EnsureUser(claims.Tenant, claims.User)
		if err != nil {
			return principal{}, fmt.Errorf("ensure portal user: %w", err)
		}
		// A portal vouches for its users, not for server administrators: a
		// JWT naming an admin user (say local/local) is refused, so neither
		// it nor a login made from it carries admin rights.
		if u.Admin {
			s.log(r).Warn("portal jwt names an administrator; refused", "tenant_id", u.TenantID)
			return principal{}, errUnauthorized
		}
		cred := credential{kind: credJWT, expires: claims.Expires, tenant: u.TenantID, user: u.ID}
		return principal{Tenant: u.TenantID, User: u.ID, Via: "jwt", cred: cred}, nil
	}
	hash := auth.HashSecret(cred)
	tok, err := s.opts.Store.TokenByHash(hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return principal{}, fmt.Errorf("look up token: %w", err)
		}
		return principal{}, errUnauthorized
	}
	p, err := s.principalFor(tok.TenantID, tok.UserID, "bearer")
	p.cred = credential{kind: credToken, hash: string(hash), tokenID: tok.ID, expires: tok.ExpiresAt}
	return p, err
}

// errReservedTenant answers a credential of a reserved tenant (SBX-04).
var errReservedTenant = errorf(http.StatusForbidden, "reserved_id", "This credential names a tenant id reserved for the server's own use; it cannot sign in.")

// principalFor returns the stored user as a principal. A reserved tenant
// is refused whatever the credential, so a token an older version issued
// for such a tenant stops working too (SBX-04).
func (s *Server) principalFor(tenant, user, via string) (principal, error) {
	if auth.Reserved(tenant) {
		return principal{}, errReservedTenant
	}
	u, err := s.opts.Store.GetUser(tenant, user)
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, errUnauthorized
	}
	if err != nil {
		return principal{}, fmt.Errorf("look up user: %w", err)
	}
	return principal{Tenant: u.TenantID, User: u.ID, Admin: u.Admin, Via: via}, nil
}

// checkCSRF enforces the rule for state-changing requests authenticated by
// cookie: the X-Requested-With header (which a cross-site form or a simple
// fetch cannot set without a preflight) and, when the browser sends one, an
// allowed Origin.
func (s *Server) checkCSRF(r *http.Request) error {
	if r.Header.Get(csrfHeader) != csrfValue {
		return errorf(http.StatusForbidden, "csrf_required", "Requests authenticated by cookie that change state must carry the header X-Requested-With: ideserver.")
	}
	if o := r.Header.Get("Origin"); o != "" && !s.opts.Origins.CheckOrigin(o, r.Host, s.opts.TLS) {
		return errorf(http.StatusForbidden, "origin_not_allowed", "Requests from this site's origin are not allowed; ask the operator to add it to allowed_origins.")
	}
	return nil
}

// checkUpgradeOrigin applies the WebSocket rules of docs/api.md before any
// credential is looked at: a cross-site fetch marker or a disallowed Origin
// is refused. A missing Origin is decided after authentication (bearer
// only).
func (s *Server) checkUpgradeOrigin(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Header.Get("Origin") == "" {
		return errorf(http.StatusForbidden, "origin_not_allowed", "Cross-site WebSocket connections are not allowed.")
	}
	origins := r.Header.Values("Origin")
	if len(origins) > 1 {
		return errorf(http.StatusForbidden, "origin_not_allowed", "Send one Origin header.")
	}
	if len(origins) == 1 && !s.opts.Origins.CheckOrigin(origins[0], r.Host, s.opts.TLS) {
		return errorf(http.StatusForbidden, "origin_not_allowed", "WebSocket connections from this origin are not allowed; ask the operator to add it to allowed_origins.")
	}
	if len(origins) == 1 && r.Header.Get("Sec-Fetch-Site") == "cross-site" && !s.listedOrigin(origins[0]) {
		return errorf(http.StatusForbidden, "origin_not_allowed", "Cross-site WebSocket connections are not allowed.")
	}
	return nil
}

// listedOrigin reports whether o is one of the configured portal origins,
// which are cross-site by design.
func (s *Server) listedOrigin(o string) bool {
	for _, allowed := range s.opts.Origins.Origins() {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), allowed) {
			return true
		}
	}
	return false
}

// handleCreateLogin exchanges the Authorization credential for a login
// cookie. Each call makes a new login (rotation) and ends the one the
// browser presented, if any.
func (s *Server) handleCreateLogin(w http.ResponseWriter, r *http.Request) error {
	p, ok := principalFrom(r.Context())
	if err, _ := r.Context().Value(authErrKey).(error); !ok && (errors.Is(err, errReservedTenant) || errors.Is(err, errTooManyFailures)) {
		return err // say why, rather than ask for a credential
	}
	if !ok || (p.Via != "bearer" && p.Via != "jwt") {
		return errorf(http.StatusUnauthorized, "unauthorized", "Send the credential to exchange in the Authorization header.")
	}
	if o := r.Header.Get("Origin"); o != "" && !s.opts.Origins.CheckOrigin(o, r.Host, s.opts.TLS) {
		return errorf(http.StatusForbidden, "origin_not_allowed", "Sign-in from this origin is not allowed.")
	}
	if c, err := r.Cookie(s.cookieName()); err == nil && c.Value != "" {
		_ = s.opts.Store.DeleteLogin(auth.HashSecret(c.Value))
	}
	secret, hash, err := auth.NewSecret(auth.PrefixLogin)
	if err != nil {
		return fmt.Errorf("new login: %w", err)
	}
	now := time.Now().UTC()
	login := store.Login{Hash: hash, TenantID: p.Tenant, UserID: p.User, CreatedAt: now, ExpiresAt: now.Add(s.opts.LoginTTL)}
	// SBX-06: the login records its credential and outlives neither it
	// nor its expiry.
	switch p.cred.kind {
	case credToken:
		login.Source, login.TokenID = store.LoginFromToken, p.cred.tokenID
	case credJWT:
		login.Source = store.LoginFromJWT
	default:
		return errUnauthorized
	}
	if !p.cred.expires.IsZero() && p.cred.expires.Before(login.ExpiresAt) {
		login.ExpiresAt = p.cred.expires.UTC()
	}
	if !login.ExpiresAt.After(now) {
		return errUnauthorized
	}
	if err := s.opts.Store.CreateLogin(login); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errUnauthorized // the token was revoked meanwhile
		}
		return fmt.Errorf("store login: %w", err)
	}
	http.SetCookie(w, s.loginCookie(secret, login.ExpiresAt))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleDeleteLogin signs the browser out: the login is deleted on the
// server, not only forgotten by the browser.
func (s *Server) handleDeleteLogin(w http.ResponseWriter, r *http.Request) error {
	// A valid login cookie passed the CSRF rule in serveRoute already.
	if c, err := r.Cookie(s.cookieName()); err == nil && c.Value != "" {
		if err := s.opts.Store.DeleteLogin(auth.HashSecret(c.Value)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete login: %w", err)
		}
	}
	expired := s.loginCookie("", time.Unix(0, 0))
	expired.MaxAge = -1
	http.SetCookie(w, expired)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// loginCookie is the login cookie with this value and expiry.
func (s *Server) loginCookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     s.cookieName(),
		Value:    value,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   s.opts.TLS,
		SameSite: s.opts.LoginSameSite,
	}
}

type ticketRequest struct {
	Path string `json:"path"`
}

type ticketResponse struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleCreateTicket issues a single-use WebSocket ticket for one path.
func (s *Server) handleCreateTicket(w http.ResponseWriter, r *http.Request) error {
	p, _ := principalFrom(r.Context())
	var req ticketRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if !strings.HasPrefix(req.Path, "/api/v1/") || !cleanURLPath(req.Path) || strings.ContainsAny(req.Path, "?#") {
		return errorf(http.StatusBadRequest, "invalid_path", "The ticket path must be a WebSocket path under /api/v1/, without query or fragment.")
	}
	ticket, expires, err := s.opts.Tickets.Issue(p.Tenant, p.User, req.Path)
	if err != nil {
		return err
	}
	s.ticketCreds.add(string(auth.HashSecret(ticket)), p.cred, expires, time.Now())
	writeJSON(w, http.StatusCreated, ticketResponse{ticket, expires.UTC()})
	return nil
}

type meResponse struct {
	Tenant string `json:"tenant"`
	User   string `json:"user"`
	Admin  bool   `json:"admin"`
}

// handleMe tells a client who it is signed in as.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	p, _ := principalFrom(r.Context())
	writeJSON(w, http.StatusOK, meResponse{p.Tenant, p.User, p.Admin})
	return nil
}
