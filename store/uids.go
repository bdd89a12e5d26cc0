package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"go.etcd.io/bbolt"
)

// ErrNoUIDs: every uid of the configured range belongs to another owner.
var ErrNoUIDs = errors.New("no free uid in range")

// ErrUIDOutOfRange: the owner's recorded uid lies outside the configured
// range. The store does not reassign it, since the owner's files on disk
// belong to the recorded uid; widen the range to include it instead.
var ErrUIDOutOfRange = errors.New("recorded uid outside range")

// maxUID bounds ranges: uids are 32-bit and (uid_t)-1 means "no change" to
// chown(2), so the last usable uid is MaxUint32-1.
const maxUID = math.MaxUint32 - 1

// tenantUIDEntry is the value of tenant_uids/<owner key>.
type tenantUIDEntry struct {
	UID int `json:"uid"`
}

// OwnerUID returns the host uid (and gid) an owner's processes and files
// belong to: the uid recorded for owner, or, on first use, the lowest uid
// in [first, first+count) that no other owner holds, which it records.
//
// owner is an opaque isolation-principal key (package workspace defines
// them: "<tenant>/<user>" for a user, "@<name>" for the server's internal
// identities). Keys without '/' or '@' are records of an earlier version,
// which gave each tenant one uid; they stay readable ([DB.RecordedUID]) and
// their uids stay taken, so no new owner inherits a tenant's old files.
//
// Allocation (check, pick, record) is one Update transaction, so
// concurrent callers for different owners get distinct uids and callers for
// one owner get the same one; the answer is stable across restarts. Unlike
// other methods, a call first looks in a read transaction, so the common
// case (a recorded uid) costs no write and no fsync. The owner need not
// have a tenants/ record; uids are never freed.
//
// first must be at least 1 (uid 0 is root) and count at least 1, with the
// range below 2³²-1; otherwise the error wraps ErrInvalid, as for an empty
// owner. A full range gives ErrNoUIDs. A recorded uid outside the range
// gives ErrUIDOutOfRange, never a new uid.
func (db *DB) OwnerUID(owner string, first, count int) (int, error) {
	if owner == "" {
		return 0, fmt.Errorf("owner uid: %w: empty owner key", ErrInvalid)
	}
	if first < 1 || count < 1 || first > maxUID || count > maxUID-first+1 {
		return 0, fmt.Errorf("owner uid: %w: uid range [%d, +%d) must lie within [1, %d]", ErrInvalid, first, count, maxUID)
	}
	// Fast path: an allocated uid needs only a read transaction (no fsync).
	var uid int
	var found bool
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		uid, found, err = recordedUID(tx, owner)
		return err
	})
	if err == nil && !found {
		err = db.bolt.Update(func(tx *bbolt.Tx) error {
			var err error
			uid, err = allocateUID(tx, owner, first, count)
			return err
		})
	}
	if err != nil {
		return 0, fmt.Errorf("owner uid %q: %w", owner, err)
	}
	if uid < first || uid-first >= count {
		return 0, fmt.Errorf("owner uid %q: %w: uid %d is recorded, the range is [%d, %d); its files belong to uid %d, so widen the range rather than reassign it",
			owner, ErrUIDOutOfRange, uid, first, first+count, uid)
	}
	return uid, nil
}

// RecordedUID returns the uid recorded for key (an owner key, or a tenant
// id of an earlier version's per-tenant records) without allocating one; ok
// is false when none is.
func (db *DB) RecordedUID(key string) (uid int, ok bool, err error) {
	err = db.bolt.View(func(tx *bbolt.Tx) error {
		uid, ok, err = recordedUID(tx, key)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("recorded uid %q: %w", key, err)
	}
	return uid, ok, nil
}

// recordedUID returns key's recorded uid; ok is false when none is.
func recordedUID(tx *bbolt.Tx, key string) (uid int, ok bool, err error) {
	b := tx.Bucket(tenantUIDsBucket)
	if b == nil {
		return 0, false, nil
	}
	e, ok, err := get[tenantUIDEntry](b, []byte(key))
	return e.UID, ok, err
}

// allocateUID returns owner's recorded uid, or records and returns the
// lowest free uid of [first, first+count). A recorded uid is returned even
// when outside the range; the caller reports that.
func allocateUID(tx *bbolt.Tx, owner string, first, count int) (int, error) {
	if uid, ok, err := recordedUID(tx, owner); err != nil || ok {
		return uid, err
	}
	byOwner, err := tx.CreateBucketIfNotExists(tenantUIDsBucket)
	if err != nil {
		return 0, fmt.Errorf("create bucket %s: %w", tenantUIDsBucket, err)
	}
	byUID, err := tx.CreateBucketIfNotExists(uidTenantsBucket)
	if err != nil {
		return 0, fmt.Errorf("create bucket %s: %w", uidTenantsBucket, err)
	}
	// Keys are big-endian, so the cursor visits taken uids in order: the
	// first gap at or after first is the lowest free uid.
	next := first
	c := byUID.Cursor()
	for k, _ := c.Seek(uidKey(first)); k != nil && next-first < count; k, _ = c.Next() {
		taken := int(binary.BigEndian.Uint32(k))
		if taken != next {
			break
		}
		next++
	}
	if next-first >= count {
		return 0, fmt.Errorf("%w [%d, %d)", ErrNoUIDs, first, first+count)
	}
	if err := put(byOwner, []byte(owner), tenantUIDEntry{UID: next}); err != nil {
		return 0, err
	}
	if err := byUID.Put(uidKey(next), []byte(owner)); err != nil {
		return 0, err
	}
	return next, nil
}

// uidKey is the key of uid_tenants/: 4 bytes big-endian.
func uidKey(uid int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(uid))
}
