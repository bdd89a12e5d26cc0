package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// The typed layer: the rest of the package never touches the []byte values
// of bbolt directly. bbolt's slices are only valid inside their transaction;
// json.Unmarshal and bytes.Clone copy them before the transaction ends.

// get decodes the JSON value at key. ok is false when the key is absent (or
// names a nested bucket).
func get[T any](b *bbolt.Bucket, key []byte) (v T, ok bool, err error) {
	raw := b.Get(key)
	if raw == nil {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("decode %T: %w", v, err)
	}
	return v, true, nil
}

// put encodes v as JSON at key.
func put[T any](b *bbolt.Bucket, key []byte, v T) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return b.Put(key, raw)
}

// iterate calls fn for every value of b in key order, skipping nested
// buckets. fn must not modify b (collect keys and delete afterwards).
func iterate[T any](b *bbolt.Bucket, fn func(k []byte, v T) error) error {
	c := b.Cursor()
	for k, raw := c.First(); k != nil; k, raw = c.Next() {
		if raw == nil {
			continue // nested bucket
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %T: %w", v, err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// getRaw returns a copy of the opaque value at key, or nil.
func getRaw(b *bbolt.Bucket, key []byte) []byte {
	return bytes.Clone(b.Get(key))
}

// sortKey orders index entries by time then id: 8 bytes of big-endian Unix
// nanoseconds with the sign bit flipped (so pre-1970 times sort first),
// followed by the id's bytes.
func sortKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano())^(1<<63))
	return append(k, id...)
}

// Entry structs: the on-disk JSON form. They are separate from the exported
// types so the API can change without silently changing the file format.

type tenantEntry struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

type userEntry struct {
	TenantID  string    `json:"tenant_id"`
	ID        string    `json:"id"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
}

type tokenEntry struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	Hash      []byte    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// tokenRef is the value of token_hashes/<hash>: where the token lives.
type tokenRef struct {
	TenantID string `json:"tenant_id"`
	TokenID  string `json:"token_id"`
}

type loginEntry struct {
	Hash      []byte    `json:"hash"`
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Source    string    `json:"source,omitempty"`   // absent in logins of older versions
	TokenID   string    `json:"token_id,omitempty"` // with Source "token"
}

type workspaceEntry struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// utc converts t to UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// expired reports whether a record with the given expiry is expired at now.
// A zero expiry never expires.
func expired(expiresAt, now time.Time) bool {
	return !expiresAt.IsZero() && !now.Before(expiresAt)
}
