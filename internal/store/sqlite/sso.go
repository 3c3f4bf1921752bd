package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

const ssoLinkColumns = `l.account_id, l.sealed, l.sealed_secret, l.require_sso, l.break_glass_user_id, l.created_at, l.updated_at`

func scanSSOLink(row interface{ Scan(...any) error }) (store.SSOLink, error) {
	var l store.SSOLink
	var breakGlass sql.NullString
	var created, updated int64
	if err := row.Scan(&l.AccountID, &l.Sealed, &l.SealedSecret, &l.RequireSSO, &breakGlass, &created, &updated); err != nil {
		return store.SSOLink{}, err
	}
	l.BreakGlassUserID = breakGlass.String
	l.CreatedAt, l.UpdatedAt = fromMicros(created), fromMicros(updated)
	return l, nil
}

// SetSSOLink implements store.SSOStore.
func (s *Store) SetSSOLink(ctx context.Context, l store.SSOLink, domainIndexes [][]byte) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if l.BreakGlassUserID != "" {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND account_id = ?`, l.BreakGlassUserID, l.AccountID).Scan(&one); err != nil {
				return mapErr("break-glass user "+l.BreakGlassUserID, err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sso_links (account_id, sealed, sealed_secret, require_sso, break_glass_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed, sealed_secret = excluded.sealed_secret,
				require_sso = excluded.require_sso, break_glass_user_id = excluded.break_glass_user_id, updated_at = excluded.updated_at`,
			l.AccountID, l.Sealed, l.SealedSecret, l.RequireSSO, nullString(l.BreakGlassUserID), micros(l.CreatedAt), micros(l.UpdatedAt))
		if err != nil {
			return mapErr("account "+l.AccountID, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sso_domains WHERE account_id = ?`, l.AccountID); err != nil {
			return err
		}
		for _, d := range domainIndexes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sso_domains (domain_index, account_id) VALUES (?, ?)`, d, l.AccountID); err != nil {
				return mapErr("a domain signs in to another account", err)
			}
		}
		return nil
	})
	return mapErr("set single sign-on of "+l.AccountID, err)
}

// SSOLink implements store.SSOStore.
func (s *Store) SSOLink(ctx context.Context, accountID string) (store.SSOLink, error) {
	l, err := scanSSOLink(s.r.QueryRowContext(ctx, `SELECT `+ssoLinkColumns+` FROM sso_links l WHERE l.account_id = ?`, accountID))
	return l, mapErr("single sign-on of "+accountID, err)
}

// SSOLinkByDomain implements store.SSOStore.
func (s *Store) SSOLinkByDomain(ctx context.Context, domainIndex []byte) (store.SSOLink, error) {
	l, err := scanSSOLink(s.r.QueryRowContext(ctx, `SELECT `+ssoLinkColumns+` FROM sso_domains d JOIN sso_links l ON l.account_id = d.account_id
		WHERE d.domain_index = ?`, domainIndex))
	return l, mapErr("single sign-on by domain", err)
}

// DeleteSSOLink implements store.SSOStore: the foreign keys cascade to the domains and
// identities; then the freed content is wiped from the files.
func (s *Store) DeleteSSOLink(ctx context.Context, accountID string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sso_links WHERE account_id = ?`, accountID)
		if err != nil {
			return err
		}
		return exactlyOne(res, "no single sign-on")
	})
	if err != nil {
		return mapErr("remove single sign-on of "+accountID, err)
	}
	return s.wipe(ctx, "remove single sign-on of "+accountID)
}

const ssoIdentityColumns = `account_id, user_id, subject_index, sealed_refresh, checked_at, provider_disabled_at, created_at, updated_at`

func scanSSOIdentity(row interface{ Scan(...any) error }) (store.SSOIdentity, error) {
	var id store.SSOIdentity
	var checked, created, updated int64
	var disabled sql.NullInt64
	if err := row.Scan(&id.AccountID, &id.UserID, &id.SubjectIndex, &id.SealedRefresh, &checked, &disabled, &created, &updated); err != nil {
		return store.SSOIdentity{}, err
	}
	id.CheckedAt, id.ProviderDisabledAt = fromMicros(checked), fromNullMicros(disabled)
	id.CreatedAt, id.UpdatedAt = fromMicros(created), fromMicros(updated)
	return id, nil
}

func insertSSOIdentity(ctx context.Context, tx *sql.Tx, id store.SSOIdentity) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sso_identities (`+ssoIdentityColumns+`) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET subject_index = excluded.subject_index, sealed_refresh = excluded.sealed_refresh,
			checked_at = excluded.checked_at, provider_disabled_at = NULL, updated_at = excluded.updated_at`,
		id.AccountID, id.UserID, id.SubjectIndex, id.SealedRefresh, micros(id.CheckedAt), micros(id.CreatedAt), micros(id.UpdatedAt))
	return err
}

// CreateSSOUser implements store.SSOStore.
func (s *Store) CreateSSOUser(ctx context.Context, u store.User, id store.SSOIdentity) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.AccountID, u.EmailIndex, u.SealedEmail, string(u.Role), u.PasswordHash, nullMicros(u.DisabledAt),
			u.TOTP.SealedSecret, nullMicros(u.TOTP.EnabledAt), u.TOTP.LastStep, micros(u.CreatedAt), micros(u.UpdatedAt)); err != nil {
			return err
		}
		id.AccountID, id.UserID = u.AccountID, u.ID
		return insertSSOIdentity(ctx, tx, id)
	})
	return mapErr("create user at sign-in", err)
}

// SSOIdentity implements store.SSOStore.
func (s *Store) SSOIdentity(ctx context.Context, accountID, userID string) (store.SSOIdentity, error) {
	id, err := scanSSOIdentity(s.r.QueryRowContext(ctx, `SELECT `+ssoIdentityColumns+` FROM sso_identities WHERE account_id = ? AND user_id = ?`,
		accountID, userID))
	return id, mapErr("identity of "+userID, err)
}

// SSOIdentityBySubject implements store.SSOStore.
func (s *Store) SSOIdentityBySubject(ctx context.Context, accountID string, subjectIndex []byte) (store.SSOIdentity, error) {
	id, err := scanSSOIdentity(s.r.QueryRowContext(ctx, `SELECT `+ssoIdentityColumns+` FROM sso_identities WHERE account_id = ? AND subject_index = ?`,
		accountID, subjectIndex))
	return id, mapErr("identity by subject", err)
}

// SaveSSOIdentity implements store.SSOStore.
func (s *Store) SaveSSOIdentity(ctx context.Context, id store.SSOIdentity) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND account_id = ?`, id.UserID, id.AccountID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = NULL, updated_at = ? WHERE id = ? AND disabled_at IS NOT NULL
			AND EXISTS (SELECT 1 FROM sso_identities WHERE user_id = ? AND provider_disabled_at IS NOT NULL)`,
			micros(id.UpdatedAt), id.UserID, id.UserID); err != nil {
			return err
		}
		return insertSSOIdentity(ctx, tx, id)
	})
	return mapErr("save identity of "+id.UserID, err)
}

// ClaimSSOChecks implements store.SSOStore: one UPDATE ... RETURNING in the single writer.
func (s *Store) ClaimSSOChecks(ctx context.Context, before, at time.Time, limit int) ([]store.SSOIdentity, error) {
	var out []store.SSOIdentity
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE sso_identities SET checked_at = ? WHERE user_id IN (
				SELECT i.user_id FROM sso_identities i JOIN users u ON u.id = i.user_id
				WHERE i.sealed_refresh IS NOT NULL AND i.checked_at < ? AND u.disabled_at IS NULL
				ORDER BY i.checked_at LIMIT ?)
			RETURNING `+ssoIdentityColumns, micros(at), micros(before), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			id, err := scanSSOIdentity(rows)
			if err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	return out, mapErr("claim sign-in checks", err)
}

// UpdateSSORefresh implements store.SSOStore.
func (s *Store) UpdateSSORefresh(ctx context.Context, accountID, userID string, old, next []byte, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sso_identities SET sealed_refresh = ?, updated_at = ?
		WHERE account_id = ? AND user_id = ? AND sealed_refresh = ?`, next, micros(at), accountID, userID, old)
	if err != nil {
		return mapErr("update refresh token of "+userID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("update refresh token of %s: replaced meanwhile: %w", userID, store.ErrConflict)
	}
	return nil
}

// DisableSSOUser implements store.SSOStore.
func (s *Store) DisableSSOUser(ctx context.Context, accountID, userID string, used []byte, at time.Time) error {
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		var current []byte
		if err := tx.QueryRowContext(ctx, `SELECT sealed_refresh FROM sso_identities WHERE account_id = ? AND user_id = ?`,
			accountID, userID).Scan(&current); err != nil {
			return err
		}
		if !bytes.Equal(current, used) {
			return fmt.Errorf("the refresh token was replaced meanwhile: %w", store.ErrConflict)
		}
		if err := disableUser(ctx, tx, accountID, userID, at); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE sso_identities SET provider_disabled_at = ?, sealed_refresh = NULL, updated_at = ? WHERE user_id = ?`,
			micros(at), micros(at), userID)
		return err
	})
	return mapErr("disable user "+userID+" for the identity provider", err)
}
