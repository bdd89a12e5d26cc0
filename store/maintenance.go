package store

import (
	"fmt"
	"io"

	"go.etcd.io/bbolt"
)

// SchemaVersion returns the schema version stored in the file.
func (db *DB) SchemaVersion() (int, error) {
	var v int
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		v, _, err = readSchemaVersion(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Backup writes a consistent snapshot of the whole database to w from one
// read transaction (hot backup: writers are not blocked) and returns the
// number of bytes written. The output is a valid bbolt file.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup store: %w", err)
	}
	return n, nil
}

// Check runs bbolt's page consistency check in a read transaction and
// returns the first problem found, or nil. It reads every page: expect it to
// take time proportional to the file size.
func (db *DB) Check() error {
	var first error
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		// Drain the channel: the checker goroutine uses tx until it closes it.
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		return nil
	})
	if err == nil {
		err = first
	}
	if err != nil {
		return fmt.Errorf("check store: %w", err)
	}
	return nil
}
