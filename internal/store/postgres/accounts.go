package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smart-impulse/smartx/internal/store"
)

// CreateAccount implements store.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO accounts (id, sealed_name, data_key, created_at) VALUES ($1, $2, $3, $4)`,
		a.ID, a.SealedName, a.DataKey, a.CreatedAt)
	return mapErr("create account", err)
}

const accountColumns = `id, sealed_name, data_key, created_at`

func scanAccount(row pgx.Row) (store.Account, error) {
	var a store.Account
	if err := row.Scan(&a.ID, &a.SealedName, &a.DataKey, &a.CreatedAt); err != nil {
		return store.Account{}, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// Account implements store.AccountStore.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	return a, mapErr("account "+id, err)
}

// ListAccounts implements store.AccountStore.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	return queryAll(ctx, s.pool, "list accounts", scanAccount, `SELECT `+accountColumns+` FROM accounts ORDER BY created_at, id`)
}

// The tables a deletion reaches. The key tables hold what crypto-shredding rests on (the
// wrapped data key, the users' token keys) and the blind indexes of e-mails, site names and
// serials: they are small (a row per account, user, site or device), and rewritten after a
// deletion (VACUUM FULL) so no copy of the deleted rows stays in the database's files. The
// others hold values sealed under keys that died with the account or user, ids and times, and
// grow with the readings: a plain VACUUM frees their space.
var (
	accountKeyTables = []string{"accounts", "users", "token_keys", "recovery_codes", "login_challenges", "sites", "devices", "sso_links", "sso_domains", "sso_identities"}
	accountTables    = []string{"tokens", "audit_log", "device_keys", "data_files", "segments", "device_losses", "preflight_runs"}
	userKeyTables    = []string{"users", "token_keys", "recovery_codes", "login_challenges", "sso_identities"}
	userTables       = []string{"tokens"}
)

// DeleteAccount implements store.AccountStore: the foreign keys cascade the delete to every
// table, in this one transaction; then the tables are vacuumed.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no such account"); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	if err != nil {
		return mapErr("delete account "+id, err)
	}
	return s.vacuum(ctx, "delete account "+id, accountKeyTables, accountTables)
}

// vacuum removes what a committed deletion left in the database's files: it rewrites the
// rewrite tables (VACUUM FULL: a new file of the live rows, the old one truncated at once) and
// vacuums the others (VACUUM: dead rows pruned, their space free for new rows).
//
// PostgreSQL never overwrites a row in place: a DELETE only marks it dead. A plain VACUUM
// prunes dead rows and their index entries, but does not zero the space they held, so their
// bytes can remain in a page until new rows are written over them; a rewrite leaves no copy in
// the table's files. A rewrite takes an exclusive lock on its table for as long as it copies
// it, which is why only the small tables are rewritten, each with a short lock timeout so that
// the server's requests never queue behind it for long. Neither removes rows that a
// transaction older than the deletion can still see (a long query, a pg_dump running), nor the
// copies in the write-ahead log, archives, replicas and backups: docs/security.md says how long
// those last.
func (s *Store) vacuum(ctx context.Context, what string, rewrite, tables []string) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%s: committed, but the space of the deleted rows was not reclaimed: %w", what, err)
	}
	defer conn.Release()
	var errs []error
	for _, t := range rewrite {
		errs = append(errs, vacuumTable(ctx, conn, "VACUUM (FULL) "+pgx.Identifier{t}.Sanitize()))
	}
	ids := make([]string, len(tables))
	for i, t := range tables {
		ids[i] = pgx.Identifier{t}.Sanitize()
	}
	if len(ids) > 0 {
		errs = append(errs, vacuumTable(ctx, conn, "VACUUM (INDEX_CLEANUP ON) "+strings.Join(ids, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: committed, but the space of the deleted rows was not all reclaimed (run it again, or VACUUM FULL the tables named): %w", what, err)
	}
	return nil
}

// vacuumLockTimeout bounds how long a rewrite waits for its table's lock, so that requests
// queued behind it wait no longer.
const vacuumLockTimeout = "2s"

// vacuumTable runs one VACUUM statement, which must run outside a transaction block, trying
// again when it did not get its lock in time.
func vacuumTable(ctx context.Context, conn *pgxpool.Conn, stmt string) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		// One statement a message (several would make an implicit transaction); the setting
		// lasts for the session, so it is reset after.
		if _, err = conn.Exec(ctx, "SET lock_timeout = '"+vacuumLockTimeout+"'", pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		_, err = conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
		conn.Exec(context.WithoutCancel(ctx), "RESET lock_timeout", pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55P03" { // lock_not_available
			return err
		}
	}
	return err
}

// Meta implements store.MetaStore.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	return v, mapErr("meta "+key, err)
}

// SetMetaIfAbsent implements store.MetaStore. A concurrent insert of the same key makes this
// one wait and then do nothing; the SELECT that follows, a new statement, sees the winner's.
func (s *Store) SetMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	var stored []byte
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&stored)
	})
	return stored, mapErr("meta "+key, err)
}
