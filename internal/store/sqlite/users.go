package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

const userColumns = `id, account_id, email_index, sealed_email, role, password_hash, disabled_at,
	totp_secret, totp_enabled_at, totp_last_step, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var role string
	var created, updated int64
	var disabled, totpEnabled sql.NullInt64
	if err := row.Scan(&u.ID, &u.AccountID, &u.EmailIndex, &u.SealedEmail, &role, &u.PasswordHash, &disabled,
		&u.TOTP.SealedSecret, &totpEnabled, &u.TOTP.LastStep, &created, &updated); err != nil {
		return store.User{}, err
	}
	u.Role = api.Role(role)
	u.DisabledAt, u.TOTP.EnabledAt = fromNullMicros(disabled), fromNullMicros(totpEnabled)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, nil
}

// CreateUser implements store.UserStore.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, u.EmailIndex, u.SealedEmail, string(u.Role), u.PasswordHash, nullMicros(u.DisabledAt),
		u.TOTP.SealedSecret, nullMicros(u.TOTP.EnabledAt), u.TOTP.LastStep, micros(u.CreatedAt), micros(u.UpdatedAt))
	return mapErr("create user", err)
}

// User implements store.UserStore.
func (s *Store) User(ctx context.Context, accountID, id string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ? AND account_id = ?`, id, accountID))
	return u, mapErr("user "+id, err)
}

// UserByEmail implements store.UserStore.
func (s *Store) UserByEmail(ctx context.Context, emailIndex []byte) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_index = ?`, emailIndex))
	return u, mapErr("user by e-mail", err)
}

// ListUsers implements store.UserStore.
func (s *Store) ListUsers(ctx context.Context, accountID string) ([]store.User, error) {
	return queryAll(ctx, s.r, "list users", scanUser,
		`SELECT `+userColumns+` FROM users WHERE ? = '' OR account_id = ? ORDER BY created_at, id`, accountID, accountID)
}

// SetPasswordHash implements store.UserStore.
func (s *Store) SetPasswordHash(ctx context.Context, accountID, id, hash string, at time.Time) error {
	return s.execOne(ctx, "set password of "+id, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
		hash, micros(at), id, accountID)
}

// ChangePassword implements store.UserStore.
func (s *Store) ChangePassword(ctx context.Context, accountID, id, hash string, at time.Time) (int, error) {
	var n int
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
			hash, micros(at), id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, "change password of "+id); err != nil {
			return err
		}
		n, err = revokeTree(ctx, tx, at, `SELECT id FROM tokens WHERE account_id = ? AND user_id = ? AND kind = ? AND revoked_at IS NULL`,
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
	return s.execOne(ctx, "set role of "+id, `UPDATE users SET role = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
		string(role), micros(at), id, accountID)
}

// DisableUser implements store.UserStore.
func (s *Store) DisableUser(ctx context.Context, accountID, id string, at time.Time) error {
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		return disableUser(ctx, tx, accountID, id, at)
	})
	return mapErr("disable user "+id, err)
}

// disableUser is DisableUser inside tx: the user disabled (the decision the owner's, not the
// identity provider's), their tokens revoked, their pending logins ended, the epoch advanced.
func disableUser(ctx context.Context, tx *sql.Tx, accountID, id string, at time.Time) error {
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND account_id = ?`, id, accountID).Scan(&one); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ? AND disabled_at IS NULL`,
		micros(at), micros(at), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sso_identities SET provider_disabled_at = NULL WHERE user_id = ?`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, micros(at), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_challenges WHERE user_id = ?`, id); err != nil {
		return err
	}
	return bumpEpoch(ctx, tx)
}

// EnableUser implements store.UserStore.
func (s *Store) EnableUser(ctx context.Context, accountID, id string, at time.Time) error {
	return s.execOne(ctx, "enable user "+id, `UPDATE users SET disabled_at = NULL, updated_at = ? WHERE id = ? AND account_id = ?`,
		micros(at), id, accountID)
}

// DeleteUser implements store.UserStore: the foreign keys cascade to the user's token keys,
// tokens, recovery codes and challenges; then the freed content is wiped from the files.
func (s *Store) DeleteUser(ctx context.Context, accountID, id string) error {
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ? AND account_id = ?`, id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, "delete user "+id); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	if err != nil {
		return mapErr("delete user "+id, err)
	}
	return s.wipe(ctx, "delete user "+id)
}

// SetTOTP implements store.UserStore.
func (s *Store) SetTOTP(ctx context.Context, accountID, id string, sealedSecret []byte, at time.Time) error {
	return s.execOne(ctx, "set TOTP of "+id, `UPDATE users SET totp_secret = ?, totp_enabled_at = NULL, totp_last_step = 0, updated_at = ?
		WHERE id = ? AND account_id = ?`, sealedSecret, micros(at), id, accountID)
}

// EnableTOTP implements store.UserStore.
func (s *Store) EnableTOTP(ctx context.Context, accountID, id string, step int64, codeHashes [][]byte, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET totp_enabled_at = ?, totp_last_step = ?, updated_at = ?
			WHERE id = ? AND account_id = ? AND totp_secret IS NOT NULL AND totp_enabled_at IS NULL`, micros(at), step, micros(at), id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, "no pending TOTP"); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, id, codeHashes)
	})
	return mapErr("enable TOTP of "+id, err)
}

// UseTOTPStep implements store.UserStore: the update only matches while the step is new, so two
// processes accepting the same code cannot both succeed.
func (s *Store) UseTOTPStep(ctx context.Context, accountID, id string, step int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET totp_last_step = ? WHERE id = ? AND account_id = ? AND totp_last_step < ?`,
			step, id, accountID, step)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND account_id = ?`, id, accountID).Scan(&one); err != nil {
			return err
		}
		return fmt.Errorf("time step %d already used: %w", step, store.ErrConflict)
	})
	return mapErr("use TOTP of "+id, err)
}

// ClearTOTP implements store.UserStore.
func (s *Store) ClearTOTP(ctx context.Context, accountID, id string, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0, updated_at = ?
			WHERE id = ? AND account_id = ?`, micros(at), id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, "clear TOTP"); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, id, nil)
	})
	return mapErr("clear TOTP of "+id, err)
}

func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string, codeHashes [][]byte) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, h := range codeHashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, h); err != nil {
			return err
		}
	}
	return nil
}

// SetRecoveryCodes implements store.UserStore.
func (s *Store) SetRecoveryCodes(ctx context.Context, accountID, id string, codeHashes [][]byte, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = ? WHERE id = ? AND account_id = ?`, micros(at), id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, "no such user"); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, id, codeHashes)
	})
	return mapErr("set recovery codes of "+id, err)
}

// UseRecoveryCode implements store.UserStore.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID, id string, codeHash []byte, at time.Time) (int, error) {
	var left int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL
			AND EXISTS (SELECT 1 FROM users WHERE id = ? AND account_id = ?)`, micros(at), id, codeHash, id, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, "no unused recovery code matches"); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, id).Scan(&left)
	})
	return left, mapErr("use recovery code of "+id, err)
}

// RecoveryCodesLeft implements store.UserStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID, id string) (int, error) {
	var left int
	err := s.r.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM recovery_codes WHERE user_id = u.id AND used_at IS NULL)
		FROM users u WHERE u.id = ? AND u.account_id = ?`, id, accountID).Scan(&left)
	return left, mapErr("recovery codes of "+id, err)
}
