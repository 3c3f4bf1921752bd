package sqlite

import (
	"context"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

const challengeColumns = `id, secret_hash, account_id, user_id, method, code_hash, attempts, sends, created_at, sent_at, expires_at`

// CreateChallenge implements store.ChallengeStore.
func (s *Store) CreateChallenge(ctx context.Context, c store.LoginChallenge) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO login_challenges (`+challengeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.SecretHash, c.AccountID, c.UserID, c.Method, c.CodeHash, c.Attempts, c.Sends,
		micros(c.CreatedAt), micros(c.SentAt), micros(c.ExpiresAt))
	return mapErr("create login challenge", err)
}

// Challenge implements store.ChallengeStore. It reads through the writer, so a challenge just
// created or counted is seen at once.
func (s *Store) Challenge(ctx context.Context, id string) (store.LoginChallenge, error) {
	var c store.LoginChallenge
	var created, sent, expires int64
	err := s.w.QueryRowContext(ctx, `SELECT `+challengeColumns+` FROM login_challenges WHERE id = ?`, id).Scan(
		&c.ID, &c.SecretHash, &c.AccountID, &c.UserID, &c.Method, &c.CodeHash, &c.Attempts, &c.Sends, &created, &sent, &expires)
	if err != nil {
		return store.LoginChallenge{}, mapErr("login challenge", err)
	}
	c.CreatedAt, c.SentAt, c.ExpiresAt = fromMicros(created), fromMicros(sent), fromMicros(expires)
	return c, nil
}

// CountChallengeAttempt implements store.ChallengeStore.
func (s *Store) CountChallengeAttempt(ctx context.Context, id string) (int, error) {
	var n int
	err := s.w.QueryRowContext(ctx, `UPDATE login_challenges SET attempts = attempts + 1 WHERE id = ? RETURNING attempts`, id).Scan(&n)
	return n, mapErr("count login attempt", err)
}

// ResendChallenge implements store.ChallengeStore.
func (s *Store) ResendChallenge(ctx context.Context, id string, codeHash []byte, sentAt, expiresAt time.Time) error {
	return s.execOne(ctx, "resend login code", `UPDATE login_challenges SET code_hash = ?, sends = sends + 1, attempts = 0,
		sent_at = ?, expires_at = ? WHERE id = ?`, codeHash, micros(sentAt), micros(expiresAt), id)
}

// DeleteChallenge implements store.ChallengeStore.
func (s *Store) DeleteChallenge(ctx context.Context, id string) error {
	return s.execOne(ctx, "end login challenge", `DELETE FROM login_challenges WHERE id = ?`, id)
}

// DeleteChallengesBefore implements store.ChallengeStore.
func (s *Store) DeleteChallengesBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM login_challenges WHERE expires_at < ?`, micros(t))
	if err != nil {
		return 0, mapErr("delete expired login challenges", err)
	}
	return res.RowsAffected()
}

