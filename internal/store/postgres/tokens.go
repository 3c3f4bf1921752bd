package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

const tokenColumns = `id, account_id, user_id, parent_id, kind, sealed_name, scopes, sites, secret_salt, secret_hash, key_id,
	created_at, expires_at, last_used_at, revoked_at`

func scanToken(row pgx.Row) (store.Token, error) {
	var t store.Token
	var kind string
	var scopes []string
	var lastUsed, revoked *time.Time
	if err := row.Scan(&t.ID, &t.AccountID, &t.UserID, &t.ParentID, &kind, &t.SealedName, &scopes, &t.Sites, &t.SecretSalt, &t.SecretHash,
		&t.KeyID, &t.CreatedAt, &t.ExpiresAt, &lastUsed, &revoked); err != nil {
		return store.Token{}, err
	}
	t.Kind = api.TokenKind(kind)
	t.Scopes = make([]api.Scope, len(scopes))
	for i, sc := range scopes {
		t.Scopes[i] = api.Scope(sc)
	}
	if t.Sites == nil {
		t.Sites = []string{}
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	t.LastUsedAt, t.RevokedAt = fromNull(lastUsed), fromNull(revoked)
	return t, nil
}

// textArray is a list for a NOT NULL text[] column: never NULL, empty for none.
func textArray[T ~string](v []T) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = string(s)
	}
	return out
}

// CreateToken implements store.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		t.ID, t.AccountID, t.UserID, t.ParentID, string(t.Kind), t.SealedName, textArray(t.Scopes), textArray(t.Sites), t.SecretSalt, t.SecretHash,
		t.KeyID, t.CreatedAt, t.ExpiresAt, nullTime(t.LastUsedAt), nullTime(t.RevokedAt))
	return mapErr("create token", err)
}

// Token implements store.TokenStore.
func (s *Store) Token(ctx context.Context, id string) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
	return t, mapErr("token "+id, err)
}

// ListTokens implements store.TokenStore.
func (s *Store) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.Token, error) {
	return queryAll(ctx, s.pool, "list tokens", scanToken, `SELECT `+tokenColumns+` FROM tokens
		WHERE account_id = $1 AND ($2 = '' OR user_id = $2) AND ($3 = '' OR kind = $3)
		ORDER BY created_at DESC, id`, f.AccountID, f.UserID, string(f.Kind))
}

// revokeTree revokes, inside tx, the tokens rootQuery selects (by id) and every token minted
// from them, directly or not; it returns how many it revoked. rootQuery's parameters are $2
// on, args in order; $1 is the revocation time.
func revokeTree(ctx context.Context, tx pgx.Tx, at time.Time, rootQuery string, args ...any) (int, error) {
	tag, err := tx.Exec(ctx, `WITH RECURSIVE tree(id) AS (`+rootQuery+`
			UNION SELECT t.id FROM tokens t JOIN tree ON t.parent_id = tree.id)
		UPDATE tokens SET revoked_at = $1 WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL`, append([]any{at}, args...)...)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// RevokeToken implements store.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, accountID, id string, at time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tokens WHERE id = $1 AND account_id = $2`, id, accountID).Scan(&one); err != nil {
			return err
		}
		var err error
		if n, err = revokeTree(ctx, tx, at, `SELECT id FROM tokens WHERE id = $2`, id); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return n, mapErr("revoke token "+id, err)
}

// RevokeUserTokens implements store.TokenStore.
func (s *Store) RevokeUserTokens(ctx context.Context, accountID, userID string, kind api.TokenKind, at time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = revokeTree(ctx, tx, at, `SELECT id FROM tokens WHERE account_id = $2 AND user_id = $3 AND ($4 = '' OR kind = $4) AND revoked_at IS NULL`,
			accountID, userID, string(kind))
		if err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return n, mapErr("revoke tokens of "+userID, err)
}

// TouchTokens implements store.TokenStore. The rows are updated in id order, so two processes
// touching the same tokens lock them in the same order.
func (s *Store) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	ids := make([]string, 0, len(lastUsed))
	for id := range lastUsed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ats := make([]time.Time, len(ids))
	for i, id := range ids {
		ats[i] = lastUsed[id]
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tokens t SET last_used_at = GREATEST(t.last_used_at, v.at)
			FROM (SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) ORDER BY id) v
			WHERE t.id = v.id AND (t.last_used_at IS NULL OR t.last_used_at < v.at)`, ids, ats)
		return err
	})
	return mapErr("record token use", err)
}

// DeleteTokensBefore implements store.TokenStore.
func (s *Store) DeleteTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at < $1 OR revoked_at < $1`, t)
	if err != nil {
		return 0, mapErr("delete old tokens", err)
	}
	return tag.RowsAffected(), nil
}

// CreateTokenKey implements store.TokenKeyStore.
func (s *Store) CreateTokenKey(ctx context.Context, k store.TokenKey) error {
	// The user must be the account's: the foreign key alone would accept another account's.
	tag, err := s.pool.Exec(ctx, `INSERT INTO token_keys (id, account_id, user_id, version, wrapped_key, created_at)
		SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM users WHERE id = $3 AND account_id = $2)`,
		k.ID, k.AccountID, k.UserID, k.Version, k.WrappedKey, k.CreatedAt)
	if err != nil {
		return mapErr("create token key", err)
	}
	return exactlyOne(tag, "create token key: no such user in the account")
}

const tokenKeyColumns = `id, account_id, user_id, version, wrapped_key, created_at`

func scanTokenKey(row pgx.Row) (store.TokenKey, error) {
	var k store.TokenKey
	if err := row.Scan(&k.ID, &k.AccountID, &k.UserID, &k.Version, &k.WrappedKey, &k.CreatedAt); err != nil {
		return store.TokenKey{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return k, nil
}

// TokenKey implements store.TokenKeyStore.
func (s *Store) TokenKey(ctx context.Context, id string) (store.TokenKey, error) {
	k, err := scanTokenKey(s.pool.QueryRow(ctx, `SELECT `+tokenKeyColumns+` FROM token_keys WHERE id = $1`, id))
	return k, mapErr("token key "+id, err)
}

// LatestTokenKey implements store.TokenKeyStore.
func (s *Store) LatestTokenKey(ctx context.Context, accountID, userID string) (store.TokenKey, error) {
	k, err := scanTokenKey(s.pool.QueryRow(ctx, `SELECT `+tokenKeyColumns+` FROM token_keys
		WHERE account_id = $1 AND user_id = $2 ORDER BY version DESC LIMIT 1`, accountID, userID))
	return k, mapErr("token key of "+userID, err)
}
