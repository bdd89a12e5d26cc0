package store_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

func testTokens(t *testing.T, db *store.DB) {
	now := t0.Add(24 * time.Hour)
	store.SetClock(db, func() time.Time { return now })
	mustUser(t, db, "acme", "alice")
	mustUser(t, db, "acme", "bob")
	mustUser(t, db, "beta", "alice")

	tok := func(id, tenant, user, name string, created time.Time) store.Token {
		return store.Token{ID: id, TenantID: tenant, UserID: user, Name: name, Hash: hashOf(tenant + "/" + id), CreatedAt: created}
	}
	// Inserted out of CreatedAt order; the ids sort opposite to time.
	toks := []store.Token{
		tok("tok_c", "acme", "alice", "cli", t0.Add(3*time.Second)),
		tok("tok_b", "acme", "alice", "local", t0.Add(2*time.Second)),
		tok("tok_a", "acme", "bob", "local", t0.Add(1*time.Second)),
		tok("tok_d", "acme", "alice", "local", t0.Add(4*time.Second)),
		tok("tok_a", "beta", "alice", "local", t0),
	}
	expiredTok := tok("tok_x", "acme", "alice", "old", t0)
	expiredTok.ExpiresAt = now // expires exactly now: expired
	toks = append(toks, expiredTok)
	liveTok := tok("tok_y", "acme", "alice", "soon", t0.Add(5*time.Second))
	liveTok.ExpiresAt = now.Add(time.Nanosecond)
	toks = append(toks, liveTok)
	for _, tk := range toks {
		if err := db.CreateToken(tk); err != nil {
			t.Fatalf("CreateToken(%s/%s): %v", tk.TenantID, tk.ID, err)
		}
	}

	got, err := db.TokenByHash(hashOf("acme/tok_b"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "tok_b" || got.TenantID != "acme" || got.UserID != "alice" || got.Name != "local" ||
		!bytes.Equal(got.Hash, hashOf("acme/tok_b")) || !got.CreatedAt.Equal(t0.Add(2*time.Second)) ||
		got.CreatedAt.Location() != time.UTC || !got.ExpiresAt.IsZero() {
		t.Errorf("TokenByHash = %+v", got)
	}
	if got, err := db.TokenByHash(liveTok.Hash); err != nil || got.ID != "tok_y" {
		t.Errorf("TokenByHash(unexpired) = %+v, %v", got, err)
	}

	for _, tc := range []struct {
		name string
		hash []byte
	}{
		{"unknown", hashOf("nope")},
		{"expired", expiredTok.Hash},
		{"empty", nil},
		{"prefix", hashOf("acme/tok_b")[:16]},
	} {
		_, err := db.TokenByHash(tc.hash)
		wantErr(t, "TokenByHash "+tc.name, err, store.ErrNotFound)
	}

	for _, tc := range []struct {
		name string
		tok  store.Token
		want error
	}{
		{"duplicate id", store.Token{ID: "tok_c", TenantID: "acme", UserID: "bob", Hash: hashOf("fresh1")}, store.ErrExists},
		{"duplicate hash in another tenant", store.Token{ID: "tok_new", TenantID: "beta", UserID: "alice", Hash: hashOf("acme/tok_c")}, store.ErrExists},
		{"missing user", store.Token{ID: "tok_new", TenantID: "acme", UserID: "carol", Hash: hashOf("fresh2")}, store.ErrNotFound},
		{"missing tenant", store.Token{ID: "tok_new", TenantID: "gamma", UserID: "alice", Hash: hashOf("fresh3")}, store.ErrNotFound},
		{"short hash", store.Token{ID: "tok_new", TenantID: "acme", UserID: "alice", Hash: []byte("short")}, store.ErrInvalid},
		{"empty id", store.Token{TenantID: "acme", UserID: "alice", Hash: hashOf("fresh4")}, store.ErrInvalid},
	} {
		wantErr(t, "CreateToken "+tc.name, db.CreateToken(tc.tok), tc.want)
	}
	// A failed CreateToken wrote nothing.
	_, err = db.TokenByHash(hashOf("fresh1"))
	wantErr(t, "TokenByHash after failed create", err, store.ErrNotFound)

	list, err := db.ListTokens("acme")
	if err != nil {
		t.Fatal(err)
	}
	if ids := tokenIDs(list); !slices.Equal(ids, []string{"tok_x", "tok_a", "tok_b", "tok_c", "tok_d", "tok_y"}) {
		t.Errorf("ListTokens(acme) = %q, want sorted by CreatedAt then ID", ids)
	}
	if list, _ := db.ListTokens("nope"); len(list) != 0 {
		t.Errorf("ListTokens(unknown tenant) = %v", list)
	}

	// Revoking another tenant's token id is ErrNotFound and changes nothing.
	wantErr(t, "RevokeToken other tenant", db.RevokeToken("beta", "tok_c"), store.ErrNotFound)
	wantErr(t, "RevokeToken unknown tenant", db.RevokeToken("nope", "tok_c"), store.ErrNotFound)
	wantErr(t, "RevokeToken unknown id", db.RevokeToken("acme", "tok_zz"), store.ErrNotFound)
	if err := db.RevokeToken("acme", "tok_c"); err != nil {
		t.Fatal(err)
	}
	_, err = db.TokenByHash(hashOf("acme/tok_c"))
	wantErr(t, "TokenByHash revoked", err, store.ErrNotFound)
	wantErr(t, "RevokeToken twice", db.RevokeToken("acme", "tok_c"), store.ErrNotFound)
	// tok_a exists in both tenants; revoking acme's keeps beta's.
	if err := db.RevokeToken("acme", "tok_a"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.TokenByHash(hashOf("beta/tok_a")); err != nil || got.TenantID != "beta" {
		t.Errorf("beta's tok_a after revoking acme's: %+v, %v", got, err)
	}
	// The hash is free again after revocation.
	if err := db.CreateToken(store.Token{ID: "tok_c2", TenantID: "acme", UserID: "bob", Hash: hashOf("acme/tok_c"), CreatedAt: t0}); err != nil {
		t.Errorf("CreateToken reusing a revoked hash: %v", err)
	}

	n, err := db.RevokeUserTokensNamed("acme", "alice", "local")
	if err != nil || n != 2 {
		t.Errorf("RevokeUserTokensNamed = %d, %v; want 2", n, err)
	}
	for _, h := range [][]byte{hashOf("acme/tok_b"), hashOf("acme/tok_d")} {
		_, err := db.TokenByHash(h)
		wantErr(t, "TokenByHash after RevokeUserTokensNamed", err, store.ErrNotFound)
	}
	list, _ = db.ListTokens("acme")
	if ids := tokenIDs(list); !slices.Equal(ids, []string{"tok_c2", "tok_x", "tok_y"}) {
		t.Errorf("ListTokens after revocations = %q", ids)
	}
	if n, err := db.RevokeUserTokensNamed("beta", "alice", "cli"); err != nil || n != 0 {
		t.Errorf("RevokeUserTokensNamed(no match) = %d, %v", n, err)
	}
	if n, err := db.RevokeUserTokensNamed("nope", "alice", "local"); err != nil || n != 0 {
		t.Errorf("RevokeUserTokensNamed(unknown tenant) = %d, %v", n, err)
	}
}

func tokenIDs(ts []store.Token) []string {
	var ids []string
	for _, tk := range ts {
		ids = append(ids, tk.ID)
	}
	return ids
}

func testLogins(t *testing.T, db *store.DB) {
	now := t0.Add(time.Hour)
	store.SetClock(db, func() time.Time { return now })
	mustUser(t, db, "beta", "carol")
	if err := db.CreateToken(store.Token{ID: "tok_carol", TenantID: "beta", UserID: "carol", Hash: hashOf("carol"), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	const jwtSrc = store.LoginFromJWT
	logins := []store.Login{
		{Hash: hashOf("s1"), TenantID: "acme", UserID: "alice", CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour), Source: jwtSrc},
		{Hash: hashOf("s2"), TenantID: "acme", UserID: "bob", CreatedAt: t0, ExpiresAt: now, Source: jwtSrc},                        // expired now
		{Hash: hashOf("s3"), TenantID: "beta", UserID: "alice", CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute), Source: jwtSrc}, // expired
		{Hash: hashOf("s4"), TenantID: "beta", UserID: "carol", CreatedAt: t0, Source: store.LoginFromToken, TokenID: "tok_carol"},  // never expires
	}
	for _, s := range logins {
		if err := db.CreateLogin(s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.LoginByHash(hashOf("s1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.TenantID != "acme" || got.UserID != "alice" || !got.CreatedAt.Equal(t0) || got.CreatedAt.Location() != time.UTC ||
		!got.ExpiresAt.Equal(t0.Add(2*time.Hour)) || !bytes.Equal(got.Hash, hashOf("s1")) {
		t.Errorf("LoginByHash = %+v", got)
	}
	if _, err := db.LoginByHash(hashOf("s4")); err != nil {
		t.Errorf("LoginByHash(no expiry): %v", err)
	}
	for _, tc := range []struct {
		name string
		hash []byte
	}{{"expired at now", hashOf("s2")}, {"expired", hashOf("s3")}, {"unknown", hashOf("s9")}, {"empty", nil}} {
		_, err := db.LoginByHash(tc.hash)
		wantErr(t, "LoginByHash "+tc.name, err, store.ErrNotFound)
	}
	wantErr(t, "CreateLogin duplicate", db.CreateLogin(logins[0]), store.ErrExists)
	wantErr(t, "CreateLogin short hash", db.CreateLogin(store.Login{Hash: []byte("x"), TenantID: "a", UserID: "b", Source: jwtSrc, ExpiresAt: now}), store.ErrInvalid)
	for _, tc := range []struct {
		name string
		s    store.Login
		want error
	}{
		{"no source", store.Login{ExpiresAt: now.Add(time.Hour)}, store.ErrInvalid},
		{"unknown source", store.Login{Source: "password", ExpiresAt: now.Add(time.Hour)}, store.ErrInvalid},
		{"jwt without expiry", store.Login{Source: jwtSrc}, store.ErrInvalid},
		{"jwt with token id", store.Login{Source: jwtSrc, TokenID: "tok_carol", ExpiresAt: now.Add(time.Hour)}, store.ErrInvalid},
		{"token without id", store.Login{Source: store.LoginFromToken}, store.ErrInvalid},
		{"unknown token", store.Login{Source: store.LoginFromToken, TokenID: "tok_nope"}, store.ErrNotFound},
		{"another user's token", store.Login{UserID: "dave", Source: store.LoginFromToken, TokenID: "tok_carol"}, store.ErrNotFound},
	} {
		s := tc.s
		s.Hash, s.TenantID, s.CreatedAt = hashOf("bad-"+tc.name), "beta", t0
		if s.UserID == "" {
			s.UserID = "carol"
		}
		wantErr(t, "CreateLogin "+tc.name, db.CreateLogin(s), tc.want)
	}

	n, err := db.DeleteExpiredLogins(now)
	if err != nil || n != 2 {
		t.Errorf("DeleteExpiredLogins = %d, %v; want 2", n, err)
	}
	// Gone from storage, not only hidden: moving the clock back does not revive them.
	store.SetClock(db, func() time.Time { return t0 })
	_, err = db.LoginByHash(hashOf("s2"))
	wantErr(t, "LoginByHash after sweep", err, store.ErrNotFound)
	if _, err := db.LoginByHash(hashOf("s1")); err != nil {
		t.Errorf("sweep removed a live login: %v", err)
	}
	if n, err := db.DeleteExpiredLogins(now); err != nil || n != 0 {
		t.Errorf("second DeleteExpiredLogins = %d, %v", n, err)
	}

	if err := db.DeleteLogin(hashOf("s1")); err != nil {
		t.Fatal(err)
	}
	_, err = db.LoginByHash(hashOf("s1"))
	wantErr(t, "LoginByHash deleted", err, store.ErrNotFound)
	if err := db.DeleteLogin(hashOf("s1")); err != nil {
		t.Errorf("DeleteLogin twice: %v, want nil (idempotent)", err)
	}
}
