package store

import (
	"bytes"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Snippet is a Go Playground snippet: immutable bytes under an id derived
// from their hash by the caller.
type Snippet struct {
	ID        string
	Body      []byte
	CreatedAt time.Time
}

// Share is a workspace share link: an immutable snapshot of a workspace's
// text files at the time it was made. It outlives the workspace.
type Share struct {
	ID          string
	TenantID    string // owner
	UserID      string // owner
	WorkspaceID string // the source workspace (it may be gone)
	Name        string // the source workspace's name at share time
	Access      string // "view" or "fork"
	// Files maps slash-separated workspace paths to contents. ListShares
	// leaves it nil.
	Files     map[string]string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

type snippetEntry struct {
	Body      []byte    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

type shareEntry struct {
	ID          string            `json:"id"`
	TenantID    string            `json:"tenant_id"`
	UserID      string            `json:"user_id"`
	WorkspaceID string            `json:"workspace_id"`
	Name        string            `json:"name"`
	Access      string            `json:"access"`
	Files       map[string]string `json:"files"`
	CreatedAt   time.Time         `json:"created_at"`
	ExpiresAt   time.Time         `json:"expires_at"`
}

// PutSnippet stores s unless a snippet with its id exists. Storing the same
// body again is a no-op; a different body under an existing id (a hash
// collision, or a caller bug) is ErrExists. An empty id is ErrInvalid.
func (db *DB) PutSnippet(s Snippet) error {
	if s.ID == "" {
		return fmt.Errorf("put snippet: %w: empty id", ErrInvalid)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(snippetsBucket)
		if err != nil {
			return err
		}
		old, ok, err := get[snippetEntry](b, []byte(s.ID))
		if err != nil {
			return err
		}
		if ok {
			if bytes.Equal(old.Body, s.Body) {
				return nil
			}
			return ErrExists
		}
		return put(b, []byte(s.ID), snippetEntry{Body: s.Body, CreatedAt: utc(s.CreatedAt)})
	})
	if err != nil {
		return fmt.Errorf("put snippet %q: %w", s.ID, err)
	}
	return nil
}

// GetSnippet returns the snippet id or an error wrapping ErrNotFound.
func (db *DB) GetSnippet(id string) (Snippet, error) {
	var out Snippet
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(snippetsBucket)
		if b == nil || id == "" {
			return ErrNotFound
		}
		e, ok, err := get[snippetEntry](b, []byte(id))
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		out = Snippet{ID: id, Body: e.Body, CreatedAt: e.CreatedAt}
		return nil
	})
	if err != nil {
		return Snippet{}, fmt.Errorf("get snippet %q: %w", id, err)
	}
	return out, nil
}

// CreateShare stores s. The owner must exist (ErrNotFound); the workspace
// need not. A duplicate id is ErrExists; empty ids are ErrInvalid.
func (db *DB) CreateShare(s Share) error {
	if s.ID == "" || s.TenantID == "" || s.UserID == "" || s.WorkspaceID == "" {
		return fmt.Errorf("create share: %w: empty share, tenant, user or workspace id", ErrInvalid)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		if _, err := lookupUser(tx, s.TenantID, s.UserID); err != nil {
			return fmt.Errorf("user %q: %w", s.UserID, err)
		}
		all, err := tx.CreateBucketIfNotExists(sharesBucket)
		if err != nil {
			return err
		}
		if all.Get([]byte(s.ID)) != nil {
			return ErrExists
		}
		e := shareEntry(s)
		e.CreatedAt, e.ExpiresAt = utc(e.CreatedAt), utc(e.ExpiresAt)
		if err := put(all, []byte(s.ID), e); err != nil {
			return err
		}
		idx, err := tx.CreateBucketIfNotExists(shareIndexBucket)
		if err != nil {
			return err
		}
		wb, err := idx.CreateBucketIfNotExists([]byte(s.WorkspaceID))
		if err != nil {
			return err
		}
		return wb.Put(sortKey(e.CreatedAt, e.ID), []byte(e.ID))
	})
	if err != nil {
		return fmt.Errorf("create share %q: %w", s.ID, err)
	}
	return nil
}

// GetShare returns the share id with its files, or an error wrapping
// ErrNotFound when it does not exist, was deleted, or has expired.
func (db *DB) GetShare(id string) (Share, error) {
	var out Share
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		e, err := lookupShare(tx, id)
		if err != nil {
			return err
		}
		if expired(e.ExpiresAt, db.now()) {
			return ErrNotFound
		}
		out = Share(e)
		return nil
	})
	if err != nil {
		return Share{}, fmt.Errorf("get share %q: %w", id, err)
	}
	return out, nil
}

// ListShares returns the unexpired shares of workspace workspaceID, oldest
// first, without their files. It does not check ownership.
func (db *DB) ListShares(workspaceID string) ([]Share, error) {
	var out []Share
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		idx := tx.Bucket(shareIndexBucket)
		if idx == nil || workspaceID == "" {
			return nil
		}
		wb := idx.Bucket([]byte(workspaceID))
		if wb == nil {
			return nil
		}
		now := db.now()
		return wb.ForEach(func(_, v []byte) error {
			e, err := lookupShare(tx, string(v))
			if err != nil {
				return nil // index entry of a deleted share
			}
			if expired(e.ExpiresAt, now) {
				return nil
			}
			e.Files = nil
			out = append(out, Share(e))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list shares of %q: %w", workspaceID, err)
	}
	return out, nil
}

// DeleteShare removes the share id (expired or not) of owner (tenantID,
// userID) and its index entry. An unknown id, or another owner's share, is
// ErrNotFound.
func (db *DB) DeleteShare(id, tenantID, userID string) error {
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		e, err := lookupShare(tx, id)
		if err != nil {
			return err
		}
		if e.TenantID != tenantID || e.UserID != userID {
			return ErrNotFound
		}
		if err := tx.Bucket(sharesBucket).Delete([]byte(id)); err != nil {
			return err
		}
		if idx := tx.Bucket(shareIndexBucket); idx != nil {
			if wb := idx.Bucket([]byte(e.WorkspaceID)); wb != nil {
				return wb.Delete(sortKey(e.CreatedAt, e.ID))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete share %q: %w", id, err)
	}
	return nil
}

func lookupShare(tx *bbolt.Tx, id string) (shareEntry, error) {
	b := tx.Bucket(sharesBucket)
	if b == nil || id == "" {
		return shareEntry{}, ErrNotFound
	}
	e, ok, err := get[shareEntry](b, []byte(id))
	if err != nil {
		return shareEntry{}, err
	}
	if !ok {
		return shareEntry{}, ErrNotFound
	}
	return e, nil
}
