package store_test

import (
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

// TestSessionsEndWithTheirCredential is SBX-06 in the store: a session
// lives no longer than the credential it was made from. Revoking the token
// (one by id, or the start-up rotation by name), deleting the user, or the
// token's own expiry ends every session derived from it, and leaves other
// sessions alone.
func TestSessionsEndWithTheirCredential(t *testing.T) {
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
	session := func(name, tenant, user, tokenID string) []byte {
		t.Helper()
		s := store.Session{Hash: hashOf(name), TenantID: tenant, UserID: user, CreatedAt: t0, ExpiresAt: now.Add(time.Hour), Source: store.SessionFromToken, TokenID: tokenID}
		if tokenID == "" {
			s.Source = store.SessionFromJWT
		}
		if err := db.CreateSession(s); err != nil {
			t.Fatalf("CreateSession %s: %v", name, err)
		}
		return s.Hash
	}
	live := func(what string, hash []byte, want bool) {
		t.Helper()
		_, err := db.SessionByHash(hash)
		if want && err != nil {
			t.Errorf("%s: session ended: %v", what, err)
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

	s1 := session("s1", "acme", "alice", "tok_1")
	s1again := session("s1-again", "acme", "alice", "tok_1")
	s2 := session("s2", "acme", "alice", "tok_2")
	sLocal := session("s-local", "acme", "alice", "tok_local")
	sJWT := session("s-jwt", "acme", "alice", "")
	sBob := session("s-bob", "acme", "bob", "tok_1b")
	sBeta := session("s-beta", "beta", "alice", "tok_1")
	sSoon := session("s-soon", "acme", "bob", "tok_soon")

	// Revoking one token ends both its sessions, not those of the
	// token with the same id in another tenant.
	if err := db.RevokeToken("acme", "tok_1"); err != nil {
		t.Fatal(err)
	}
	live("session of revoked token", s1, false)
	live("second session of revoked token", s1again, false)
	live("session of another token", s2, true)
	live("session of same token id in another tenant", sBeta, true)
	// A session cannot be made from the revoked token either.
	wantErr(t, "CreateSession from revoked token", db.CreateSession(store.Session{
		Hash: hashOf("late"), TenantID: "acme", UserID: "alice", Source: store.SessionFromToken, TokenID: "tok_1",
	}), store.ErrNotFound)

	// The start-up rotation (by name) ends the old token's sessions.
	if n, err := db.RevokeUserTokensNamed("acme", "alice", "local"); err != nil || n != 1 {
		t.Fatalf("RevokeUserTokensNamed = %d, %v", n, err)
	}
	live("session of rotated start-up token", sLocal, false)
	live("session of another token after rotation", s2, true)

	// A token's own expiry ends its sessions at the same moment.
	live("session of a token before its expiry", sSoon, true)
	now = now.Add(time.Minute)
	live("session of an expired token", sSoon, false)

	// Deleting a user ends every session of theirs, whatever it came
	// from, and their tokens; other users keep theirs.
	if err := db.DeleteUser("acme", "alice"); err != nil {
		t.Fatal(err)
	}
	live("token session of deleted user", s2, false)
	live("jwt session of deleted user", sJWT, false)
	live("other user's session", sBob, true)
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
	live("token session after the user is made again", s2, false)
	if list, err := db.ListTokens("acme"); err != nil || len(list) != 2 {
		t.Errorf("ListTokens(acme) = %+v, %v; want bob's two", list, err)
	}
}
