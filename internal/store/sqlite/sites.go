package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/smart-impulse/smartx/internal/store"
)

const siteColumns = `id, account_id, name_index, sealed, created_at, updated_at`

func scanSite(row interface{ Scan(...any) error }) (store.Site, error) {
	var s store.Site
	var created, updated int64
	if err := row.Scan(&s.ID, &s.AccountID, &s.NameIndex, &s.Sealed, &created, &updated); err != nil {
		return store.Site{}, err
	}
	s.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	return s, nil
}

// CreateSite implements store.SiteStore.
func (s *Store) CreateSite(ctx context.Context, site store.Site) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sites (`+siteColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		site.ID, site.AccountID, site.NameIndex, site.Sealed, micros(site.CreatedAt), micros(site.UpdatedAt))
	return mapErr("create site", err)
}

// Site implements store.SiteStore.
func (s *Store) Site(ctx context.Context, accountID, id string) (store.Site, error) {
	site, err := scanSite(s.r.QueryRowContext(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = ? AND account_id = ?`, id, accountID))
	return site, mapErr("site "+id, err)
}

// inList returns "(?, ?, ...)" for n values and appends them to args.
func inList[T any](args []any, values []T) (string, []any) {
	if len(values) == 0 {
		return "(NULL)", args // matches nothing, as an empty restriction must
	}
	for _, v := range values {
		args = append(args, v)
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ") + ")", args
}

// ListSites implements store.SiteStore.
func (s *Store) ListSites(ctx context.Context, f store.SiteFilter) ([]store.Site, error) {
	where := []string{"account_id = ?"}
	args := []any{f.AccountID}
	if f.NameIndex != nil {
		where, args = append(where, "name_index = ?"), append(args, f.NameIndex)
	}
	if f.IDs != nil {
		var in string
		in, args = inList(args, f.IDs)
		where = append(where, "id IN "+in)
	}
	return queryAll(ctx, s.r, "list sites", scanSite,
		`SELECT `+siteColumns+` FROM sites WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at, id`, args...)
}

// UpdateSite implements store.SiteStore.
func (s *Store) UpdateSite(ctx context.Context, site store.Site) error {
	return s.execOne(ctx, "update site "+site.ID, `UPDATE sites SET name_index = ?, sealed = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
		site.NameIndex, site.Sealed, micros(site.UpdatedAt), site.ID, site.AccountID)
}

// DeleteSite implements store.SiteStore: the count of devices in service and the delete are one
// transaction, so a device registered meanwhile cannot be deleted with the site.
func (s *Store) DeleteSite(ctx context.Context, accountID, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var inService int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE site_id = ? AND account_id = ? AND decommissioned_at IS NULL`,
			id, accountID).Scan(&inService); err != nil {
			return mapErr("delete site "+id, err)
		}
		if inService > 0 {
			return fmt.Errorf("delete site %s: %w", id, &store.SiteNotEmptyError{Devices: inService})
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sites WHERE id = ? AND account_id = ?`, id, accountID)
		if err != nil {
			return mapErr("delete site "+id, err)
		}
		return exactlyOne(res, "delete site "+id)
	})
}
