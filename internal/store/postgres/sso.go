package postgres

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smart-impulse/smartx/internal/store"
)

const ssoLinkColumns = `l.account_id, l.sealed, l.sealed_secret, l.require_sso, l.break_glass_user_id, l.created_at, l.updated_at`

func scanSSOLink(row pgx.Row) (store.SSOLink, error) {
	var l store.SSOLink
	var breakGlass *string
	if err := row.Scan(&l.AccountID, &l.Sealed, &l.SealedSecret, &l.RequireSSO, &breakGlass, &l.CreatedAt, &l.UpdatedAt); err != nil {
		return store.SSOLink{}, err
	}
	if breakGlass != nil {
		l.BreakGlassUserID = *breakGlass
	}
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return l, nil
}

// SetSSOLink implements store.SSOStore.
func (s *Store) SetSSOLink(ctx context.Context, l store.SSOLink, domainIndexes [][]byte) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if l.BreakGlassUserID != "" {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 AND account_id = $2`, l.BreakGlassUserID, l.AccountID).Scan(&one); err != nil {
				return mapErr("break-glass user "+l.BreakGlassUserID, err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO sso_links (account_id, sealed, sealed_secret, require_sso, break_glass_user_id, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed, sealed_secret = excluded.sealed_secret,
				require_sso = excluded.require_sso, break_glass_user_id = excluded.break_glass_user_id, updated_at = excluded.updated_at`,
			l.AccountID, l.Sealed, l.SealedSecret, l.RequireSSO, nullString(l.BreakGlassUserID), l.CreatedAt, l.UpdatedAt)
		if err != nil {
			return mapErr("account "+l.AccountID, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sso_domains WHERE account_id = $1`, l.AccountID); err != nil {
			return err
		}
		for _, d := range domainIndexes {
			if _, err := tx.Exec(ctx, `INSERT INTO sso_domains (domain_index, account_id) VALUES ($1, $2)`, d, l.AccountID); err != nil {
				return mapErr("a domain signs in to another account", err)
			}
		}
		return nil
	})
	return mapErr("set single sign-on of "+l.AccountID, err)
}

// SSOLink implements store.SSOStore.
func (s *Store) SSOLink(ctx context.Context, accountID string) (store.SSOLink, error) {
	l, err := scanSSOLink(s.pool.QueryRow(ctx, `SELECT `+ssoLinkColumns+` FROM sso_links l WHERE l.account_id = $1`, accountID))
	return l, mapErr("single sign-on of "+accountID, err)
}

// SSOLinkByDomain implements store.SSOStore.
func (s *Store) SSOLinkByDomain(ctx context.Context, domainIndex []byte) (store.SSOLink, error) {
	l, err := scanSSOLink(s.pool.QueryRow(ctx, `SELECT `+ssoLinkColumns+` FROM sso_domains d JOIN sso_links l ON l.account_id = d.account_id
		WHERE d.domain_index = $1`, domainIndex))
	return l, mapErr("single sign-on by domain", err)
}

// ssoTables hold the sealed client secret, the domains' blind indexes and the identities:
// small, and rewritten after a link is removed, as the key tables after a deletion.
var ssoTables = []string{"sso_links", "sso_domains", "sso_identities"}

// DeleteSSOLink implements store.SSOStore: the foreign keys cascade to the domains and
// identities; then the tables are rewritten.
func (s *Store) DeleteSSOLink(ctx context.Context, accountID string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sso_links WHERE account_id = $1`, accountID)
		if err != nil {
			return err
		}
		return exactlyOne(tag, "no single sign-on")
	})
	if err != nil {
		return mapErr("remove single sign-on of "+accountID, err)
	}
	return s.vacuum(ctx, "remove single sign-on of "+accountID, ssoTables, nil)
}

const ssoIdentityColumns = `account_id, user_id, subject_index, sealed_refresh, checked_at, provider_disabled_at, created_at, updated_at`

func scanSSOIdentity(row pgx.Row) (store.SSOIdentity, error) {
	var id store.SSOIdentity
	var disabled *time.Time
	if err := row.Scan(&id.AccountID, &id.UserID, &id.SubjectIndex, &id.SealedRefresh, &id.CheckedAt, &disabled, &id.CreatedAt, &id.UpdatedAt); err != nil {
		return store.SSOIdentity{}, err
	}
	id.ProviderDisabledAt = fromNull(disabled)
	id.CheckedAt, id.CreatedAt, id.UpdatedAt = id.CheckedAt.UTC(), id.CreatedAt.UTC(), id.UpdatedAt.UTC()
	return id, nil
}

func insertSSOIdentity(ctx context.Context, tx pgx.Tx, id store.SSOIdentity) error {
	_, err := tx.Exec(ctx, `INSERT INTO sso_identities (`+ssoIdentityColumns+`) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET subject_index = excluded.subject_index, sealed_refresh = excluded.sealed_refresh,
			checked_at = excluded.checked_at, provider_disabled_at = NULL, updated_at = excluded.updated_at`,
		id.AccountID, id.UserID, id.SubjectIndex, id.SealedRefresh, id.CheckedAt, id.CreatedAt, id.UpdatedAt)
	return err
}

// CreateSSOUser implements store.SSOStore.
func (s *Store) CreateSSOUser(ctx context.Context, u store.User, id store.SSOIdentity) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			u.ID, u.AccountID, u.EmailIndex, u.SealedEmail, string(u.Role), u.PasswordHash, nullTime(u.DisabledAt),
			u.TOTP.SealedSecret, nullTime(u.TOTP.EnabledAt), u.TOTP.LastStep, u.CreatedAt, u.UpdatedAt); err != nil {
			return err
		}
		id.AccountID, id.UserID = u.AccountID, u.ID
		return insertSSOIdentity(ctx, tx, id)
	})
	return mapErr("create user at sign-in", err)
}

// SSOIdentity implements store.SSOStore.
func (s *Store) SSOIdentity(ctx context.Context, accountID, userID string) (store.SSOIdentity, error) {
	id, err := scanSSOIdentity(s.pool.QueryRow(ctx, `SELECT `+ssoIdentityColumns+` FROM sso_identities WHERE account_id = $1 AND user_id = $2`,
		accountID, userID))
	return id, mapErr("identity of "+userID, err)
}

// SSOIdentityBySubject implements store.SSOStore.
func (s *Store) SSOIdentityBySubject(ctx context.Context, accountID string, subjectIndex []byte) (store.SSOIdentity, error) {
	id, err := scanSSOIdentity(s.pool.QueryRow(ctx, `SELECT `+ssoIdentityColumns+` FROM sso_identities WHERE account_id = $1 AND subject_index = $2`,
		accountID, subjectIndex))
	return id, mapErr("identity by subject", err)
}

// SaveSSOIdentity implements store.SSOStore. The user's row is locked first, so a concurrent
// DisableUser (an owner's decision) is ordered with the re-enabling.
func (s *Store) SaveSSOIdentity(ctx context.Context, id store.SSOIdentity) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 AND account_id = $2 FOR UPDATE`, id.UserID, id.AccountID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET disabled_at = NULL, updated_at = $1 WHERE id = $2 AND disabled_at IS NOT NULL
			AND EXISTS (SELECT 1 FROM sso_identities WHERE user_id = $2 AND provider_disabled_at IS NOT NULL)`,
			id.UpdatedAt, id.UserID); err != nil {
			return err
		}
		return insertSSOIdentity(ctx, tx, id)
	})
	return mapErr("save identity of "+id.UserID, err)
}

// ClaimSSOChecks implements store.SSOStore: rows another process is claiming are skipped
// (SKIP LOCKED), and the outer condition is checked again on the locked rows.
func (s *Store) ClaimSSOChecks(ctx context.Context, before, at time.Time, limit int) ([]store.SSOIdentity, error) {
	return queryAll(ctx, s.pool, "claim sign-in checks", scanSSOIdentity, `UPDATE sso_identities SET checked_at = $1 WHERE user_id IN (
			SELECT i.user_id FROM sso_identities i JOIN users u ON u.id = i.user_id
			WHERE i.sealed_refresh IS NOT NULL AND i.checked_at < $2 AND u.disabled_at IS NULL
			ORDER BY i.checked_at LIMIT $3 FOR UPDATE OF i SKIP LOCKED)
		AND checked_at < $2
		RETURNING `+ssoIdentityColumns, at, before, limit)
}

// UpdateSSORefresh implements store.SSOStore.
func (s *Store) UpdateSSORefresh(ctx context.Context, accountID, userID string, old, next []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sso_identities SET sealed_refresh = $1, updated_at = $2
		WHERE account_id = $3 AND user_id = $4 AND sealed_refresh = $5`, next, at, accountID, userID, old)
	if err != nil {
		return mapErr("update refresh token of "+userID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("update refresh token of %s: replaced meanwhile: %w", userID, store.ErrConflict)
	}
	return nil
}

// DisableSSOUser implements store.SSOStore.
func (s *Store) DisableSSOUser(ctx context.Context, accountID, userID string, used []byte, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var current []byte
		if err := tx.QueryRow(ctx, `SELECT sealed_refresh FROM sso_identities WHERE account_id = $1 AND user_id = $2 FOR UPDATE`,
			accountID, userID).Scan(&current); err != nil {
			return err
		}
		if !bytes.Equal(current, used) {
			return fmt.Errorf("the refresh token was replaced meanwhile: %w", store.ErrConflict)
		}
		if err := disableUser(ctx, tx, accountID, userID, at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE sso_identities SET provider_disabled_at = $1, sealed_refresh = NULL, updated_at = $1 WHERE user_id = $2`,
			at, userID)
		return err
	})
	return mapErr("disable user "+userID+" for the identity provider", err)
}
