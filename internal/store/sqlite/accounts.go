package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// CreateAccount implements store.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO accounts (id, name, data_key, created_at) VALUES (?, ?, ?, ?)`,
		a.ID, a.Name, a.DataKey, micros(a.CreatedAt))
	return mapErr("create account", err)
}

// Account implements store.AccountStore.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	var a store.Account
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, data_key, created_at FROM accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.DataKey, &created)
	if err != nil {
		return store.Account{}, mapErr("account "+id, err)
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

// ListAccounts implements store.AccountStore.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, data_key, created_at FROM accounts ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr("list accounts", err)
	}
	defer rows.Close()
	out := []store.Account{}
	for rows.Next() {
		var a store.Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &a.DataKey, &created); err != nil {
			return nil, mapErr("list accounts", err)
		}
		a.CreatedAt = fromMicros(created)
		out = append(out, a)
	}
	return out, mapErr("list accounts", rows.Err())
}

// DeleteAccount implements store.AccountStore: the foreign keys cascade the delete to every
// table, in this one transaction.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	return s.inEpochTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		if err != nil {
			return mapErr("delete account "+id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete account %s: %w", id, store.ErrNotFound)
		}
		return mapErr("delete account "+id, bumpEpoch(ctx, tx))
	})
}

const userColumns = `id, account_id, email, role, password_hash, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var role string
	var created, updated int64
	if err := row.Scan(&u.ID, &u.AccountID, &u.Email, &role, &u.PasswordHash, &created, &updated); err != nil {
		return store.User{}, err
	}
	u.Role = api.Role(role)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, nil
}

// CreateUser implements store.UserStore.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, strings.ToLower(u.Email), string(u.Role), u.PasswordHash, micros(u.CreatedAt), micros(u.UpdatedAt))
	return mapErr("create user", err)
}

// User implements store.UserStore.
func (s *Store) User(ctx context.Context, accountID, id string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ? AND account_id = ?`, id, accountID))
	return u, mapErr("user "+id, err)
}

// UserByEmail implements store.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, strings.ToLower(email)))
	return u, mapErr("user by e-mail", err)
}

// ListUsers implements store.UserStore.
func (s *Store) ListUsers(ctx context.Context, accountID string) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE ? = '' OR account_id = ? ORDER BY created_at, id`, accountID, accountID)
	if err != nil {
		return nil, mapErr("list users", err)
	}
	defer rows.Close()
	out := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapErr("list users", err)
		}
		out = append(out, u)
	}
	return out, mapErr("list users", rows.Err())
}

// SetPasswordHash implements store.UserStore.
func (s *Store) SetPasswordHash(ctx context.Context, accountID, id, hash string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
		hash, micros(at), id, accountID)
	if err != nil {
		return mapErr("set password of "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set password of %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// ChangePassword implements store.UserStore.
func (s *Store) ChangePassword(ctx context.Context, accountID, id, hash string, at time.Time) (int, error) {
	var n int64
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
			hash, micros(at), id, accountID)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fmt.Errorf("change password of %s: %w", id, store.ErrNotFound)
		}
		res, err = tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?
			WHERE account_id = ? AND user_id = ? AND kind = ? AND revoked_at IS NULL`,
			micros(at), accountID, id, string(api.TokenKindSession))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return bumpEpoch(ctx, tx)
	})
	return int(n), mapErr("change password of "+id, err)
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
