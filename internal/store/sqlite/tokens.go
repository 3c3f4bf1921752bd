package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

const tokenColumns = `id, account_id, user_id, kind, name, scopes, sites, secret_salt, secret_hash, key_id,
	created_at, expires_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var kind, scopes, sites string
	var created, expires int64
	var lastUsed, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.AccountID, &t.UserID, &kind, &t.Name, &scopes, &sites, &t.SecretSalt, &t.SecretHash,
		&t.KeyID, &created, &expires, &lastUsed, &revoked); err != nil {
		return store.Token{}, err
	}
	t.Kind = api.TokenKind(kind)
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil {
		return store.Token{}, fmt.Errorf("token %s scopes: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(sites), &t.Sites); err != nil {
		return store.Token{}, fmt.Errorf("token %s sites: %w", t.ID, err)
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(created), fromMicros(expires)
	t.LastUsedAt, t.RevokedAt = fromNullMicros(lastUsed), fromNullMicros(revoked)
	return t, nil
}

func jsonList[T any](v []T) string {
	if v == nil {
		v = []T{}
	}
	b, _ := json.Marshal(v) // a slice of strings always marshals
	return string(b)
}

// CreateToken implements store.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.AccountID, t.UserID, string(t.Kind), t.Name, jsonList(t.Scopes), jsonList(t.Sites), t.SecretSalt, t.SecretHash,
		t.KeyID, micros(t.CreatedAt), micros(t.ExpiresAt), nullMicros(t.LastUsedAt), nullMicros(t.RevokedAt))
	return mapErr("create token", err)
}

// Token implements store.TokenStore.
func (s *Store) Token(ctx context.Context, id string) (store.Token, error) {
	t, err := scanToken(s.tokenStmt.QueryRowContext(ctx, id))
	return t, mapErr("token "+id, err)
}

// ListTokens implements store.TokenStore.
func (s *Store) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE account_id = ? AND (? = '' OR user_id = ?) AND (? = '' OR kind = ?)
		ORDER BY created_at DESC, id`, f.AccountID, f.UserID, f.UserID, string(f.Kind), string(f.Kind))
	if err != nil {
		return nil, mapErr("list tokens", err)
	}
	defer rows.Close()
	out := []store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, mapErr("list tokens", err)
		}
		out = append(out, t)
	}
	return out, mapErr("list tokens", rows.Err())
}

// RevokeToken implements store.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, accountID, id string, at time.Time) error {
	return s.inEpochTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE id = ? AND account_id = ?`, id, accountID).Scan(&n); err != nil {
			return mapErr("revoke token "+id, err)
		}
		if n == 0 {
			return fmt.Errorf("revoke token %s: %w", id, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL`,
			micros(at), id, accountID); err != nil {
			return mapErr("revoke token "+id, err)
		}
		return mapErr("revoke token "+id, bumpEpoch(ctx, tx))
	})
}

// RevokeUserTokens implements store.TokenStore.
func (s *Store) RevokeUserTokens(ctx context.Context, accountID, userID string, kind api.TokenKind, at time.Time) (int, error) {
	var n int64
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?
			WHERE account_id = ? AND user_id = ? AND (? = '' OR kind = ?) AND revoked_at IS NULL`,
			micros(at), accountID, userID, string(kind), string(kind))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return bumpEpoch(ctx, tx)
	})
	return int(n), mapErr("revoke tokens of "+userID, err)
}

// TouchTokens implements store.TokenStore.
func (s *Store) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range lastUsed {
			if _, err := stmt.ExecContext(ctx, micros(at), id); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr("record token use", err)
}

// DeleteTokensBefore implements store.TokenStore.
func (s *Store) DeleteTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at < ? OR revoked_at < ?`, micros(t), micros(t))
	if err != nil {
		return 0, mapErr("delete old tokens", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// CreateTokenKey implements store.TokenKeyStore.
func (s *Store) CreateTokenKey(ctx context.Context, k store.TokenKey) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO token_keys (id, account_id, version, wrapped_key, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Version, k.WrappedKey, micros(k.CreatedAt))
	return mapErr("create token key", err)
}

func scanTokenKey(row *sql.Row) (store.TokenKey, error) {
	var k store.TokenKey
	var created int64
	if err := row.Scan(&k.ID, &k.AccountID, &k.Version, &k.WrappedKey, &created); err != nil {
		return store.TokenKey{}, err
	}
	k.CreatedAt = fromMicros(created)
	return k, nil
}

// TokenKey implements store.TokenKeyStore.
func (s *Store) TokenKey(ctx context.Context, id string) (store.TokenKey, error) {
	k, err := scanTokenKey(s.r.QueryRowContext(ctx, `SELECT id, account_id, version, wrapped_key, created_at FROM token_keys WHERE id = ?`, id))
	return k, mapErr("token key "+id, err)
}

// LatestTokenKey implements store.TokenKeyStore.
func (s *Store) LatestTokenKey(ctx context.Context, accountID string) (store.TokenKey, error) {
	k, err := scanTokenKey(s.r.QueryRowContext(ctx, `SELECT id, account_id, version, wrapped_key, created_at FROM token_keys
		WHERE account_id = ? ORDER BY version DESC LIMIT 1`, accountID))
	return k, mapErr("token key of "+accountID, err)
}
