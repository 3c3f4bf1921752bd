package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/smart-impulse/smartx/internal/store"
)

// CreateAccount implements store.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO accounts (id, sealed_name, data_key, created_at) VALUES (?, ?, ?, ?)`,
		a.ID, a.SealedName, a.DataKey, micros(a.CreatedAt))
	return mapErr("create account", err)
}

const accountColumns = `id, sealed_name, data_key, created_at`

func scanAccount(row interface{ Scan(...any) error }) (store.Account, error) {
	var a store.Account
	var created int64
	if err := row.Scan(&a.ID, &a.SealedName, &a.DataKey, &created); err != nil {
		return store.Account{}, err
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

// Account implements store.AccountStore.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id))
	return a, mapErr("account "+id, err)
}

// ListAccounts implements store.AccountStore.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	return queryAll(ctx, s.r, "list accounts", scanAccount, `SELECT `+accountColumns+` FROM accounts ORDER BY created_at, id`)
}

// DeleteAccount implements store.AccountStore: the foreign keys cascade the delete to every
// table, in this one transaction; then the freed content is wiped from the files.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		if err != nil {
			return mapErr("delete account "+id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete account %s: %w", id, store.ErrNotFound)
		}
		return mapErr("delete account "+id, bumpEpoch(ctx, tx))
	})
	if err != nil {
		return err
	}
	return s.wipe(ctx, "delete account "+id)
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, what string, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
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

// Meta implements store.MetaStore.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v, mapErr("meta "+key, err)
}

// SetMetaIfAbsent implements store.MetaStore.
func (s *Store) SetMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	var stored []byte
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&stored)
	})
	return stored, mapErr("meta "+key, err)
}

// exactlyOne turns an UPDATE or DELETE that matched no row into ErrNotFound.
func exactlyOne(res sql.Result, what string) error {
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// execOne runs a statement that must change one row.
func (s *Store) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return mapErr(what, err)
	}
	return exactlyOne(res, what)
}
