package server_test

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/store"
)

// publicRoutes is every route that answers without a credential. Adding a
// public route must change this list (AUTH-07).
var publicRoutes = []string{
	"GET /healthz",
	"GET /readyz",
	"GET /metrics",
	"GET /{$}",
	"GET /assets/{file...}",
	"GET /embed/{page...}",
	"POST /auth/session",
	"DELETE /auth/session",
}

// routeRequest turns a route pattern into a method and a concrete path,
// substituting wildcards with vals (missing ones become "x").
func routeRequest(pattern string, vals map[string]string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			b.WriteString(path)
			break
		}
		j := strings.IndexByte(path[i:], '}')
		b.WriteString(path[:i])
		name := path[i+1 : i+j]
		if name == "$" {
			path = path[i+j+1:]
			continue
		}
		v, ok := vals[name]
		if !ok {
			v = "x"
		}
		b.WriteString(v)
		path = path[i+j+1:]
	}
	return method, b.String()
}

// bodyFor is a plausible body for a route: what a client that means harm
// would send to make a change.
func bodyFor(pattern string) []byte {
	switch {
	case strings.HasPrefix(pattern, "GET "), strings.HasPrefix(pattern, "DELETE "):
		return nil
	case strings.HasPrefix(pattern, "PUT ") && strings.Contains(pattern, "/files/"):
		return []byte("pwned")
	case strings.HasSuffix(pattern, "/fs/mkdir"):
		return []byte(`{"path":"pwned-dir"}`)
	case strings.HasSuffix(pattern, "/fs/rename"):
		return []byte(`{"from":"main.go","to":"pwned.go"}`)
	case strings.HasSuffix(pattern, "/state"):
		return []byte(`{"pwned":true}`)
	case strings.HasPrefix(pattern, "PATCH "):
		return []byte(`{"name":"pwned"}`)
	case strings.HasSuffix(pattern, "/tickets"):
		return []byte(`{"path":"/api/v1/workspaces/x/watch"}`)
	case strings.Contains(pattern, "/tokens"):
		return []byte(`{"user":"pwned"}`)
	}
	return []byte(`{}`)
}

// request sends the route's request, as an upgrade for WebSocket routes.
func (h *harness) routeCall(rt server.RouteInfo, vals map[string]string, opts ...reqOpt) result {
	h.tb.Helper()
	method, path := routeRequest(rt.Pattern, vals)
	if rt.WebSocket {
		opts = append(opts,
			withHeader("Connection", "Upgrade"),
			withHeader("Upgrade", "websocket"),
			withHeader("Sec-WebSocket-Version", "13"),
			withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="))
	}
	return h.do(method, path, bodyFor(rt.Pattern), opts...)
}

func TestRoutesRequireAuth(t *testing.T) {
	t.Parallel()
	// Hundreds of bad credentials from one address: above the AUTH-06
	// limit, which TestCredentialGuessing checks.
	h := newHarness(t, func(o *server.Options) { o.AuthFailureBurst = 1 << 20 })
	vals := map[string]string{"ws": h.wsA, "path": "main.go", "tenant": "a", "id": h.tokAID, "name": ""}

	var public []string
	for _, rt := range h.srv.Routes() {
		if rt.Public {
			public = append(public, rt.Pattern)
		}
	}
	slices.Sort(public)
	want := slices.Sorted(slices.Values(publicRoutes))
	if !reflect.DeepEqual(public, want) {
		t.Errorf("public routes changed:\n got %q\nwant %q\nupdate publicRoutes only if the new route must answer anonymously", public, want)
	}

	// Credentials that must not work.
	revoked, revokedSecret := h.issue("a", "a1")
	if err := h.db.RevokeToken("a", revoked.ID); err != nil {
		t.Fatal(err)
	}
	expiredSecret, hash, err := auth.NewSecret("ide")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := h.db.CreateToken(store.Token{ID: "tok_expired", TenantID: "a", UserID: "a1", Hash: hash, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		opt  reqOpt
	}{
		{"garbage bearer", bearer("not-a-token")},
		{"empty bearer", withHeader("Authorization", "Bearer ")},
		{"basic auth", withHeader("Authorization", "Basic YTpi")},
		{"revoked token", bearer(revokedSecret)},
		{"expired token", bearer(expiredSecret)},
		{"unsigned jwt", bearer("eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhIiwic3ViIjoiYTEifQ.")},
	}

	before := snapshot(t, h.wsDir(h.wsA))
	for _, rt := range h.srv.Routes() {
		if rt.Public {
			continue
		}
		t.Run(rt.Pattern, func(t *testing.T) {
			r := h.routeCall(rt, vals, withHeader("Origin", h.origin))
			if r.Status/100 == 2 || r.Status == http.StatusSwitchingProtocols {
				t.Errorf("anonymous: got %s", r)
			}
			wantError(t, "anonymous", r, http.StatusUnauthorized, "unauthorized")
			for _, c := range bad {
				wantError(t, c.name, h.routeCall(rt, vals, c.opt), http.StatusUnauthorized, "unauthorized")
			}
		})
	}
	sameSnapshot(t, "workspace A after anonymous calls", before, snapshot(t, h.wsDir(h.wsA)))
	if ws, err := h.db.GetWorkspace(h.wsA); err != nil || ws.Name != "a-ws" || ws.State != store.StateActive {
		t.Errorf("workspace A record after anonymous calls: %+v, %v", ws, err)
	}
	if toks, _ := h.db.ListTokens("a"); len(toks) != 3 { // a1, a2, expired
		t.Errorf("tenant a has %d tokens after anonymous calls, want 3", len(toks))
	}
}

// TestOtherTenantGets404 is AUTH-01 and AUTH-02: every route on a
// workspace, generated from the route table, answers another tenant's and
// another user's valid credential exactly as it answers an unknown id, and
// changes nothing.
func TestOtherTenantGets404(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const unknown = "aaaaaaaaaaaaaaaaaaaaaaaaaa" // a well-formed id nobody has
	if err := h.db.PutWorkspaceState(h.wsA, []byte(`{"open":["main.go"]}`)); err != nil {
		t.Fatal(err)
	}
	filesBefore := snapshot(t, h.wsDir(h.wsA))
	recBefore, err := h.db.GetWorkspace(h.wsA)
	if err != nil {
		t.Fatal(err)
	}

	callers := []struct {
		name string
		tok  string
	}{
		{"tenant b", h.tokB},
		{"user a2 of tenant a", h.tokA2},
	}
	n := 0
	for _, rt := range h.srv.Routes() {
		if !strings.Contains(rt.Pattern, "{ws}") {
			continue
		}
		n++
		for _, c := range callers {
			t.Run(rt.Pattern+"/"+c.name, func(t *testing.T) {
				base := map[string]string{"path": "main.go", "id": "x"}
				other := map[string]string{"ws": h.wsA}
				none := map[string]string{"ws": unknown}
				for k, v := range base {
					other[k], none[k] = v, v
				}
				got := h.routeCall(rt, other, bearer(c.tok))
				ref := h.routeCall(rt, none, bearer(c.tok))
				wantError(t, "other's workspace", got, http.StatusNotFound, "not_found")
				if got.Status != ref.Status || string(got.Body) != string(ref.Body) {
					t.Errorf("other's workspace answers %s, unknown id answers %s: they must be indistinguishable", got, ref)
				}
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d routes with {ws}; the table lost routes?", n)
	}

	sameSnapshot(t, "workspace A files", filesBefore, snapshot(t, h.wsDir(h.wsA)))
	recAfter, err := h.db.GetWorkspace(h.wsA)
	if err != nil {
		t.Fatalf("workspace A record gone: %v", err)
	}
	if !recAfter.UpdatedAt.Equal(recBefore.UpdatedAt) || recAfter.Name != recBefore.Name || recAfter.State != recBefore.State {
		t.Errorf("workspace A record changed: %+v -> %+v", recBefore, recAfter)
	}
	if st, err := h.db.GetWorkspaceState(h.wsA); err != nil || string(st) != `{"open":["main.go"]}` {
		t.Errorf("workspace A state changed: %q, %v", st, err)
	}
	if open, reserved := h.srv.SocketCounts(); open != 0 || reserved != 0 {
		t.Errorf("sockets after refused upgrades: open %d reserved %d", open, reserved)
	}
	// The owner still sees everything.
	wantStatus(t, "owner reads main.go", h.do("GET", "/api/v1/workspaces/"+h.wsA+"/files/main.go", nil, bearer(h.tokA)), http.StatusOK)
}
