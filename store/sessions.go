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

// Session is a browser session created by POST /auth/session. Only the hash
// of the cookie secret is stored. Every session records the credential it
// was made from (SBX-06 in docs/security.md), so that it ends with that
// credential: revoking the token deletes the session, and a session made
// from a portal JWT expires no later than the JWT.
type Session struct {
	Hash      []byte    `json:"hash"` // SHA-256 of the cookie secret (32 bytes)
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"` // zero: never
	// Source is SessionFromToken or SessionFromJWT. It is empty only for
	// sessions stored by versions that did not record it; callers should
	// refuse those, since nothing ties them to a credential.
	Source string `json:"source,omitempty"`
	// TokenID is the id of the API token the session was made from (in
	// the session's tenant); set exactly when Source is SessionFromToken.
	TokenID string `json:"token_id,omitempty"`
}

// Session sources: the credential a session was exchanged for.
const (
	// SessionFromToken: an API token, named by Session.TokenID. The
	// session lives only as long as that token.
	SessionFromToken = "token"
	// SessionFromJWT: a portal JWT. Its ExpiresAt is set, and no later
	// than the JWT's exp (the caller's duty).
	SessionFromJWT = "jwt"
)

// CreateSession stores s. An existing hash is ErrExists; empty ids, a hash
// that is not 32 bytes, an unknown Source, a token session without TokenID
// and a JWT session without ExpiresAt are ErrInvalid. A token session
// whose token is not the user's live token is ErrNotFound, checked in the
// same transaction, so a session is never made from a token being revoked.
func (db *DB) CreateSession(s Session) error {
	if s.TenantID == "" || s.UserID == "" || len(s.Hash) != sha256.Size {
		return fmt.Errorf("create session: %w: empty id or hash not %d bytes", ErrInvalid, sha256.Size)
	}
	switch {
	case s.Source == SessionFromToken && s.TokenID != "":
	case s.Source == SessionFromJWT && s.TokenID == "" && !s.ExpiresAt.IsZero():
	default:
		return fmt.Errorf("create session: %w: source %q with token id %q and expiry %v", ErrInvalid, s.Source, s.TokenID, s.ExpiresAt)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(sessionsBucket)
		if b.Get(s.Hash) != nil {
			return ErrExists
		}
		if s.Source == SessionFromToken {
			if err := liveToken(tx, s.TenantID, s.UserID, s.TokenID, db.now()); err != nil {
				return fmt.Errorf("token %q: %w", s.TokenID, err)
			}
		}
		return put(b, s.Hash, sessionEntry{
			Hash: s.Hash, TenantID: s.TenantID, UserID: s.UserID,
			CreatedAt: utc(s.CreatedAt), ExpiresAt: utc(s.ExpiresAt),
			Source: s.Source, TokenID: s.TokenID,
		})
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns the unexpired session with this hash, or an error
// wrapping ErrNotFound (also when expired, and when it was made from a
// token that is no longer live: revoked, expired, or not its user's). The
// stored hash is compared in constant time after the lookup.
func (db *DB) SessionByHash(hash []byte) (Session, error) {
	var out Session
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if len(hash) == 0 {
			return ErrNotFound
		}
		e, ok, err := get[sessionEntry](tx.Bucket(sessionsBucket), hash)
		if err != nil || !ok {
			return cmp.Or(err, ErrNotFound)
		}
		now := db.now()
		if subtle.ConstantTimeCompare(e.Hash, hash) != 1 || expired(e.ExpiresAt, now) {
			return ErrNotFound
		}
		if e.Source == SessionFromToken {
			if err := liveToken(tx, e.TenantID, e.UserID, e.TokenID, now); err != nil {
				return err
			}
		}
		out = Session(e)
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("session by hash: %w", err)
	}
	return out, nil
}

// DeleteSession removes the session. It is idempotent: deleting a missing
// session returns nil (logging out twice is not an error).
func (db *DB) DeleteSession(hash []byte) error {
	if len(hash) == 0 {
		return nil
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(sessionsBucket).Delete(hash)
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes every session whose ExpiresAt is at or
// before now and returns how many it removed. Sessions with a zero ExpiresAt
// are kept. Meant for a periodic sweep.
func (db *DB) DeleteExpiredSessions(now time.Time) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		var err error
		n, err = deleteSessionsWhere(tx, func(e sessionEntry) bool { return expired(e.ExpiresAt, now) })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
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

// deleteSessionsWhere deletes every session for which match is true and
// returns how many. It reads the whole sessions bucket: it runs when a
// credential or user goes away, which is rare.
func deleteSessionsWhere(tx *bbolt.Tx, match func(sessionEntry) bool) (int, error) {
	b := tx.Bucket(sessionsBucket)
	var victims [][]byte
	err := iterate(b, func(k []byte, e sessionEntry) error {
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
