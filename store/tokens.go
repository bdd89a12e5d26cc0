package store

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// Token is an API token record. The secret itself is never stored.
type Token struct {
	ID        string    `json:"id"` // public handle shown by `token list`, e.g. "tok_" + 16 hex chars (caller sets it)
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	Hash      []byte    `json:"hash"` // SHA-256 of the secret (32 bytes)
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"` // zero: never
}

// CreateToken stores t. The user must exist (ErrNotFound); an existing token
// id in the tenant or an existing hash anywhere is ErrExists; an empty id or
// a hash that is not 32 bytes is ErrInvalid.
func (db *DB) CreateToken(t Token) error {
	if t.ID == "" || t.TenantID == "" || t.UserID == "" || len(t.Hash) != sha256.Size {
		return fmt.Errorf("create token: %w: empty id or hash not %d bytes", ErrInvalid, sha256.Size)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		if _, err := lookupUser(tx, t.TenantID, t.UserID); err != nil {
			return fmt.Errorf("user %q: %w", t.UserID, err)
		}
		tokens := tenantBucket(tx, t.TenantID).Bucket(tenantTokensBucket)
		hashes := tx.Bucket(tokenHashesBucket)
		if tokens.Get([]byte(t.ID)) != nil {
			return fmt.Errorf("token %q: %w", t.ID, ErrExists)
		}
		if hashes.Get(t.Hash) != nil {
			return fmt.Errorf("token hash: %w", ErrExists)
		}
		e := tokenEntry{
			ID: t.ID, TenantID: t.TenantID, UserID: t.UserID, Name: t.Name, Hash: t.Hash,
			CreatedAt: utc(t.CreatedAt), ExpiresAt: utc(t.ExpiresAt),
		}
		if err := put(tokens, []byte(t.ID), e); err != nil {
			return err
		}
		return put(hashes, t.Hash, tokenRef{TenantID: t.TenantID, TokenID: t.ID})
	})
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// TokenByHash returns the unexpired token whose secret hashes to hash, or an
// error wrapping ErrNotFound (also for expired tokens). The stored hash is
// compared in constant time after the lookup.
func (db *DB) TokenByHash(hash []byte) (Token, error) {
	var out Token
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if len(hash) == 0 {
			return ErrNotFound
		}
		ref, ok, err := get[tokenRef](tx.Bucket(tokenHashesBucket), hash)
		if err != nil || !ok {
			return cmp.Or(err, ErrNotFound)
		}
		tb := tenantBucket(tx, ref.TenantID)
		if tb == nil {
			return ErrNotFound
		}
		e, ok, err := get[tokenEntry](tb.Bucket(tenantTokensBucket), []byte(ref.TokenID))
		if err != nil || !ok {
			return cmp.Or(err, ErrNotFound)
		}
		if subtle.ConstantTimeCompare(e.Hash, hash) != 1 || expired(e.ExpiresAt, db.now()) {
			return ErrNotFound
		}
		out = Token(e)
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("token by hash: %w", err)
	}
	return out, nil
}

// ListTokens returns the tenant's tokens, expired ones included, sorted by
// CreatedAt then ID. An unknown tenant has none.
func (db *DB) ListTokens(tenantID string) ([]Token, error) {
	var out []Token
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		tb := tenantBucket(tx, tenantID)
		if tb == nil {
			return nil
		}
		return iterate(tb.Bucket(tenantTokensBucket), func(_ []byte, e tokenEntry) error {
			out = append(out, Token(e))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RevokeToken deletes the tenant's token tokenID and, in the same
// transaction, every login made from it; ErrNotFound when the tenant has
// no such token (also when another tenant has one with that id).
func (db *DB) RevokeToken(tenantID, tokenID string) error {
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		tb := tenantBucket(tx, tenantID)
		if tb == nil || tokenID == "" {
			return ErrNotFound
		}
		tokens := tb.Bucket(tenantTokensBucket)
		e, ok, err := get[tokenEntry](tokens, []byte(tokenID))
		if err != nil || !ok {
			return cmp.Or(err, ErrNotFound)
		}
		return deleteTokens(tx, tokens, []tokenEntry{e})
	})
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", tokenID, err)
	}
	return nil
}

// RevokeUserTokensNamed deletes every token of the user with the given name,
// and the logins made from them, and returns how many tokens it deleted
// (0 for an unknown tenant or user). It is how the start-up token of the
// local user replaces the previous one, whose browser logins end with it.
func (db *DB) RevokeUserTokensNamed(tenantID, userID, name string) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		tb := tenantBucket(tx, tenantID)
		if tb == nil {
			return nil
		}
		tokens := tb.Bucket(tenantTokensBucket)
		var victims []tokenEntry
		err := iterate(tokens, func(_ []byte, e tokenEntry) error {
			if e.UserID == userID && e.Name == name {
				victims = append(victims, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := deleteTokens(tx, tokens, victims); err != nil {
			return err
		}
		n = len(victims)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("revoke user tokens: %w", err)
	}
	return n, nil
}

// deleteTokens removes the tokens (all of one tenant, whose tokens bucket
// is given) with deleteToken, then every login made from any of them
// (SBX-06). Every path that deletes a token goes through here.
func deleteTokens(tx *bbolt.Tx, tokens *bbolt.Bucket, victims []tokenEntry) error {
	if len(victims) == 0 {
		return nil
	}
	ids := make(map[string]bool, len(victims))
	for _, e := range victims {
		if err := deleteToken(tx, tokens, e); err != nil {
			return err
		}
		ids[e.ID] = true
	}
	tenant := victims[0].TenantID
	_, err := deleteLoginsWhere(tx, func(l loginEntry) bool {
		return l.Source == LoginFromToken && l.TenantID == tenant && ids[l.TokenID]
	})
	return err
}

// deleteToken removes the token record and its hash index entry (only if the
// index still points at this token). Use deleteTokens, which also ends the
// token's logins.
func deleteToken(tx *bbolt.Tx, tokens *bbolt.Bucket, e tokenEntry) error {
	if err := tokens.Delete([]byte(e.ID)); err != nil {
		return err
	}
	hashes := tx.Bucket(tokenHashesBucket)
	ref, ok, err := get[tokenRef](hashes, e.Hash)
	if err != nil {
		return err
	}
	if ok && ref.TenantID == e.TenantID && ref.TokenID == e.ID {
		return hashes.Delete(e.Hash)
	}
	return nil
}
