package store

import "time"

// Seams for package store_test. Call them right after Open, before the DB
// is shared between goroutines.

// SetClock replaces the store's clock (EnsureUser creation times, expiry
// checks, UpdateWorkspace's UpdatedAt).
func SetClock(db *DB, now func() time.Time) { db.now = now }

// SetNoSync turns bbolt's fsync on commit off or on; benchmarks use it to
// populate fixtures quickly. Never leave it on in a test that asserts
// durability.
func SetNoSync(db *DB, noSync bool) { db.bolt.NoSync = noSync }

// CurrentSchemaVersion is the schema version this code writes.
func CurrentSchemaVersion() int { return len(migrations()) }
