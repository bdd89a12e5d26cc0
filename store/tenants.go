package store

import (
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Tenant is an isolated namespace of users, tokens and workspaces.
type Tenant struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// User belongs to exactly one tenant; (TenantID, ID) identifies it.
type User struct {
	TenantID  string    `json:"tenant_id"`
	ID        string    `json:"id"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
}

// EnsureUser returns the user, creating the tenant and the user (not admin,
// CreatedAt now) when missing. Empty ids are ErrInvalid.
func (db *DB) EnsureUser(tenantID, userID string) (User, error) {
	if tenantID == "" || userID == "" {
		return User{}, fmt.Errorf("ensure user: %w: empty tenant or user id", ErrInvalid)
	}
	var out User
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		now := db.nowUTC()
		tb, err := ensureTenant(tx, tenantID, now)
		if err != nil {
			return err
		}
		users := tb.Bucket(tenantUsersBucket)
		e, ok, err := get[userEntry](users, []byte(userID))
		if err != nil {
			return err
		}
		if !ok {
			e = userEntry{TenantID: tenantID, ID: userID, CreatedAt: now}
			if err := put(users, []byte(userID), e); err != nil {
				return err
			}
		}
		out = userFromEntry(e)
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("ensure user: %w", err)
	}
	return out, nil
}

// GetUser returns the user or an error wrapping ErrNotFound.
func (db *DB) GetUser(tenantID, userID string) (User, error) {
	var out User
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		e, err := lookupUser(tx, tenantID, userID)
		out = userFromEntry(e)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", userID, err)
	}
	return out, nil
}

// SetUserAdmin sets the user's admin flag; ErrNotFound when the user is missing.
func (db *DB) SetUserAdmin(tenantID, userID string, admin bool) error {
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		e, err := lookupUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		e.Admin = admin
		return put(tenantBucket(tx, tenantID).Bucket(tenantUsersBucket), []byte(userID), e)
	})
	if err != nil {
		return fmt.Errorf("set user admin %q: %w", userID, err)
	}
	return nil
}

// DeleteUser removes the user, all their API tokens and all their
// logins in one transaction, so that no credential of theirs works
// afterwards (SBX-06); ErrNotFound when the user is missing. Their
// workspaces are the caller's to remove (files and processes live outside
// the store). A later EnsureUser with the same ids makes a new user.
func (db *DB) DeleteUser(tenantID, userID string) error {
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		if _, err := lookupUser(tx, tenantID, userID); err != nil {
			return err
		}
		tb := tenantBucket(tx, tenantID)
		tokens := tb.Bucket(tenantTokensBucket)
		var victims []tokenEntry
		err := iterate(tokens, func(_ []byte, e tokenEntry) error {
			if e.UserID == userID {
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
		if _, err := deleteLoginsWhere(tx, func(l loginEntry) bool {
			return l.TenantID == tenantID && l.UserID == userID
		}); err != nil {
			return err
		}
		return tb.Bucket(tenantUsersBucket).Delete([]byte(userID))
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", userID, err)
	}
	return nil
}

// GetTenant returns the tenant or an error wrapping ErrNotFound.
func (db *DB) GetTenant(id string) (Tenant, error) {
	var out Tenant
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		tb := tenantBucket(tx, id)
		if tb == nil {
			return ErrNotFound
		}
		e, ok, err := get[tenantEntry](tb, tenantInfoKey)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		out = Tenant(e)
		return nil
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant %q: %w", id, err)
	}
	return out, nil
}

// ListTenants returns every tenant sorted by id (bytewise).
func (db *DB) ListTenants() ([]Tenant, error) {
	var out []Tenant
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(tenantsBucket).ForEachBucket(func(k []byte) error {
			e, ok, err := get[tenantEntry](tx.Bucket(tenantsBucket).Bucket(k), tenantInfoKey)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, Tenant(e))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// tenantBucket returns tenants/<id>, or nil. An empty id is never a tenant.
func tenantBucket(tx *bbolt.Tx, id string) *bbolt.Bucket {
	if id == "" {
		return nil
	}
	return tx.Bucket(tenantsBucket).Bucket([]byte(id))
}

// ensureTenant returns tenants/<id>, creating it and its sub-buckets.
func ensureTenant(tx *bbolt.Tx, id string, now time.Time) (*bbolt.Bucket, error) {
	tb, err := tx.Bucket(tenantsBucket).CreateBucketIfNotExists([]byte(id))
	if err != nil {
		return nil, fmt.Errorf("create tenant bucket: %w", err)
	}
	if tb.Get(tenantInfoKey) == nil {
		if err := put(tb, tenantInfoKey, tenantEntry{ID: id, CreatedAt: now}); err != nil {
			return nil, err
		}
	}
	for _, name := range [][]byte{tenantUsersBucket, tenantTokensBucket, tenantWsIndexBucket} {
		if _, err := tb.CreateBucketIfNotExists(name); err != nil {
			return nil, fmt.Errorf("create tenant bucket %s: %w", name, err)
		}
	}
	return tb, nil
}

// lookupUser returns the user's entry or ErrNotFound.
func lookupUser(tx *bbolt.Tx, tenantID, userID string) (userEntry, error) {
	tb := tenantBucket(tx, tenantID)
	if tb == nil || userID == "" {
		return userEntry{}, ErrNotFound
	}
	e, ok, err := get[userEntry](tb.Bucket(tenantUsersBucket), []byte(userID))
	if err != nil {
		return userEntry{}, err
	}
	if !ok {
		return userEntry{}, ErrNotFound
	}
	return e, nil
}

func userFromEntry(e userEntry) User { return User(e) }
