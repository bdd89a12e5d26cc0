package store

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// Workspace is a workspace record. Its files live on disk, not here.
type Workspace struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	State     string    `json:"state"` // StateActive or StateSuspended
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateWorkspace stores w. The owner (TenantID, UserID) must exist
// (ErrNotFound); it is not created. A duplicate ID is ErrExists. An empty
// State means StateActive; a zero UpdatedAt means CreatedAt; any other State,
// or an empty id, is ErrInvalid.
func (db *DB) CreateWorkspace(w Workspace) error {
	if w.State == "" {
		w.State = StateActive
	}
	if w.UpdatedAt.IsZero() {
		w.UpdatedAt = w.CreatedAt
	}
	if err := validWorkspace(w); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		if _, err := lookupUser(tx, w.TenantID, w.UserID); err != nil {
			return fmt.Errorf("user %q: %w", w.UserID, err)
		}
		all := tx.Bucket(workspacesBucket)
		if all.Get([]byte(w.ID)) != nil {
			return ErrExists
		}
		e := workspaceEntry(w)
		e.CreatedAt, e.UpdatedAt = utc(e.CreatedAt), utc(e.UpdatedAt)
		if err := put(all, []byte(w.ID), e); err != nil {
			return err
		}
		return putWorkspaceIndex(tx, e)
	})
	if err != nil {
		return fmt.Errorf("create workspace %q: %w", w.ID, err)
	}
	return nil
}

// GetWorkspace returns the workspace or an error wrapping ErrNotFound. It
// does not check ownership; callers compare TenantID and UserID.
func (db *DB) GetWorkspace(workspaceID string) (Workspace, error) {
	var out Workspace
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		e, err := lookupWorkspace(tx, workspaceID)
		out = Workspace(e)
		return err
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("get workspace %q: %w", workspaceID, err)
	}
	return out, nil
}

// ListWorkspaces returns the workspaces owned by (tenantID, userID), sorted
// by CreatedAt then ID, read through the owner's index. An unknown owner has
// none.
func (db *DB) ListWorkspaces(tenantID, userID string) ([]Workspace, error) {
	var out []Workspace
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		tb := tenantBucket(tx, tenantID)
		if tb == nil || userID == "" {
			return nil
		}
		idx := tb.Bucket(tenantWsIndexBucket).Bucket([]byte(userID))
		if idx == nil {
			return nil
		}
		all := tx.Bucket(workspacesBucket)
		return idx.ForEach(func(_, workspaceID []byte) error {
			e, ok, err := get[workspaceEntry](all, workspaceID)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("index names missing workspace %q", workspaceID)
			}
			out = append(out, Workspace(e))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return out, nil
}

// ListAllWorkspaces returns every workspace of every tenant, sorted by
// CreatedAt then ID. For startup sweeps and operators, never for a client.
func (db *DB) ListAllWorkspaces() ([]Workspace, error) {
	var out []Workspace
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return iterate(tx.Bucket(workspacesBucket), func(_ []byte, e workspaceEntry) error {
			out = append(out, Workspace(e))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list all workspaces: %w", err)
	}
	slices.SortStableFunc(out, compareWorkspaces)
	return out, nil
}

// UpdateWorkspace applies fn to a copy of the workspace inside one write
// transaction and stores the result with UpdatedAt set to now. An error from
// fn aborts the update and is returned wrapped. fn may not change ID,
// TenantID or UserID, nor set an unknown State (ErrInvalid). fn runs while
// the store's write lock is held: it must be quick and must not call the DB.
func (db *DB) UpdateWorkspace(workspaceID string, fn func(*Workspace) error) (Workspace, error) {
	var out Workspace
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		old, err := lookupWorkspace(tx, workspaceID)
		if err != nil {
			return err
		}
		w := Workspace(old)
		if err := fn(&w); err != nil {
			return err
		}
		if w.ID != old.ID || w.TenantID != old.TenantID || w.UserID != old.UserID {
			return fmt.Errorf("%w: id, tenant and user cannot change", ErrInvalid)
		}
		if err := validWorkspace(w); err != nil {
			return err
		}
		w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), db.nowUTC()
		e := workspaceEntry(w)
		if !e.CreatedAt.Equal(old.CreatedAt) {
			if err := deleteWorkspaceIndex(tx, old); err != nil {
				return err
			}
			if err := putWorkspaceIndex(tx, e); err != nil {
				return err
			}
		}
		if err := put(tx.Bucket(workspacesBucket), []byte(workspaceID), e); err != nil {
			return err
		}
		out = w
		return nil
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("update workspace %q: %w", workspaceID, err)
	}
	return out, nil
}

// DeleteWorkspace removes the record, its owner index entry and its UI
// state; ErrNotFound when it does not exist. Files on disk are the caller's.
func (db *DB) DeleteWorkspace(workspaceID string) error {
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		e, err := lookupWorkspace(tx, workspaceID)
		if err != nil {
			return err
		}
		if err := deleteWorkspaceIndex(tx, e); err != nil {
			return err
		}
		if err := tx.Bucket(workspaceStateBkt).Delete([]byte(workspaceID)); err != nil {
			return err
		}
		return tx.Bucket(workspacesBucket).Delete([]byte(workspaceID))
	})
	if err != nil {
		return fmt.Errorf("delete workspace %q: %w", workspaceID, err)
	}
	return nil
}

// GetWorkspaceState returns a copy of the workspace's opaque UI state, or
// nil, nil when none is stored; ErrNotFound when the workspace does not exist.
func (db *DB) GetWorkspaceState(workspaceID string) ([]byte, error) {
	var out []byte
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if _, err := lookupWorkspace(tx, workspaceID); err != nil {
			return err
		}
		out = getRaw(tx.Bucket(workspaceStateBkt), []byte(workspaceID))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get workspace state %q: %w", workspaceID, err)
	}
	return out, nil
}

// PutWorkspaceState replaces the workspace's UI state with data (empty data
// removes it); ErrNotFound when the workspace does not exist. The store does
// not limit the size; callers do.
func (db *DB) PutWorkspaceState(workspaceID string, data []byte) error {
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		if _, err := lookupWorkspace(tx, workspaceID); err != nil {
			return err
		}
		b := tx.Bucket(workspaceStateBkt)
		if len(data) == 0 {
			return b.Delete([]byte(workspaceID))
		}
		return b.Put([]byte(workspaceID), data)
	})
	if err != nil {
		return fmt.Errorf("put workspace state %q: %w", workspaceID, err)
	}
	return nil
}

func validWorkspace(w Workspace) error {
	if w.ID == "" || w.TenantID == "" || w.UserID == "" {
		return fmt.Errorf("%w: empty workspace, tenant or user id", ErrInvalid)
	}
	if w.State != StateActive && w.State != StateSuspended {
		return fmt.Errorf("%w: unknown workspace state %q", ErrInvalid, w.State)
	}
	return nil
}

func compareWorkspaces(a, b Workspace) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

func lookupWorkspace(tx *bbolt.Tx, workspaceID string) (workspaceEntry, error) {
	if workspaceID == "" {
		return workspaceEntry{}, ErrNotFound
	}
	e, ok, err := get[workspaceEntry](tx.Bucket(workspacesBucket), []byte(workspaceID))
	if err != nil {
		return workspaceEntry{}, err
	}
	if !ok {
		return workspaceEntry{}, ErrNotFound
	}
	return e, nil
}

// putWorkspaceIndex adds tenants/<t>/workspace_index/<u>/<sortKey> → id.
// The owner's tenant bucket must exist.
func putWorkspaceIndex(tx *bbolt.Tx, e workspaceEntry) error {
	idx, err := tenantBucket(tx, e.TenantID).Bucket(tenantWsIndexBucket).CreateBucketIfNotExists([]byte(e.UserID))
	if err != nil {
		return fmt.Errorf("create workspace index: %w", err)
	}
	return idx.Put(sortKey(e.CreatedAt, e.ID), []byte(e.ID))
}

func deleteWorkspaceIndex(tx *bbolt.Tx, e workspaceEntry) error {
	tb := tenantBucket(tx, e.TenantID)
	if tb == nil {
		return nil
	}
	idx := tb.Bucket(tenantWsIndexBucket).Bucket([]byte(e.UserID))
	if idx == nil {
		return nil
	}
	return idx.Delete(sortKey(e.CreatedAt, e.ID))
}
