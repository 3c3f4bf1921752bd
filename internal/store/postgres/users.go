package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

const userColumns = `id, account_id, email_index, sealed_email, role, password_hash, disabled_at,
	totp_secret, totp_enabled_at, totp_last_step, created_at, updated_at`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var role string
	var disabled, totpEnabled *time.Time
	if err := row.Scan(&u.ID, &u.AccountID, &u.EmailIndex, &u.SealedEmail, &role, &u.PasswordHash, &disabled,
		&u.TOTP.SealedSecret, &totpEnabled, &u.TOTP.LastStep, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return store.User{}, err
	}
	u.Role = api.Role(role)
	u.DisabledAt, u.TOTP.EnabledAt = fromNull(disabled), fromNull(totpEnabled)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// CreateUser implements store.UserStore.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		u.ID, u.AccountID, u.EmailIndex, u.SealedEmail, string(u.Role), u.PasswordHash, nullTime(u.DisabledAt),
		u.TOTP.SealedSecret, nullTime(u.TOTP.EnabledAt), u.TOTP.LastStep, u.CreatedAt, u.UpdatedAt)
	return mapErr("create user", err)
}

// User implements store.UserStore.
func (s *Store) User(ctx context.Context, accountID, id string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 AND account_id = $2`, id, accountID))
	return u, mapErr("user "+id, err)
}

// UserByEmail implements store.UserStore.
func (s *Store) UserByEmail(ctx context.Context, emailIndex []byte) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_index = $1`, emailIndex))
	return u, mapErr("user by e-mail", err)
}

// ListUsers implements store.UserStore.
func (s *Store) ListUsers(ctx context.Context, accountID string) ([]store.User, error) {
	return queryAll(ctx, s.pool, "list users", scanUser,
		`SELECT `+userColumns+` FROM users WHERE $1 = '' OR account_id = $1 ORDER BY created_at, id`, accountID)
}

// SetPasswordHash implements store.UserStore.
func (s *Store) SetPasswordHash(ctx context.Context, accountID, id, hash string, at time.Time) error {
	return s.execOne(ctx, "set password of "+id, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND account_id = $4`,
		hash, at, id, accountID)
}

// ChangePassword implements store.UserStore.
func (s *Store) ChangePassword(ctx context.Context, accountID, id, hash string, at time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND account_id = $4`,
			hash, at, id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no such user"); err != nil {
			return err
		}
		n, err = revokeTree(ctx, tx, at, `SELECT id FROM tokens WHERE account_id = $2 AND user_id = $3 AND kind = $4 AND revoked_at IS NULL`,
			accountID, id, string(api.TokenKindSession))
		if err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return n, mapErr("change password of "+id, err)
}

// SetUserRole implements store.UserStore.
func (s *Store) SetUserRole(ctx context.Context, accountID, id string, role api.Role, at time.Time) error {
	return s.execOne(ctx, "set role of "+id, `UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 AND account_id = $4`,
		string(role), at, id, accountID)
}

// DisableUser implements store.UserStore.
func (s *Store) DisableUser(ctx context.Context, accountID, id string, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return disableUser(ctx, tx, accountID, id, at)
	})
	return mapErr("disable user "+id, err)
}

// disableUser is DisableUser inside tx: the user disabled (the decision the owner's, not the
// identity provider's), their tokens revoked, their pending logins ended, the epoch advanced.
func disableUser(ctx context.Context, tx pgx.Tx, accountID, id string, at time.Time) error {
	var one int
	if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, accountID).Scan(&one); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET disabled_at = $1, updated_at = $1 WHERE id = $2 AND disabled_at IS NULL`, at, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE sso_identities SET provider_disabled_at = NULL WHERE user_id = $1`, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`, at, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM login_challenges WHERE user_id = $1`, id); err != nil {
		return err
	}
	return bumpEpoch(ctx, tx)
}

// EnableUser implements store.UserStore.
func (s *Store) EnableUser(ctx context.Context, accountID, id string, at time.Time) error {
	return s.execOne(ctx, "enable user "+id, `UPDATE users SET disabled_at = NULL, updated_at = $1 WHERE id = $2 AND account_id = $3`,
		at, id, accountID)
}

// DeleteUser implements store.UserStore: the foreign keys cascade to the user's token keys,
// tokens, recovery codes and challenges; then the tables are vacuumed.
func (s *Store) DeleteUser(ctx context.Context, accountID, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1 AND account_id = $2`, id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no such user"); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	if err != nil {
		return mapErr("delete user "+id, err)
	}
	return s.vacuum(ctx, "delete user "+id, userKeyTables, userTables)
}

// SetTOTP implements store.UserStore.
func (s *Store) SetTOTP(ctx context.Context, accountID, id string, sealedSecret []byte, at time.Time) error {
	return s.execOne(ctx, "set TOTP of "+id, `UPDATE users SET totp_secret = $1, totp_enabled_at = NULL, totp_last_step = 0, updated_at = $2
		WHERE id = $3 AND account_id = $4`, sealedSecret, at, id, accountID)
}

// EnableTOTP implements store.UserStore.
func (s *Store) EnableTOTP(ctx context.Context, accountID, id string, step int64, codeHashes [][]byte, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET totp_enabled_at = $1, totp_last_step = $2, updated_at = $1
			WHERE id = $3 AND account_id = $4 AND totp_secret IS NOT NULL AND totp_enabled_at IS NULL`, at, step, id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no pending TOTP"); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, id, codeHashes)
	})
	return mapErr("enable TOTP of "+id, err)
}

// UseTOTPStep implements store.UserStore: the update only matches while the step is new, and a
// concurrent one re-checks the condition on the row the first committed, so two processes
// accepting the same code cannot both succeed.
func (s *Store) UseTOTPStep(ctx context.Context, accountID, id string, step int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET totp_last_step = $1 WHERE id = $2 AND account_id = $3 AND totp_last_step < $1`,
		step, id, accountID)
	if err != nil {
		return mapErr("use TOTP of "+id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 AND account_id = $2`, id, accountID).Scan(&one); err != nil {
		return mapErr("use TOTP of "+id, err)
	}
	return fmt.Errorf("use TOTP of %s: time step %d already used: %w", id, step, store.ErrConflict)
}

// ClearTOTP implements store.UserStore.
func (s *Store) ClearTOTP(ctx context.Context, accountID, id string, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0, updated_at = $1
			WHERE id = $2 AND account_id = $3`, at, id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no such user"); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, id, nil)
	})
	return mapErr("clear TOTP of "+id, err)
}

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, userID string, codeHashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	if len(codeHashes) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) AS h`, userID, codeHashes)
	return err
}

// SetRecoveryCodes implements store.UserStore.
func (s *Store) SetRecoveryCodes(ctx context.Context, accountID, id string, codeHashes [][]byte, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET updated_at = $1 WHERE id = $2 AND account_id = $3`, at, id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no such user"); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, id, codeHashes)
	})
	return mapErr("set recovery codes of "+id, err)
}

// UseRecoveryCode implements store.UserStore.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID, id string, codeHash []byte, at time.Time) (int, error) {
	var left int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL
			AND EXISTS (SELECT 1 FROM users WHERE id = $2 AND account_id = $4)`, at, id, codeHash, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no unused recovery code matches"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, id).Scan(&left)
	})
	return left, mapErr("use recovery code of "+id, err)
}

// RecoveryCodesLeft implements store.UserStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID, id string) (int, error) {
	var left int
	err := s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM recovery_codes WHERE user_id = u.id AND used_at IS NULL)
		FROM users u WHERE u.id = $1 AND u.account_id = $2`, id, accountID).Scan(&left)
	return left, mapErr("recovery codes of "+id, err)
}
