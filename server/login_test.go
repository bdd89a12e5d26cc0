package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// login exchanges tok for a login cookie and returns the cookie.
func (h *harness) login(tok string, opts ...reqOpt) *http.Cookie {
	h.tb.Helper()
	r := h.do("POST", "/auth/session", nil, append([]reqOpt{bearer(tok)}, opts...)...)
	if r.Status != http.StatusNoContent {
		h.tb.Fatalf("login: %s", r)
	}
	resp := http.Response{Header: r.Header}
	cs := resp.Cookies()
	if len(cs) != 1 {
		h.tb.Fatalf("login set %d cookies, want 1: %v", len(cs), r.Header.Values("Set-Cookie"))
	}
	return cs[0]
}

func (h *harness) me(opts ...reqOpt) result {
	h.tb.Helper()
	return h.do("GET", "/api/v1/me", nil, opts...)
}

func (h *harness) workspaceCount(tenant, user string) int {
	h.tb.Helper()
	list, err := h.mgr.List(workspace.Owner{Tenant: tenant, User: user})
	if err != nil {
		h.tb.Fatal(err)
	}
	return len(list)
}

// TestLoginCookie is AUTH-04 and EMB-05.
func TestLoginCookie(t *testing.T) {
	t.Parallel()
	t.Run("attributes", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			tls        bool
			cookieName string
		}{
			{"plain http", false, "ideserver_session"},
			{"tls", true, "__Host-ideserver_session"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, func(o *server.Options) { o.TLS = tc.tls })
				c := h.login(h.tokA)
				if c.Name != tc.cookieName || !c.HttpOnly || c.Secure != tc.tls || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
					t.Errorf("cookie %+v: want name %s, HttpOnly, Secure=%v, Path=/, no Domain, SameSite=Lax", c, tc.cookieName, tc.tls)
				}
				if len(c.Value) < 32 || strings.Contains(c.Value, h.tokA) {
					t.Errorf("login cookie value %q is short or holds the token", c.Value)
				}
				wantStatus(t, "me with cookie", h.me(h.cookie(c.Value)), http.StatusOK)
				if tc.tls {
					// The unprefixed name is not a login under TLS.
					wantStatus(t, "unprefixed cookie under TLS", h.me(withCookie("ideserver_session", c.Value)), http.StatusUnauthorized)
				}
			})
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		h := newHarness(t)
		first := h.login(h.tokA)
		me := decode[struct{ Tenant, User string }](t, h.me(h.cookie(first.Value)))
		if me.Tenant != "a" || me.User != "a1" {
			t.Errorf("me = %+v, want a/a1", me)
		}

		// A second login presenting the first cookie rotates it.
		second := h.login(h.tokA, h.cookie(first.Value))
		if second.Value == first.Value {
			t.Fatalf("login did not rotate the cookie value")
		}
		wantError(t, "rotated-away cookie", h.me(h.cookie(first.Value)), http.StatusUnauthorized, "unauthorized")
		wantStatus(t, "new cookie", h.me(h.cookie(second.Value)), http.StatusOK)

		// Logout needs the CSRF header like any cookie state change, and
		// is server-side: the old value is dead afterwards.
		wantError(t, "logout without X-Requested-With", h.do("DELETE", "/auth/session", nil, h.cookie(second.Value)), http.StatusForbidden, "csrf_required")
		wantStatus(t, "cookie after refused logout", h.me(h.cookie(second.Value)), http.StatusOK)
		out := h.do("DELETE", "/auth/session", nil, h.cookie(second.Value), csrf)
		wantStatus(t, "logout", out, http.StatusNoContent)
		if sc := out.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
			t.Errorf("logout Set-Cookie %q does not expire the cookie", sc)
		}
		wantError(t, "cookie after logout", h.me(h.cookie(second.Value)), http.StatusUnauthorized, "unauthorized")
	})

	t.Run("only login values work as cookies", func(t *testing.T) {
		h := newHarness(t)
		for _, tc := range []struct{ name, value string }{
			{"api token", h.tokA},
			{"admin token", h.tokAdmin},
			{"random", "ses_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{"hash-like", strings.Repeat("0", 64)},
		} {
			wantError(t, tc.name, h.me(h.cookie(tc.value)), http.StatusUnauthorized, "unauthorized")
		}
		// A cookie is not a credential to exchange for another login.
		c := h.login(h.tokA)
		wantError(t, "login with a cookie only", h.do("POST", "/auth/session", nil, h.cookie(c.Value), csrf), http.StatusUnauthorized, "unauthorized")
	})

	t.Run("csrf", func(t *testing.T) {
		h := newHarness(t)
		c := h.login(h.tokA)
		before := h.workspaceCount("a", "a1")
		body := []byte(`{"name":"via-cookie"}`)
		for _, tc := range []struct {
			name string
			opts []reqOpt
		}{
			{"no header", nil},
			{"wrong value", []reqOpt{withHeader("X-Requested-With", "XMLHttpRequest")}},
			{"header but evil origin", []reqOpt{csrf, withHeader("Origin", "https://evil.example")}},
		} {
			r := h.do("POST", "/api/v1/workspaces", body, append(tc.opts, h.cookie(c.Value))...)
			if r.Status != http.StatusForbidden {
				t.Errorf("%s: got %s, want 403", tc.name, r)
			}
		}
		if n := h.workspaceCount("a", "a1"); n != before {
			t.Fatalf("refused requests created workspaces: %d -> %d", before, n)
		}
		r := h.do("POST", "/api/v1/workspaces", body, h.cookie(c.Value), csrf, withHeader("Origin", h.origin))
		wantStatus(t, "with X-Requested-With", r, http.StatusCreated)
		if n := h.workspaceCount("a", "a1"); n != before+1 {
			t.Errorf("workspaces %d -> %d, want one more", before, n)
		}
		// Safe methods need no header.
		wantStatus(t, "GET by cookie", h.do("GET", "/api/v1/workspaces", nil, h.cookie(c.Value)), http.StatusOK)
	})
}

// fakeClock is a settable clock for tickets.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (h *harness) ticket(tok, path string) string {
	h.tb.Helper()
	body, _ := json.Marshal(map[string]string{"path": path})
	r := h.do("POST", "/api/v1/tickets", body, bearer(tok))
	if r.Status != http.StatusCreated {
		h.tb.Fatalf("ticket for %s: %s", path, r)
	}
	out := decode[struct {
		Ticket    string    `json:"ticket"`
		ExpiresAt time.Time `json:"expires_at"`
	}](h.tb, r)
	if out.Ticket == "" || out.ExpiresAt.IsZero() {
		h.tb.Fatalf("ticket answer %s lacks ticket or expires_at", r)
	}
	return out.Ticket
}

// TestTickets is AUTH-05.
func TestTickets(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	h := newHarness(t, func(o *server.Options) {
		o.Tickets = auth.NewTickets(auth.TicketOptions{Now: clock.Now})
	})
	wsA2 := h.createWorkspace("a", "a1", "second", nil)
	watchA := "/api/v1/workspaces/" + h.wsA + "/watch"
	watchA2 := "/api/v1/workspaces/" + wsA2 + "/watch"
	browser := func(string) http.Header { return hdr("Origin", h.origin) }
	q := func(path, ticket string) string { return path + "?ticket=" + ticket }

	t.Run("once on its path", func(t *testing.T) {
		tk := h.ticket(h.tokA, watchA)
		conn, r := h.dial(q(watchA, tk), browser(tk), nil)
		if conn == nil {
			t.Fatalf("first use: %s", r)
		}
		_ = conn.Close()
		_, r = h.dial(q(watchA, tk), browser(tk), nil)
		wantError(t, "reused", r, http.StatusUnauthorized, "unauthorized")
	})

	t.Run("other path consumes it", func(t *testing.T) {
		tk := h.ticket(h.tokA, watchA)
		_, r := h.dial(q(watchA2, tk), browser(tk), nil)
		wantError(t, "another workspace's watch", r, http.StatusUnauthorized, "unauthorized")
		_, r = h.dial(q(watchA, tk), browser(tk), nil)
		wantError(t, "its own path after misuse", r, http.StatusUnauthorized, "unauthorized")
	})

	t.Run("expired", func(t *testing.T) {
		tk := h.ticket(h.tokA, watchA)
		clock.Advance(61 * time.Second)
		_, r := h.dial(q(watchA, tk), browser(tk), nil)
		wantError(t, "after 61s", r, http.StatusUnauthorized, "unauthorized")
	})

	t.Run("not on plain API routes", func(t *testing.T) {
		tk := h.ticket(h.tokA, "/api/v1/workspaces")
		wantError(t, "ticket on GET /api/v1/workspaces", h.do("GET", "/api/v1/workspaces?ticket="+tk, nil), http.StatusUnauthorized, "unauthorized")
	})

	t.Run("no origin needs bearer", func(t *testing.T) {
		tk := h.ticket(h.tokA, watchA)
		_, r := h.dial(q(watchA, tk), nil, nil)
		wantError(t, "ticket without Origin", r, http.StatusForbidden, "origin_required")
	})

	t.Run("bound to its user", func(t *testing.T) {
		// b1 asks for a ticket to A's watch: the ticket is b1's, so the
		// socket sees only b1's workspaces.
		tk := h.ticket(h.tokB, watchA)
		_, r := h.dial(q(watchA, tk), browser(tk), nil)
		wantError(t, "b1's ticket on A's workspace", r, http.StatusNotFound, "not_found")
		watchB := "/api/v1/workspaces/" + h.wsB + "/watch"
		tk = h.ticket(h.tokB, watchB)
		if conn, r := h.dial(q(watchB, tk), browser(tk), nil); conn == nil {
			t.Errorf("b1's ticket on B's workspace: %s", r)
		}
	})

	t.Run("bad ticket requests", func(t *testing.T) {
		for _, p := range []string{"", "/healthz", "/api/v1/workspaces/../x", "/api/v1/x?y=1", "relative"} {
			body, _ := json.Marshal(map[string]string{"path": p})
			wantError(t, "ticket for "+p, h.do("POST", "/api/v1/tickets", body, bearer(h.tokA)), http.StatusBadRequest, "invalid_path")
		}
	})
}

func signJWT(t *testing.T, secret []byte, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPortalJWT(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := newHarness(t, func(o *server.Options) {
		v, err := auth.NewJWTVerifier(auth.JWTOptions{HMACSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		o.JWT = v
	})
	now := time.Now()
	if _, err := h.db.GetUser("portal-t", "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("portal user exists before first sight: %v", err)
	}
	valid := signJWT(t, secret, jwt.MapClaims{"tenant": "portal-t", "sub": "u1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	r := h.do("POST", "/api/v1/workspaces", []byte(`{"name":"from-portal"}`), bearer(valid))
	wantStatus(t, "create workspace with portal JWT", r, http.StatusCreated)
	if u, err := h.db.GetUser("portal-t", "u1"); err != nil || u.Admin {
		t.Errorf("portal user after first sight: %+v, %v", u, err)
	}
	if n := h.workspaceCount("portal-t", "u1"); n != 1 {
		t.Errorf("portal user has %d workspaces, want 1", n)
	}
	// A JWT can be exchanged for a login like a token.
	c := h.login(valid)
	wantStatus(t, "cookie from JWT", h.me(h.cookie(c.Value)), http.StatusOK)

	// A portal cannot sign in as a server administrator.
	if err := h.db.SetUserAdmin("portal-t", "u1", true); err != nil {
		t.Fatal(err)
	}
	adminJWT := signJWT(t, secret, jwt.MapClaims{"tenant": "portal-t", "sub": "u1", "exp": now.Add(time.Hour).Unix()})
	wantError(t, "jwt naming an admin", h.do("GET", "/api/v1/admin/tenants/a/tokens", nil, bearer(adminJWT)), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, "login from a jwt naming an admin", h.do("POST", "/auth/session", nil, bearer(adminJWT)), http.StatusUnauthorized)
	if err := h.db.SetUserAdmin("portal-t", "u1", false); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		tok    string
		tenant string
	}{
		{"expired", signJWT(t, secret, jwt.MapClaims{"tenant": "portal-x", "sub": "u2", "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}), "portal-x"},
		{"wrong key", signJWT(t, []byte("another-secret-another-secret-xx"), jwt.MapClaims{"tenant": "portal-y", "sub": "u2", "exp": now.Add(time.Hour).Unix()}), "portal-y"},
		{"no exp", signJWT(t, secret, jwt.MapClaims{"tenant": "portal-z", "sub": "u2"}), "portal-z"},
		{"bad tenant id", signJWT(t, secret, jwt.MapClaims{"tenant": "../a", "sub": "u2", "exp": now.Add(time.Hour).Unix()}), "../a"},
	} {
		r := h.do("POST", "/api/v1/workspaces", []byte(`{"name":"nope"}`), bearer(tc.tok))
		wantError(t, tc.name, r, http.StatusUnauthorized, "unauthorized")
		if _, err := h.db.GetUser(tc.tenant, "u2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: user was created: %v", tc.name, err)
		}
	}
}

func TestAdminTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	type tokenAnswer struct {
		ID     string `json:"id"`
		Token  string `json:"token"`
		Tenant string `json:"tenant"`
		User   string `json:"user"`
	}

	// A non-admin is refused and nothing is created.
	r := h.do("POST", "/api/v1/admin/tenants/c/tokens", []byte(`{"user":"c1"}`), bearer(h.tokA))
	wantError(t, "non-admin create", r, http.StatusForbidden, "admin_required")
	if _, err := h.db.GetUser("c", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused create made user c/c1: %v", err)
	}
	wantError(t, "non-admin list", h.do("GET", "/api/v1/admin/tenants/a/tokens", nil, bearer(h.tokA)), http.StatusForbidden, "admin_required")

	r = h.do("POST", "/api/v1/admin/tenants/c/tokens", []byte(`{"user":"c1","name":"ci"}`), bearer(h.tokAdmin))
	wantStatus(t, "admin create", r, http.StatusCreated)
	tok := decode[tokenAnswer](t, r)
	if tok.Token == "" || tok.ID == "" || tok.Tenant != "c" || tok.User != "c1" {
		t.Fatalf("create answer %s", r)
	}
	me := decode[struct{ Tenant, User string }](t, h.me(bearer(tok.Token)))
	if me.Tenant != "c" || me.User != "c1" {
		t.Errorf("new token is %+v, want c/c1", me)
	}
	list := h.do("GET", "/api/v1/admin/tenants/c/tokens", nil, bearer(h.tokAdmin))
	wantStatus(t, "list", list, http.StatusOK)
	if strings.Contains(string(list.Body), tok.Token) {
		t.Errorf("token list shows the secret: %s", list)
	}

	// A non-admin cannot revoke it either.
	wantError(t, "non-admin revoke", h.do("DELETE", "/api/v1/admin/tenants/c/tokens/"+tok.ID, nil, bearer(h.tokA)), http.StatusForbidden, "admin_required")
	wantStatus(t, "still works", h.me(bearer(tok.Token)), http.StatusOK)
	// Revoking under another tenant's path does nothing.
	wantError(t, "revoke via wrong tenant", h.do("DELETE", "/api/v1/admin/tenants/a/tokens/"+tok.ID, nil, bearer(h.tokAdmin)), http.StatusNotFound, "not_found")
	wantStatus(t, "still works", h.me(bearer(tok.Token)), http.StatusOK)

	wantStatus(t, "admin revoke", h.do("DELETE", "/api/v1/admin/tenants/c/tokens/"+tok.ID, nil, bearer(h.tokAdmin)), http.StatusNoContent)
	wantError(t, "revoked token", h.me(bearer(tok.Token)), http.StatusUnauthorized, "unauthorized")

	wantError(t, "invalid tenant id", h.do("POST", "/api/v1/admin/tenants/C_bad/tokens", []byte(`{"user":"c1"}`), bearer(h.tokAdmin)), http.StatusBadRequest, "invalid_id")
	wantError(t, "pprof for non-admin", h.do("GET", "/debug/pprof/", nil, bearer(h.tokA)), http.StatusForbidden, "admin_required")
	wantStatus(t, "pprof for admin", h.do("GET", "/debug/pprof/", nil, bearer(h.tokAdmin)), http.StatusOK)
}
