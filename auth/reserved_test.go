package auth_test

import (
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ideserver/ideserver/auth"
)

// TestReserved is SBX-04 at the source: the names older versions gave the
// server's internal identities, and the '@' owner keys of today's, are
// never usable as tenant ids.
func TestReserved(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"playground", "playground-cache", "ideserver-selftest", "ideserver", "selftest"} {
		if !auth.Reserved(id) {
			t.Errorf("Reserved(%q) = false, want true", id)
		}
		if !auth.ValidID(id) {
			t.Errorf("ValidID(%q) = false: then the reservation would be moot", id)
		}
	}
	for _, key := range []string{"@playground", "@playground-cache", "@selftest"} {
		if auth.ValidID(key) {
			t.Errorf("ValidID(%q) = true: internal owner keys must not be spellable as ids", key)
		}
	}
	for _, id := range []string{"acme", "local", "playgrounds", "my-playground", "playground2", "ideserver-selftest-x"} {
		if auth.Reserved(id) {
			t.Errorf("Reserved(%q) = true, want false", id)
		}
	}
}

// TestVerifyReservedTenant is SBX-04 for portal JWTs: a correctly signed
// token naming a reserved tenant is refused, with an error that says why.
func TestVerifyReservedTenant(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, auth.JWTOptions{HMACSecret: hmacSecret})
	for _, tenant := range []string{"playground", "ideserver-selftest"} {
		tok := sign(t, jwt.SigningMethodHS256, hmacSecret, with(goodClaims(), "tenant", tenant))
		c, err := v.Verify(tok)
		if err == nil {
			t.Fatalf("Verify accepted tenant %q: %+v", tenant, c)
		}
		if !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, auth.ErrReservedID) {
			t.Errorf("tenant %q: error %v, want ErrInvalidToken and ErrReservedID", tenant, err)
		}
	}
	// A reserved word as the user id is fine: users are keyed under
	// their tenant.
	tok := sign(t, jwt.SigningMethodHS256, hmacSecret, with(goodClaims(), "sub", "playground"))
	if c, err := v.Verify(tok); err != nil || c.User != "playground" {
		t.Errorf("sub playground: %+v, %v", c, err)
	}
}
