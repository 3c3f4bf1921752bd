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

const tokenColumns = `id, account_id, user_id, parent_id, kind, sealed_name, scopes, sites, secret_salt, secret_hash, key_id,
	created_at, expires_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var kind, scopes, sites string
	var created, expires int64
	var lastUsed, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.AccountID, &t.UserID, &t.ParentID, &kind, &t.SealedName, &scopes, &sites, &t.SecretSalt, &t.SecretHash,
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
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.AccountID, t.UserID, t.ParentID, string(t.Kind), t.SealedName, jsonList(t.Scopes), jsonList(t.Sites), t.SecretSalt, t.SecretHash,
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
	return queryAll(ctx, s.r, "list tokens", scanToken, `SELECT `+tokenColumns+` FROM tokens
		WHERE account_id = ? AND (? = '' OR user_id = ?) AND (? = '' OR kind = ?)
		ORDER BY created_at DESC, id`, f.AccountID, f.UserID, f.UserID, string(f.Kind), string(f.Kind))
}

// revokeTree revokes, inside tx, the tokens rootQuery selects (by id) and every token minted
// from them, directly or not; it returns how many it revoked.
func revokeTree(ctx context.Context, tx *sql.Tx, at time.Time, rootQuery string, args ...any) (int, error) {
	res, err := tx.ExecContext(ctx, `WITH RECURSIVE tree(id) AS (`+rootQuery+`
			UNION SELECT t.id FROM tokens t JOIN tree ON t.parent_id = tree.id)
		UPDATE tokens SET revoked_at = ? WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL`, append(args, micros(at))...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RevokeToken implements store.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, accountID, id string, at time.Time) (int, error) {
	var n int
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE id = ? AND account_id = ?`, id, accountID).Scan(&one); err != nil {
			return err
		}
		var err error
		if n, err = revokeTree(ctx, tx, at, `SELECT id FROM tokens WHERE id = ?`, id); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return n, mapErr("revoke token "+id, err)
}

// RevokeUserTokens implements store.TokenStore.
func (s *Store) RevokeUserTokens(ctx context.Context, accountID, userID string, kind api.TokenKind, at time.Time) (int, error) {
	var n int
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = revokeTree(ctx, tx, at, `SELECT id FROM tokens WHERE account_id = ? AND user_id = ? AND (? = '' OR kind = ?) AND revoked_at IS NULL`,
			accountID, userID, string(kind), string(kind))
		if err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return n, mapErr("revoke tokens of "+userID, err)
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
	return res.RowsAffected()
}

// CreateTokenKey implements store.TokenKeyStore.
func (s *Store) CreateTokenKey(ctx context.Context, k store.TokenKey) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The user must be the account's: the foreign key alone would accept another account's.
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND account_id = ?`, k.UserID, k.AccountID).Scan(&one); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO token_keys (id, account_id, user_id, version, wrapped_key, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.AccountID, k.UserID, k.Version, k.WrappedKey, micros(k.CreatedAt))
		return err
	})
	return mapErr("create token key", err)
}

const tokenKeyColumns = `id, account_id, user_id, version, wrapped_key, created_at`

func scanTokenKey(row *sql.Row) (store.TokenKey, error) {
	var k store.TokenKey
	var created int64
	if err := row.Scan(&k.ID, &k.AccountID, &k.UserID, &k.Version, &k.WrappedKey, &created); err != nil {
		return store.TokenKey{}, err
	}
	k.CreatedAt = fromMicros(created)
	return k, nil
}

// TokenKey implements store.TokenKeyStore.
func (s *Store) TokenKey(ctx context.Context, id string) (store.TokenKey, error) {
	k, err := scanTokenKey(s.r.QueryRowContext(ctx, `SELECT `+tokenKeyColumns+` FROM token_keys WHERE id = ?`, id))
	return k, mapErr("token key "+id, err)
}

// LatestTokenKey implements store.TokenKeyStore.
func (s *Store) LatestTokenKey(ctx context.Context, accountID, userID string) (store.TokenKey, error) {
	k, err := scanTokenKey(s.r.QueryRowContext(ctx, `SELECT `+tokenKeyColumns+` FROM token_keys
		WHERE account_id = ? AND user_id = ? ORDER BY version DESC LIMIT 1`, accountID, userID))
	return k, mapErr("token key of "+userID, err)
}
