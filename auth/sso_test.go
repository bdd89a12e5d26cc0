package auth_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ideserver/ideserver/auth"
)

// TestPortalIdentityIgnoresEmail is AUTH-14 for what exists. ideserver has
// no OIDC or other single sign-on of its own (not built): the only
// federated identity is the portal JWT, whose user is exactly the pair of
// claims "tenant" and "sub". E-mail claims are never read, so the attacks
// of that case (email_verified missing or the string "true", an e-mail
// domain with a suffix such as corp.com.evil, linking an account by
// e-mail) have nothing to act on. This test pins that down: e-mail claims
// neither name a user nor change who the user is, and a tenant spelled
// like a domain is not an id.
func TestPortalIdentityIgnoresEmail(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, auth.JWTOptions{HMACSecret: hmacSecret})
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, hmacSecret, c) }

	// AUTH-14 link by e-mail: no sub, an e-mail of an existing user.
	for _, c := range []jwt.MapClaims{
		with(goodClaims(), "sub", nil, "email", "alice@corp.com", "email_verified", true),
		with(goodClaims(), "sub", nil, "preferred_username", "alice"),
	} {
		if got, err := v.Verify(hs(c)); err == nil {
			t.Errorf("token without sub accepted as %+v", got)
		}
	}
	// AUTH-14 e-mail claims, verified or not, never change the user.
	for _, c := range []jwt.MapClaims{
		with(goodClaims(), "sub", "mallory", "email", "alice@corp.com", "email_verified", "true"),
		with(goodClaims(), "sub", "mallory", "email", "alice@corp.com"),
		with(goodClaims(), "sub", "mallory", "email", "alice@corp.com.evil", "email_verified", true),
	} {
		got, err := v.Verify(hs(c))
		if err != nil || got.User != "mallory" || got.Tenant != "acme" {
			t.Errorf("Verify = %+v, %v; want acme/mallory whatever the e-mail says", got, err)
		}
	}
	// AUTH-14 domain-suffix tricks as a tenant: dots are not in ids.
	for _, tenant := range []string{"corp.com", "corp.com.evil", "corp.com@evil"} {
		if got, err := v.Verify(hs(with(goodClaims(), "tenant", tenant))); err == nil {
			t.Errorf("tenant %q accepted: %+v", tenant, got)
		}
	}
}
