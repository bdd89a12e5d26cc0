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
// of the cookie secret is stored.
type Session struct {
	Hash      []byte    `json:"hash"` // SHA-256 of the cookie secret (32 bytes)
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"` // zero: never
}

// CreateSession stores s. An existing hash is ErrExists; empty ids or a hash
// that is not 32 bytes are ErrInvalid. The user is not checked: callers
// create sessions only from a credential they just verified.
func (db *DB) CreateSession(s Session) error {
	if s.TenantID == "" || s.UserID == "" || len(s.Hash) != sha256.Size {
		return fmt.Errorf("create session: %w: empty id or hash not %d bytes", ErrInvalid, sha256.Size)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(sessionsBucket)
		if b.Get(s.Hash) != nil {
			return ErrExists
		}
		return put(b, s.Hash, sessionEntry{
			Hash: s.Hash, TenantID: s.TenantID, UserID: s.UserID,
			CreatedAt: utc(s.CreatedAt), ExpiresAt: utc(s.ExpiresAt),
		})
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns the unexpired session with this hash, or an error
// wrapping ErrNotFound (also when expired). The stored hash is compared in
// constant time after the lookup.
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
		if subtle.ConstantTimeCompare(e.Hash, hash) != 1 || expired(e.ExpiresAt, db.now()) {
			return ErrNotFound
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
		b := tx.Bucket(sessionsBucket)
		var victims [][]byte
		err := iterate(b, func(k []byte, e sessionEntry) error {
			if expired(e.ExpiresAt, now) {
				victims = append(victims, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range victims {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(victims)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}
