package store_test

import (
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

// TestLoginsEndWithTheirCredential is SBX-06 in the store: a login
// lives no longer than the credential it was made from. Revoking the token
// (one by id, or the start-up rotation by name), deleting the user, or the
// token's own expiry ends every login derived from it, and leaves other
// logins alone.
func TestLoginsEndWithTheirCredential(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	now := t0.Add(time.Hour)
	store.SetClock(db, func() time.Time { return now })
	mustUser(t, db, "acme", "alice")
	mustUser(t, db, "acme", "bob")
	mustUser(t, db, "beta", "alice")
	token := func(tenant, user, id, name string, expires time.Time) {
		t.Helper()
		err := db.CreateToken(store.Token{ID: id, TenantID: tenant, UserID: user, Name: name, Hash: hashOf(tenant + "/" + id), CreatedAt: t0, ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
	}
	login := func(name, tenant, user, tokenID string) []byte {
		t.Helper()
		s := store.Login{Hash: hashOf(name), TenantID: tenant, UserID: user, CreatedAt: t0, ExpiresAt: now.Add(time.Hour), Source: store.LoginFromToken, TokenID: tokenID}
		if tokenID == "" {
			s.Source = store.LoginFromJWT
		}
		if err := db.CreateLogin(s); err != nil {
			t.Fatalf("CreateLogin %s: %v", name, err)
		}
		return s.Hash
	}
	live := func(what string, hash []byte, want bool) {
		t.Helper()
		_, err := db.LoginByHash(hash)
		if want && err != nil {
			t.Errorf("%s: login ended: %v", what, err)
		} else if !want {
			wantErr(t, what, err, store.ErrNotFound)
		}
	}

	token("acme", "alice", "tok_1", "cli", time.Time{})
	token("acme", "alice", "tok_2", "cli", time.Time{})
	token("acme", "alice", "tok_local", "local", time.Time{})
	token("acme", "bob", "tok_1b", "cli", time.Time{})
	token("beta", "alice", "tok_1", "cli", time.Time{}) // same id, other tenant
	token("acme", "bob", "tok_soon", "cli", now.Add(time.Minute))

	s1 := login("s1", "acme", "alice", "tok_1")
	s1again := login("s1-again", "acme", "alice", "tok_1")
	s2 := login("s2", "acme", "alice", "tok_2")
	sLocal := login("s-local", "acme", "alice", "tok_local")
	sJWT := login("s-jwt", "acme", "alice", "")
	sBob := login("s-bob", "acme", "bob", "tok_1b")
	sBeta := login("s-beta", "beta", "alice", "tok_1")
	sSoon := login("s-soon", "acme", "bob", "tok_soon")

	// Revoking one token ends both its logins, not those of the
	// token with the same id in another tenant.
	if err := db.RevokeToken("acme", "tok_1"); err != nil {
		t.Fatal(err)
	}
	live("login of revoked token", s1, false)
	live("second login of revoked token", s1again, false)
	live("login of another token", s2, true)
	live("login of same token id in another tenant", sBeta, true)
	// A login cannot be made from the revoked token either.
	wantErr(t, "CreateLogin from revoked token", db.CreateLogin(store.Login{
		Hash: hashOf("late"), TenantID: "acme", UserID: "alice", Source: store.LoginFromToken, TokenID: "tok_1",
	}), store.ErrNotFound)

	// The start-up rotation (by name) ends the old token's logins.
	if n, err := db.RevokeUserTokensNamed("acme", "alice", "local"); err != nil || n != 1 {
		t.Fatalf("RevokeUserTokensNamed = %d, %v", n, err)
	}
	live("login of rotated start-up token", sLocal, false)
	live("login of another token after rotation", s2, true)

	// A token's own expiry ends its logins at the same moment.
	live("login of a token before its expiry", sSoon, true)
	now = now.Add(time.Minute)
	live("login of an expired token", sSoon, false)

	// Deleting a user ends every login of theirs, whatever it came
	// from, and their tokens; other users keep theirs.
	if err := db.DeleteUser("acme", "alice"); err != nil {
		t.Fatal(err)
	}
	live("token login of deleted user", s2, false)
	live("jwt login of deleted user", sJWT, false)
	live("other user's login", sBob, true)
	live("same user id in another tenant", sBeta, true)
	if _, err := db.TokenByHash(hashOf("acme/tok_2")); err == nil {
		t.Error("a deleted user's token still works")
	}
	if _, err := db.GetUser("acme", "alice"); err == nil {
		t.Error("GetUser finds the deleted user")
	}
	wantErr(t, "DeleteUser twice", db.DeleteUser("acme", "alice"), store.ErrNotFound)
	wantErr(t, "DeleteUser unknown tenant", db.DeleteUser("nope", "alice"), store.ErrNotFound)
	// A user made again with the same ids does not inherit anything.
	mustUser(t, db, "acme", "alice")
	live("token login after the user is made again", s2, false)
	if list, err := db.ListTokens("acme"); err != nil || len(list) != 2 {
		t.Errorf("ListTokens(acme) = %+v, %v; want bob's two", list, err)
	}
}
