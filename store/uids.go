package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"go.etcd.io/bbolt"
)

// ErrNoUIDs: every uid of the configured range belongs to another tenant.
var ErrNoUIDs = errors.New("no free uid in range")

// ErrUIDOutOfRange: the tenant's recorded uid lies outside the configured
// range. The store does not reassign it, since the tenant's files on disk
// belong to the recorded uid; widen the range to include it instead.
var ErrUIDOutOfRange = errors.New("recorded uid outside range")

// maxUID bounds ranges: uids are 32-bit and (uid_t)-1 means "no change" to
// chown(2), so the last usable uid is MaxUint32-1.
const maxUID = math.MaxUint32 - 1

// tenantUIDEntry is the value of tenant_uids/<tenant id>.
type tenantUIDEntry struct {
	UID int `json:"uid"`
}

// TenantUID returns the host uid (and gid) tenant's processes and files
// belong to: the uid recorded for tenant, or, on first use, the lowest uid
// in [first, first+count) that no other tenant holds, which it records.
// Allocation (check, pick, record) is one Update transaction, so
// concurrent callers for different tenants get distinct uids and callers for
// one tenant get the same one; the answer is stable across restarts. Unlike
// other methods, a call first looks in a read transaction, so the common
// case (a recorded uid) costs no write and no fsync. The tenant need not
// have a tenants/ record; uids are never freed.
//
// first must be at least 1 (uid 0 is root) and count at least 1, with the
// range below 2³²-1; otherwise the error wraps ErrInvalid, as for an empty
// tenant. A full range gives ErrNoUIDs. A recorded uid outside the range
// gives ErrUIDOutOfRange, never a new uid.
func (db *DB) TenantUID(tenant string, first, count int) (int, error) {
	if tenant == "" {
		return 0, fmt.Errorf("tenant uid: %w: empty tenant id", ErrInvalid)
	}
	if first < 1 || count < 1 || first > maxUID || count > maxUID-first+1 {
		return 0, fmt.Errorf("tenant uid: %w: uid range [%d, +%d) must lie within [1, %d]", ErrInvalid, first, count, maxUID)
	}
	// Fast path: an allocated uid needs only a read transaction (no fsync).
	var uid int
	var found bool
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		uid, found, err = recordedUID(tx, tenant)
		return err
	})
	if err == nil && !found {
		err = db.bolt.Update(func(tx *bbolt.Tx) error {
			var err error
			uid, err = allocateUID(tx, tenant, first, count)
			return err
		})
	}
	if err != nil {
		return 0, fmt.Errorf("tenant uid %q: %w", tenant, err)
	}
	if uid < first || uid-first >= count {
		return 0, fmt.Errorf("tenant uid %q: %w: uid %d is recorded, the range is [%d, %d); its files belong to uid %d, so widen the range rather than reassign it",
			tenant, ErrUIDOutOfRange, uid, first, first+count, uid)
	}
	return uid, nil
}

// recordedUID returns tenant's recorded uid; ok is false when none is.
func recordedUID(tx *bbolt.Tx, tenant string) (uid int, ok bool, err error) {
	b := tx.Bucket(tenantUIDsBucket)
	if b == nil {
		return 0, false, nil
	}
	e, ok, err := get[tenantUIDEntry](b, []byte(tenant))
	return e.UID, ok, err
}

// allocateUID returns tenant's recorded uid, or records and returns the
// lowest free uid of [first, first+count). A recorded uid is returned even
// when outside the range; the caller reports that.
func allocateUID(tx *bbolt.Tx, tenant string, first, count int) (int, error) {
	if uid, ok, err := recordedUID(tx, tenant); err != nil || ok {
		return uid, err
	}
	byTenant, err := tx.CreateBucketIfNotExists(tenantUIDsBucket)
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
	if err := put(byTenant, []byte(tenant), tenantUIDEntry{UID: next}); err != nil {
		return 0, err
	}
	if err := byUID.Put(uidKey(next), []byte(tenant)); err != nil {
		return 0, err
	}
	return next, nil
}

// uidKey is the key of uid_tenants/: 4 bytes big-endian.
func uidKey(uid int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(uid))
}
