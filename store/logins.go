package store

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Login is a browser's sign-in, created by POST /auth/session. Only the
// hash of the cookie secret is stored. Every login records the credential
// it was made from (SBX-06 in docs/security.md), so that it ends with that
// credential: revoking the token deletes the login, and a login made from
// a portal JWT expires no later than the JWT.
type Login struct {
	Hash      []byte    `json:"hash"` // SHA-256 of the cookie secret (32 bytes)
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"` // zero: never
	// Source is LoginFromToken or LoginFromJWT. It is empty only for
	// logins stored by versions that did not record it; callers should
	// refuse those, since nothing ties them to a credential.
	Source string `json:"source,omitempty"`
	// TokenID is the id of the API token the login was made from (in
	// the login's tenant); set exactly when Source is LoginFromToken.
	TokenID string `json:"token_id,omitempty"`
}

// Login sources: the credential a login was exchanged for.
const (
	// LoginFromToken: an API token, named by Login.TokenID. The
	// login lives only as long as that token.
	LoginFromToken = "token"
	// LoginFromJWT: a portal JWT. Its ExpiresAt is set, and no later
	// than the JWT's exp (the caller's duty).
	LoginFromJWT = "jwt"
)

// CreateLogin stores s. An existing hash is ErrExists; empty ids, a hash
// that is not 32 bytes, an unknown Source, a token login without TokenID
// and a JWT login without ExpiresAt are ErrInvalid. A token login whose
// token is not the user's live token is ErrNotFound, checked in the same
// transaction, so a login is never made from a token being revoked.
func (db *DB) CreateLogin(s Login) error {
	if s.TenantID == "" || s.UserID == "" || len(s.Hash) != sha256.Size {
		return fmt.Errorf("create login: %w: empty id or hash not %d bytes", ErrInvalid, sha256.Size)
	}
	switch {
	case s.Source == LoginFromToken && s.TokenID != "":
	case s.Source == LoginFromJWT && s.TokenID == "" && !s.ExpiresAt.IsZero():
	default:
		return fmt.Errorf("create login: %w: source %q with token id %q and expiry %v", ErrInvalid, s.Source, s.TokenID, s.ExpiresAt)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(loginsBucket)
		if b.Get(s.Hash) != nil {
			return ErrExists
		}
		if s.Source == LoginFromToken {
			if err := liveToken(tx, s.TenantID, s.UserID, s.TokenID, db.now()); err != nil {
				return fmt.Errorf("token %q: %w", s.TokenID, err)
			}
		}
		return put(b, s.Hash, loginEntry{
			Hash: s.Hash, TenantID: s.TenantID, UserID: s.UserID,
			CreatedAt: utc(s.CreatedAt), ExpiresAt: utc(s.ExpiresAt),
			Source: s.Source, TokenID: s.TokenID,
		})
	})
	if err != nil {
		return fmt.Errorf("create login: %w", err)
	}
	return nil
}

// LoginByHash returns the unexpired login with this hash, or an error
// wrapping ErrNotFound (also when expired, and when it was made from a
// token that is no longer live: revoked, expired, or not its user's). The
// stored hash is compared in constant time after the lookup.
func (db *DB) LoginByHash(hash []byte) (Login, error) {
	var out Login
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if len(hash) == 0 {
			return ErrNotFound
		}
		e, ok, err := get[loginEntry](tx.Bucket(loginsBucket), hash)
		if err != nil || !ok {
			return cmp.Or(err, ErrNotFound)
		}
		now := db.now()
		if subtle.ConstantTimeCompare(e.Hash, hash) != 1 || expired(e.ExpiresAt, now) {
			return ErrNotFound
		}
		if e.Source == LoginFromToken {
			if err := liveToken(tx, e.TenantID, e.UserID, e.TokenID, now); err != nil {
				return err
			}
		}
		out = Login(e)
		return nil
	})
	if err != nil {
		return Login{}, fmt.Errorf("login by hash: %w", err)
	}
	return out, nil
}

// DeleteLogin removes the login. It is idempotent: deleting a missing
// login returns nil (logging out twice is not an error).
func (db *DB) DeleteLogin(hash []byte) error {
	if len(hash) == 0 {
		return nil
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(loginsBucket).Delete(hash)
	})
	if err != nil {
		return fmt.Errorf("delete login: %w", err)
	}
	return nil
}

// DeleteExpiredLogins removes every login whose ExpiresAt is at or before
// now and returns how many it removed. Logins with a zero ExpiresAt are
// kept. Meant for a periodic sweep.
func (db *DB) DeleteExpiredLogins(now time.Time) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		var err error
		n, err = deleteLoginsWhere(tx, func(e loginEntry) bool { return expired(e.ExpiresAt, now) })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired logins: %w", err)
	}
	return n, nil
}

// liveToken returns nil when the tenant's token tokenID exists, belongs to
// userID and is unexpired at now, else ErrNotFound (or a decoding error).
func liveToken(tx *bbolt.Tx, tenantID, userID, tokenID string, now time.Time) error {
	tb := tenantBucket(tx, tenantID)
	if tb == nil || tokenID == "" {
		return ErrNotFound
	}
	e, ok, err := get[tokenEntry](tb.Bucket(tenantTokensBucket), []byte(tokenID))
	if err != nil || !ok {
		return cmp.Or(err, ErrNotFound)
	}
	if e.UserID != userID || expired(e.ExpiresAt, now) {
		return ErrNotFound
	}
	return nil
}

// deleteLoginsWhere deletes every login for which match is true and
// returns how many. It reads the whole logins bucket: it runs when a
// credential or user goes away, which is rare.
func deleteLoginsWhere(tx *bbolt.Tx, match func(loginEntry) bool) (int, error) {
	b := tx.Bucket(loginsBucket)
	var victims [][]byte
	err := iterate(b, func(k []byte, e loginEntry) error {
		if match(e) {
			victims = append(victims, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range victims {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(victims), nil
}
