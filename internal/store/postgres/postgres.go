// Package postgres implements store.Store on PostgreSQL through jackc/pgx (a pure-Go driver and
// its pgxpool connection pool), for platforms that run several smartx server processes on one
// database. It passes the same contract (internal/store/storetest) as the SQLite store: the
// server never asks which one it has.
//
// The store keeps what the server hands it: customer data arrives sealed (see package store).
// The schema is created and upgraded by numbered migrations (migrations/NNNN_name.sql) that Open
// applies under a PostgreSQL advisory lock, so replicas starting together do not race, and a
// database of a newer schema than this smartx knows is refused.
//
// Transactions run at READ COMMITTED, PostgreSQL's default. Where two processes could interleave
// badly the store locks the row that orders them: StoreFile locks the device (so one file
// sequence is stored once, whichever process receives it), DeleteSite the site, ReplaceDevice
// the device. Transactions that may deadlock against another process's (token revocations and
// touches) are retried.
//
// Deleting an account or a user deletes its rows in one transaction, then rewrites the small
// tables that hold keys and blind indexes and vacuums the others, so no copy of a deleted key
// stays in the tables' files; see vacuum's comment for what PostgreSQL may still hold, where,
// and for how long.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smart-impulse/smartx/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	epoch epochReader
	// ingestCopy sends a file's segments with COPY instead of an INSERT from arrays; the
	// benchmarks compare the two (docs/benchmarks.md).
	ingestCopy bool
}

var _ store.Store = (*Store)(nil)

// Options tune the store; the zero value is a sensible default.
type Options struct {
	// MaxConns caps the connection pool. 0 keeps the URL's pool_max_conns, else pgxpool's
	// default (the larger of 4 and the number of CPUs). Every replica holds at most this many
	// connections: the database's max_connections must cover the sum over replicas.
	MaxConns int32
}

// Open connects to the database at url (postgres://user:password@host:port/dbname?..., or any
// connection string pgx accepts, including pool_max_conns and the libpq environment variables)
// and brings its schema up to date.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", redactURL(err))
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "smartx"
	}
	where := describe(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", where, err)
	}
	s := &Store{pool: pool}
	s.epoch.query = s.readEpoch
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", where, err)
	}
	return s, nil
}

// describe names a database for error messages, without its password.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// redactURL keeps a password out of a URL parse error: pgx already masks it, but an error
// from net/url could quote the URL.
func redactURL(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if at := strings.Index(msg[i:], "@"); at >= 0 {
			return errors.New(msg[:i+3] + "***" + msg[i+at:])
		}
	}
	return err
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// loadMigrations returns the embedded migrations, in order.
func loadMigrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrations, "migrations")
}

// migrationLock is the key of the session advisory lock held while migrating: "smartx" in
// ASCII, so an operator looking at pg_locks can tell whose it is.
const migrationLock = 0x736d61727478

// purgeLock is the key of the transaction advisory lock of the retention purges (audit log,
// preflight runs): "smartxp".
const purgeLock = 0x736d6172747870

// LatestSchema returns the schema version this smartx creates and upgrades to.
func LatestSchema() int {
	ms, _ := loadMigrations()
	return len(ms)
}

// migrate applies the migrations the database has not seen, each in its own transaction with
// its schema_migrations row, and refuses a database from a newer smartx. It holds an advisory
// lock throughout, so that of several replicas starting together one migrates and the others
// wait and then find the schema current.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("lock the schema for migration: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("%w: database schema version %d, this smartx supports %d: upgrade smartx", ErrNewerSchema, current, len(ms))
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// ErrNewerSchema is a database written by a newer smartx than this one.
var ErrNewerSchema = errors.New("the database was written by a newer smartx")

// SchemaVersion returns the number of the last migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in one transaction, committing when it returns nil. A transaction that
// deadlocked against another one, or lost a serialization race, is run again: fn must be
// safe to repeat (StoreFile, whose decode runs once, does not use inTx).
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || attempt == 4 || !retryable(err) {
			return err
		}
	}
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// PostgreSQL error codes the store turns into sentinels.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// mapErr turns driver errors into the store's sentinels: unique violations into ErrConflict,
// a reference to a missing row into ErrNotFound, no rows into ErrNotFound.
func mapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%s: %w", what, store.ErrConflict)
		case codeForeignKeyViolation:
			return fmt.Errorf("%s: referenced row: %w", what, store.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// exactlyOne turns an UPDATE or DELETE that matched no row into ErrNotFound.
func exactlyOne(tag pgconn.CommandTag, what string) error {
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// execOne runs a statement that must change one row.
func (s *Store) execOne(ctx context.Context, what, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return mapErr(what, err)
	}
	return exactlyOne(tag, what)
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, mapErr(what, err)
		}
		out = append(out, v)
	}
	return out, mapErr(what, rows.Err())
}

// nullTime is NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNull returns the time scanned from a nullable column in UTC, zero for NULL.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// bumpEpoch advances the revocation epoch inside tx.
func bumpEpoch(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1`)
	return err
}

// readEpoch reads the revocation epoch: one primary-key read.
func (s *Store) readEpoch(ctx context.Context) (int64, error) {
	var e int64
	err := s.pool.QueryRow(ctx, `SELECT epoch FROM revocation_epoch WHERE id = 1`).Scan(&e)
	return e, mapErr("read revocation epoch", err)
}

// RevocationEpoch implements store.TokenStore. It is exact: a revocation committed by any
// process before the call starts is seen. That takes a read of the database, but concurrent
// callers share one: a call waits for the next read that starts after it did, so under load a
// single query in flight answers every request that arrived while the previous one ran.
func (s *Store) RevocationEpoch(ctx context.Context) (int64, error) {
	return s.epoch.get(ctx)
}
