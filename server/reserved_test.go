package server_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/store"
)

// TestReservedTenants is SBX-04 through the admin API and portal JWTs: the
// names of the server's internal identities cannot be claimed as tenants,
// and a credential an older version issued for one stops working.
func TestReservedTenants(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := newHarness(t, func(o *server.Options) {
		v, err := auth.NewJWTVerifier(auth.JWTOptions{HMACSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		o.JWT = v
	})
	exp := time.Now().Add(time.Hour).Unix()
	for _, tenant := range []string{"playground", "ideserver-selftest"} {
		t.Run(tenant, func(t *testing.T) {
			r := h.do("POST", "/api/v1/admin/tenants/"+tenant+"/tokens", []byte(`{"user":"mallory","admin":true}`), bearer(h.tokAdmin))
			wantError(t, "admin API create", r, http.StatusBadRequest, "reserved_id")

			tok := signJWT(t, secret, jwt.MapClaims{"tenant": tenant, "sub": "mallory", "exp": exp})
			wantError(t, "portal JWT", h.me(bearer(tok)), http.StatusForbidden, "reserved_id")
			wantError(t, "login from portal JWT", h.do("POST", "/auth/session", nil, bearer(tok)), http.StatusForbidden, "reserved_id")
			wantError(t, "workspace from portal JWT", h.do("POST", "/api/v1/workspaces", []byte(`{"name":"x"}`), bearer(tok)), http.StatusForbidden, "reserved_id")
			if _, err := h.db.GetTenant(tenant); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("tenant %s exists after refused claims: %v", tenant, err)
			}

			// A token an older version stored for the tenant (the store
			// itself does not know about reservations) is refused too.
			if _, err := h.db.EnsureUser(tenant, "old"); err != nil {
				t.Fatal(err)
			}
			oldSecret, hash, _ := auth.NewSecret(auth.PrefixAPIToken)
			if err := h.db.CreateToken(store.Token{ID: "tok_old_" + tenant, TenantID: tenant, UserID: "old", Hash: hash, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			wantError(t, "old token of a reserved tenant", h.me(bearer(oldSecret)), http.StatusForbidden, "reserved_id")
			wantError(t, "login from old token", h.do("POST", "/auth/session", nil, bearer(oldSecret)), http.StatusForbidden, "reserved_id")
			// The admin can still list and revoke such leftovers.
			wantStatus(t, "admin lists them", h.do("GET", "/api/v1/admin/tenants/"+tenant+"/tokens", nil, bearer(h.tokAdmin)), http.StatusOK)
			wantStatus(t, "admin revokes them", h.do("DELETE", "/api/v1/admin/tenants/"+tenant+"/tokens/tok_old_"+tenant, nil, bearer(h.tokAdmin)), http.StatusNoContent)
		})
	}
	// The user id "playground" is fine: users are keyed under their tenant.
	r := h.do("POST", "/api/v1/admin/tenants/acme/tokens", []byte(`{"user":"playground"}`), bearer(h.tokAdmin))
	wantStatus(t, "user id playground in tenant acme", r, http.StatusCreated)
}
