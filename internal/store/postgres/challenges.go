package postgres

import (
	"context"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

const challengeColumns = `id, secret_hash, account_id, user_id, method, code_hash, attempts, sends, created_at, sent_at, expires_at`

// CreateChallenge implements store.ChallengeStore.
func (s *Store) CreateChallenge(ctx context.Context, c store.LoginChallenge) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO login_challenges (`+challengeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.SecretHash, c.AccountID, c.UserID, c.Method, c.CodeHash, c.Attempts, c.Sends, c.CreatedAt, c.SentAt, c.ExpiresAt)
	return mapErr("create login challenge", err)
}

// Challenge implements store.ChallengeStore.
func (s *Store) Challenge(ctx context.Context, id string) (store.LoginChallenge, error) {
	var c store.LoginChallenge
	err := s.pool.QueryRow(ctx, `SELECT `+challengeColumns+` FROM login_challenges WHERE id = $1`, id).Scan(
		&c.ID, &c.SecretHash, &c.AccountID, &c.UserID, &c.Method, &c.CodeHash, &c.Attempts, &c.Sends, &c.CreatedAt, &c.SentAt, &c.ExpiresAt)
	if err != nil {
		return store.LoginChallenge{}, mapErr("login challenge", err)
	}
	c.CreatedAt, c.SentAt, c.ExpiresAt = c.CreatedAt.UTC(), c.SentAt.UTC(), c.ExpiresAt.UTC()
	return c, nil
}

// CountChallengeAttempt implements store.ChallengeStore.
func (s *Store) CountChallengeAttempt(ctx context.Context, id string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `UPDATE login_challenges SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, id).Scan(&n)
	return n, mapErr("count login attempt", err)
}

// ResendChallenge implements store.ChallengeStore.
func (s *Store) ResendChallenge(ctx context.Context, id string, codeHash []byte, sentAt, expiresAt time.Time) error {
	return s.execOne(ctx, "resend login code", `UPDATE login_challenges SET code_hash = $1, sends = sends + 1, attempts = 0,
		sent_at = $2, expires_at = $3 WHERE id = $4`, codeHash, sentAt, expiresAt, id)
}

// DeleteChallenge implements store.ChallengeStore. Of two concurrent deletions, the second waits
// for the first and then finds no row: ErrNotFound.
func (s *Store) DeleteChallenge(ctx context.Context, id string) error {
	return s.execOne(ctx, "end login challenge", `DELETE FROM login_challenges WHERE id = $1`, id)
}

// DeleteChallengesBefore implements store.ChallengeStore.
func (s *Store) DeleteChallengesBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_challenges WHERE expires_at < $1`, t)
	if err != nil {
		return 0, mapErr("delete expired login challenges", err)
	}
	return tag.RowsAffected(), nil
}
