// Package sqlite implements store.Store on SQLite through modernc.org/sqlite, a pure-Go driver,
// so the server cross-compiles and runs without a C toolchain.
//
// The store keeps what the server hands it: customer data arrives sealed (see package store).
// secure_delete is on, so deleted rows are overwritten with zeros in the database file, and a
// deletion of an account or user is followed by a checkpoint that empties the write-ahead log:
// no copy of the files taken afterwards holds a remnant of what was deleted. The database file
// and its WAL are created owner-only (0600) whatever the umask.
//
// The database runs in WAL mode with synchronous=NORMAL: a commit is durable against a crash of
// the process, and the database stays consistent across a power loss, which may at worst lose
// the transactions committed since the last checkpoint. For an audit log, token records and
// readings that is the right trade for an order of magnitude more write throughput than
// synchronous=FULL: the readings ingest depends on it, and what a device was told is stored
// survives any crash of the server process (docs/security.md, "Storage durability"). Foreign keys are on, so deleting an account
// cascades to everything it owns; a busy timeout lets the server and the operator's offline
// commands share the file.
//
// Writes go through a pool of one connection whose transactions begin IMMEDIATE, so writers
// queue in Go instead of failing with SQLITE_BUSY; reads use a separate read-only pool and run
// concurrently with the writer, as WAL allows.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	w    *sql.DB // one connection, IMMEDIATE transactions
	r    *sql.DB // read-only connections
	path string

	epochStmt *sql.Stmt
	tokenStmt *sql.Stmt
	fileStmt  *sql.Stmt
	ingest    ingestStmts

	// epochFile grows by one byte after every commit that advances the revocation epoch, by
	// any process. Its size is a signal a stat(2) can read in a microsecond, where a query costs
	// several: RevocationEpoch reads the table only when the size changed.
	epochFile string
	epochMu   sync.Mutex
	epochSize int64 // size seen when epochVal was read; -2 before the first read
	epochVal  int64
}

var _ store.Store = (*Store)(nil)

// busyTimeout is how long a statement waits for another process's write lock.
const busyTimeout = 5 * time.Second

// Open opens (creating if needed) the database file at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open database: invalid file name %q: it must be non-empty and contain no ? or #", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	common := "_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout/time.Millisecond)) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)"
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w, path: path, epochFile: path + "-epoch", epochSize: -2}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	if s.epochStmt, err = r.PrepareContext(ctx, `SELECT epoch FROM revocation_epoch WHERE id = 1`); err == nil {
		s.tokenStmt, err = r.PrepareContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`)
	}
	if err == nil {
		s.fileStmt, err = r.PrepareContext(ctx, `SELECT `+fileColumns+` FROM data_files f WHERE f.device_id = ? AND f.sequence = ?
			AND EXISTS (SELECT 1 FROM devices d WHERE d.id = f.device_id AND d.account_id = ?)`)
	}
	if err == nil {
		err = s.prepareIngest(ctx)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return s, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	errs := []error{s.ingest.close()}
	for _, st := range []*sql.Stmt{s.epochStmt, s.tokenStmt, s.fileStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// loadMigrations returns the embedded migrations, in order.
func loadMigrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrations, "migrations")
}

// migrate applies the migrations the database has not seen, each in its own transaction with
// its schema_migrations row, and refuses a database from a newer smartx.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this smartx supports (%d): upgrade smartx", current, len(ms))
	}
	if current > 0 && current < sealedSchema {
		var accounts int
		if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&accounts); err != nil {
			return fmt.Errorf("read schema version %d: %w", current, err)
		}
		if accounts > 0 {
			return fmt.Errorf("%w (schema %d, %d account(s))", ErrUnsealedDatabase, current, accounts)
		}
	}
	for _, m := range ms[current:] {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// sealedSchema is the first schema version whose customer data is sealed (0003_sealed.sql).
const sealedSchema = 3

// ErrUnsealedDatabase is a database written by a smartx from before customer data was sealed
// at rest, which still holds accounts.
var ErrUnsealedDatabase = errors.New("this database was written by an older smartx that kept customer data in clear")

// SchemaVersion returns the number of the last migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// inTx runs fn in one write transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// inEpochTx is inTx for a change that invalidates tokens: fn bumps the epoch inside the
// transaction and the epoch file is signalled once it committed.
func (s *Store) inEpochTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := s.inTx(ctx, fn); err != nil {
		return err
	}
	return s.signalEpoch()
}

// wipe makes a committed deletion leave no remnant in the files: secure_delete already zeroed
// the rows in the pages written, and a TRUNCATE checkpoint copies those pages into the database
// file and empties the write-ahead log, which still holds the pages as they were before. A
// reader in the middle of a query can hold the checkpoint back, so it is retried briefly.
func (s *Store) wipe(ctx context.Context, what string) error {
	var busy, logFrames, checkpointed int
	for range 50 {
		if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
			return fmt.Errorf("%s: wipe the write-ahead log: %w", what, err)
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: wipe the write-ahead log: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: the write-ahead log could not be emptied (readers kept it busy): it still holds the deleted rows until the next checkpoint", what)
}

// createPrivate creates the database file owner-only if it does not exist, and makes an
// existing one (and its WAL and shared-memory files) owner-only: SQLite gives the files it
// creates the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-epoch"} {
		if err := secretfile.RestrictPath(p); err != nil {
			return fmt.Errorf("open database %s: %w", path, err)
		}
	}
	return nil
}

// mapErr turns driver errors into the store's sentinels: unique violations into ErrConflict,
// a reference to a missing row into ErrNotFound, no rows into ErrNotFound.
func mapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", what, store.ErrConflict)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: referenced row: %w", what, store.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Times are stored as Unix microseconds; the zero time is NULL.

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// bumpEpoch advances the revocation epoch inside tx; the caller calls signalEpoch after commit.
func bumpEpoch(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1`)
	return err
}

// signalEpoch appends a byte to the epoch file after a committed bump, so every process
// sharing the database re-reads the epoch on its next RevocationEpoch. It runs after the
// commit: a reader that sees the new size is sure to read the new epoch.
func (s *Store) signalEpoch() error {
	f, err := os.OpenFile(s.epochFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("signal revocation: %w", err)
	}
	if _, err := f.Write([]byte{'.'}); err != nil {
		f.Close()
		return fmt.Errorf("signal revocation: %w", err)
	}
	return f.Close()
}

// epochFileSize returns the epoch file's size, -1 when it does not exist yet.
func (s *Store) epochFileSize() (int64, error) {
	fi, err := os.Stat(s.epochFile)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read revocation epoch: %w", err)
	}
	return fi.Size(), nil
}

// RevocationEpoch implements store.TokenStore: a stat of the epoch file, and a primary-key
// read of the epoch only when the file grew since the last one.
func (s *Store) RevocationEpoch(ctx context.Context) (int64, error) {
	size, err := s.epochFileSize()
	if err != nil {
		return 0, err
	}
	s.epochMu.Lock()
	if size == s.epochSize {
		e := s.epochVal
		s.epochMu.Unlock()
		return e, nil
	}
	s.epochMu.Unlock()
	var e int64
	if err := s.epochStmt.QueryRowContext(ctx).Scan(&e); err != nil {
		return 0, mapErr("read revocation epoch", err)
	}
	s.epochMu.Lock()
	s.epochSize, s.epochVal = size, e
	s.epochMu.Unlock()
	return e, nil
}
