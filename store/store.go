package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"
)

// The store is one bbolt file. Schema version 1:
//
//	meta/ (bucket)
//	|--> schema_version -> decimal ASCII, e.g. "1"
//
//	tenants/ (bucket)
//	|--> <tenant id>/ (bucket, one per tenant)
//	     |--> info -> tenantEntry
//	     |--> users/ (bucket)
//	     |    |--> <user id> -> userEntry
//	     |--> tokens/ (bucket)
//	     |    |--> <token id> -> tokenEntry
//	     |--> workspace_index/ (bucket: the tenant's workspaces by owner)
//	          |--> <user id>/ (bucket)
//	               |--> <created_at: 8 bytes big-endian><workspace id> -> workspace id
//
//	token_hashes/ (bucket: lookup index for API tokens)
//	|--> <sha256 of secret> -> tokenRef {tenant_id, token_id}
//
//	sessions/ (bucket: the logins, under their historical name)
//	|--> <sha256 of login cookie secret> -> loginEntry
//
//	workspaces/ (bucket; workspace ids are server-generated and global)
//	|--> <workspace id> -> workspaceEntry
//
//	workspace_state/ (bucket)
//	|--> <workspace id> -> opaque UI state bytes (not decoded by the store)
//
//	snippets/ (bucket: playground snippets, immutable, content-hash ids)
//	|--> <snippet id> -> snippetEntry
//
//	shares/ (bucket: workspace share links, immutable snapshots; they
//	|        outlive their workspace)
//	|--> <share id> -> shareEntry
//
//	share_index/ (bucket: shares by source workspace)
//	|--> <workspace id>/ (bucket)
//	     |--> <created_at: 8 bytes big-endian><share id> -> share id
//
//	tenant_uids/ (bucket: each owner's host uid, allocated once; uids.go)
//	|--> <owner key> -> tenantUIDEntry ("<tenant>/<user>", "@<name>", or,
//	|                   from earlier versions, a bare tenant id)
//
//	uid_tenants/ (bucket: the reverse index, to find the lowest free uid)
//	|--> <uid: 4 bytes big-endian> -> owner key
//
//	Databases created before snippets/, shares/, share_index/, tenant_uids/
//	and uid_tenants/ existed lack them; readers treat a missing bucket as
//	empty, writers create it.
//
// Values marked *Entry are JSON objects (codec.go) so fields can be added
// without a migration. Times are stored in UTC. A change that existing
// readers cannot ignore needs a migration (schema.go).
var (
	metaBucket          = []byte("meta")
	schemaVersionKey    = []byte("schema_version")
	tenantsBucket       = []byte("tenants")
	tenantInfoKey       = []byte("info")
	tenantUsersBucket   = []byte("users")
	tenantTokensBucket  = []byte("tokens")
	tenantWsIndexBucket = []byte("workspace_index")
	tokenHashesBucket   = []byte("token_hashes")
	loginsBucket        = []byte("sessions") // the logins' bucket keeps its older name on disk
	workspacesBucket    = []byte("workspaces")
	workspaceStateBkt   = []byte("workspace_state")
	snippetsBucket      = []byte("snippets")
	sharesBucket        = []byte("shares")
	shareIndexBucket    = []byte("share_index")
	tenantUIDsBucket    = []byte("tenant_uids")
	uidTenantsBucket    = []byte("uid_tenants")
)

// topBuckets are the top-level buckets of the current schema, created when a
// fresh database is initialized.
func topBuckets() [][]byte {
	return [][]byte{metaBucket, tenantsBucket, tokenHashesBucket, loginsBucket, workspacesBucket, workspaceStateBkt, snippetsBucket, sharesBucket, shareIndexBucket}
}

// Sentinel errors; match them with errors.Is. Messages built on them carry
// only ids the caller passed, never host paths or secrets.
var (
	// ErrNotFound: the record (or the user/workspace it depends on) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a record with the same id (or token/login hash) exists.
	ErrExists = errors.New("already exists")
	// ErrLocked: another process holds the database file lock.
	ErrLocked = errors.New("database is locked")
	// ErrInvalid: a required argument is empty or malformed (empty id, hash
	// of the wrong length, unknown workspace state, changed immutable field).
	ErrInvalid = errors.New("invalid argument")
	// ErrCorrupt: the database file is damaged (truncated, or pages that
	// fail bbolt's consistency check). Open refuses it rather than serve
	// from it, or crash later on a bad page.
	ErrCorrupt = errors.New("database file is corrupt")
)

// Workspace lifecycle states stored in Workspace.State.
const (
	StateActive    = "active"
	StateSuspended = "suspended"
)

// Options configure Open.
type Options struct {
	Path    string        // bbolt file path, required; its directory must exist
	Timeout time.Duration // how long Open waits for the file lock; 0 means 1s
	Logger  *slog.Logger  // nil means discard
}

// DB is an open store. It is safe for concurrent use by many goroutines.
// Unsafe for further use after Close.
type DB struct {
	bolt   *bbolt.DB
	logger *slog.Logger
	now    func() time.Time
}

// Open opens the database at opts.Path, creating it at the current schema
// version when the file is new, or migrating it (after writing a backup
// "<path>.bak-v<old>") when it is older. It blocks at most about
// opts.Timeout waiting for the file lock; when another process holds it, the
// error wraps ErrLocked and says "is another ideserver using --data DIR?".
// A database whose schema is newer than this code supports is refused. A
// damaged file (DB-04 in docs/security.md: truncated, corrupt meta or data pages) is
// checked at Open and refused with an error wrapping ErrCorrupt that says
// how to recover, never a panic; one corrupt meta page alone is survived
// (bbolt keeps two). The caller must Close the returned DB.
func Open(opts Options) (*DB, error) {
	return open(opts, migrations())
}

// open is Open with an explicit migration list (tests register fake ones).
func open(opts Options, migs []migration) (*DB, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("open store: %w: path is required", ErrInvalid)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bdb, err := openBolt(opts.Path, opts.Timeout)
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: is another ideserver using --data %s?", ErrLocked, filepath.Dir(opts.Path))
		}
		return nil, err
	}
	if err := checkBolt(bdb); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open store: %w: %w; restore %s from a backup (a migration leaves %s.bak-v<N>), or move it away to start empty", ErrCorrupt, err, opts.Path, filepath.Base(opts.Path))
	}
	db := &DB{bolt: bdb, logger: logger, now: time.Now}
	if err := db.migrate(opts.Path, migs); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return db, nil
}

// openBolt opens the bbolt file; bbolt panics on some damaged files (a
// bad freelist page), or reads its memory map beyond the file's end (a
// truncated file), which faults: both become an error wrapping ErrCorrupt
// (debug.SetPanicOnFault turns the fault into a panic on this goroutine).
func openBolt(path string, timeout time.Duration) (bdb *bbolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			bdb, err = nil, fmt.Errorf("open store: %w: %v; restore %s from a backup, or move it away to start empty", ErrCorrupt, r, path)
		}
	}()
	bdb, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	var pe *fs.PathError
	switch {
	case err == nil, errors.Is(err, bbolt.ErrTimeout):
	case errors.As(err, &pe): // permissions, I/O: not the file's content
		err = fmt.Errorf("open store: %w", err)
	default: // invalid, checksum, version mismatch, too small
		err = fmt.Errorf("open store: %w: %w; restore %s from a backup, or move it away to start empty", ErrCorrupt, err, path)
	}
	return bdb, err
}

// checkBolt runs bbolt's consistency check over every page (milliseconds
// for a metadata store of this size) and returns its first findings.
func checkBolt(bdb *bbolt.DB) error {
	var errs []error
	err := bdb.View(func(tx *bbolt.Tx) error {
		for e := range tx.Check() {
			if len(errs) < 3 {
				errs = append(errs, e)
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// Close releases the file lock and closes the file. It waits for running
// transactions to finish. Unsafe for further use after calling.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// nowUTC is the store's clock for the few timestamps it sets itself
// (EnsureUser creation times, UpdateWorkspace's UpdatedAt).
func (db *DB) nowUTC() time.Time { return db.now().UTC() }
