package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"go.etcd.io/bbolt"
)

// migration upgrades the database by one schema version inside the caller's
// write transaction. It must not commit or roll back tx.
type migration func(tx *bbolt.Tx) error

// migrations returns the schema steps indexed by from-version: entry v
// upgrades version v to v+1. The current schema version is len(migrations()).
// Entry 0 is never run: a fresh file is created at the current version
// directly (see initSchema). To change the schema, append one line, e.g.
//
//	migrate1to2, // 1 → 2: add the shares bucket
//
// and update the tree in store.go and initSchema.
func migrations() []migration {
	return []migration{
		nil, // 0 → 1: fresh databases are initialized by initSchema
	}
}

// migrate initializes a fresh file or brings an older one up to
// len(migs), after backing it up to "<path>.bak-v<old>". All pending
// migrations and the version bump run in one Update: on any error the file
// stays at its old version.
func (db *DB) migrate(path string, migs []migration) error {
	current := len(migs)
	var version int
	var fresh bool
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		version, fresh, err = readSchemaVersion(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	switch {
	case fresh:
		err := db.bolt.Update(func(tx *bbolt.Tx) error { return initSchema(tx, current) })
		if err != nil {
			return fmt.Errorf("initialize store: %w", err)
		}
		db.logger.Info("store initialized", "schema_version", current)
		return nil
	case version > current:
		return fmt.Errorf("database schema version %d is newer than this ideserver supports (%d)", version, current)
	case version == current:
		return nil
	}

	backup := fmt.Sprintf("%s.bak-v%d", path, version)
	if err := db.writeBackupFile(backup); err != nil {
		return fmt.Errorf("back up store before migration: %w", err)
	}
	db.logger.Info("store migrating", "from_version", version, "to_version", current, "backup", backup)
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		for v := version; v < current; v++ {
			if migs[v] == nil {
				return fmt.Errorf("no migration from schema version %d", v)
			}
			if err := migs[v](tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
			}
		}
		return writeSchemaVersion(tx, current)
	})
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	db.logger.Info("store migrated", "schema_version", current)
	return nil
}

// readSchemaVersion returns the stored version. fresh is true for a file with
// no buckets at all.
func readSchemaVersion(tx *bbolt.Tx) (version int, fresh bool, err error) {
	meta := tx.Bucket(metaBucket)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bbolt.Bucket) error {
			empty = false
			return errStop
		})
		if empty {
			return 0, true, nil
		}
		return 0, false, errors.New("database has no schema version; is it an ideserver database?")
	}
	raw := meta.Get(schemaVersionKey)
	if raw == nil {
		return 0, false, errors.New("database has no schema version; is it an ideserver database?")
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 1 {
		return 0, false, fmt.Errorf("database schema version %q is invalid", raw)
	}
	return v, false, nil
}

var errStop = errors.New("stop iteration")

func writeSchemaVersion(tx *bbolt.Tx, v int) error {
	meta, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return fmt.Errorf("create meta bucket: %w", err)
	}
	return meta.Put(schemaVersionKey, []byte(strconv.Itoa(v)))
}

// initSchema creates the buckets of the current schema and stamps version.
func initSchema(tx *bbolt.Tx, version int) error {
	for _, name := range topBuckets() {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return writeSchemaVersion(tx, version)
}

// writeBackupFile writes a consistent copy of the database to path via a
// temporary file, fsyncs it, renames it into place and fsyncs the directory.
func (db *DB) writeBackupFile(path string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = db.bolt.View(func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
