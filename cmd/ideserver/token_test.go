package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/store"
)

// TestTokenCreateReservedTenant is SBX-04 for the CLI: `ideserver token
// create` for a reserved tenant fails with a message that says so, exits
// non-zero, and creates nothing.
func TestTokenCreateReservedTenant(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := envFunc(map[string]string{"HOME": t.TempDir()})
	for _, tenant := range []string{"playground", "ideserver-selftest"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"token", "create", "--data", data, "--tenant", tenant, "--user", "mallory"}, env, &stdout, &stderr)
		if code == 0 {
			t.Errorf("token create --tenant %s: exit 0, stdout %q", tenant, stdout.String())
		}
		if msg := stderr.String(); !strings.Contains(msg, "reserved") || !strings.Contains(msg, tenant) {
			t.Errorf("token create --tenant %s: stderr %q, want it to say the id is reserved", tenant, msg)
		}
		if strings.Contains(stdout.String(), auth.PrefixAPIToken+"_") {
			t.Errorf("token create --tenant %s printed a token: %q", tenant, stdout.String())
		}
	}
	// A plain tenant still works, and the reserved ones were not created.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"token", "create", "--data", data, "--tenant", "acme", "--user", "alice"}, env, &stdout, &stderr); code != 0 {
		t.Fatalf("token create --tenant acme: exit %d, stderr %q", code, stderr.String())
	}
	db, err := store.Open(store.Options{Path: filepath.Join(data, "ideserver.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tenant := range []string{"playground", "ideserver-selftest"} {
		if _, err := db.GetTenant(tenant); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tenant %s after a refused create: %v, want not found", tenant, err)
		}
	}
}

// TestStartupRotationEndsLogins is SBX-06 for the start-up token: each
// start revokes the previous start's token, and the browser logins made
// from it end with it.
func TestStartupRotationEndsLogins(t *testing.T) {
	t.Parallel()
	db, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "ideserver.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, fixed := range []string{"", "a-fixed-token-of-enough-length"} {
		secret, err := prepareLocalUser(db, fixed)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := db.TokenByHash(auth.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		_, hash, _ := auth.NewSecret(auth.PrefixLogin)
		now := time.Now()
		err = db.CreateLogin(store.Login{Hash: hash, TenantID: tok.TenantID, UserID: tok.UserID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Source: store.LoginFromToken, TokenID: tok.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prepareLocalUser(db, fixed); err != nil { // the next start
			t.Fatal(err)
		}
		if _, err := db.LoginByHash(hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("fixed token %q: login of the previous start's token: %v, want ended", fixed, err)
		}
	}
}
