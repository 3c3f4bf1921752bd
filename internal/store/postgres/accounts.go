package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

// accountTables are the tables a deletion of an account reaches, for Vacuum.
var accountTables = []string{"accounts", "users", "recovery_codes", "login_challenges", "token_keys", "tokens", "audit_log",
	"sites", "devices", "device_keys", "data_files", "segments", "device_losses"}

// userTables are the tables a deletion of a user reaches.
var userTables = []string{"users", "recovery_codes", "login_challenges", "token_keys", "tokens"}

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
	return s.Vacuum(ctx, "delete account "+id, accountTables)
}

// Vacuum reclaims the space of deleted rows in tables, after a deletion has committed.
//
// PostgreSQL never overwrites a row in place: a DELETE only marks the row dead, and its bytes
// stay in the table's pages until VACUUM prunes them. VACUUM (which takes no lock that blocks
// the server) removes the dead rows and their index entries and makes their space free for new
// rows; it does not zero that space, so the bytes of a pruned row can remain in a page's free
// space until a new row is written over them, and in the write-ahead log until its segment is
// recycled. docs/security.md says what that means for a deletion and how long it lasts. VACUUM
// cannot remove rows that a transaction older than the deletion may still see (a long-running
// query or backup, a replica's hot_standby_feedback): those are pruned by autovacuum later.
func (s *Store) Vacuum(ctx context.Context, what string, tables []string) error {
	ids := make([]string, len(tables))
	for i, t := range tables {
		ids[i] = pgx.Identifier{t}.Sanitize()
	}
	for attempt := 0; ; attempt++ {
		// VACUUM must run outside a transaction block: one statement, simple protocol.
		_, err := s.pool.Exec(ctx, `VACUUM (INDEX_CLEANUP ON) `+strings.Join(ids, ", "), pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			return nil
		}
		if attempt == 2 || ctx.Err() != nil {
			return fmt.Errorf("%s: committed, but reclaiming the deleted rows' space failed (autovacuum will): %w", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
