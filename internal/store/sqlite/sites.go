package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/smart-impulse/smartx/internal/store"
)

const siteColumns = `id, account_id, name, address, time_zone, created_at, updated_at`

func scanSite(row interface{ Scan(...any) error }) (store.Site, error) {
	var s store.Site
	var created, updated int64
	if err := row.Scan(&s.ID, &s.AccountID, &s.Name, &s.Address, &s.TimeZone, &created, &updated); err != nil {
		return store.Site{}, err
	}
	s.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	return s, nil
}

// CreateSite implements store.SiteStore.
func (s *Store) CreateSite(ctx context.Context, site store.Site) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sites (`+siteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		site.ID, site.AccountID, site.Name, site.Address, site.TimeZone, micros(site.CreatedAt), micros(site.UpdatedAt))
	return mapErr("create site", err)
}

// Site implements store.SiteStore.
func (s *Store) Site(ctx context.Context, accountID, id string) (store.Site, error) {
	site, err := scanSite(s.r.QueryRowContext(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = ? AND account_id = ?`, id, accountID))
	return site, mapErr("site "+id, err)
}

// inList returns "(?, ?, ...)" for n values and appends them to args.
func inList(args []any, values []string) (string, []any) {
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
	if f.Name != "" {
		where, args = append(where, "name = ?"), append(args, f.Name)
	}
	if f.IDs != nil {
		var in string
		in, args = inList(args, f.IDs)
		where = append(where, "id IN "+in)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+siteColumns+` FROM sites WHERE `+strings.Join(where, " AND ")+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, mapErr("list sites", err)
	}
	defer rows.Close()
	out := []store.Site{}
	for rows.Next() {
		site, err := scanSite(rows)
		if err != nil {
			return nil, mapErr("list sites", err)
		}
		out = append(out, site)
	}
	return out, mapErr("list sites", rows.Err())
}

// UpdateSite implements store.SiteStore.
func (s *Store) UpdateSite(ctx context.Context, site store.Site) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sites SET name = ?, address = ?, time_zone = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
		site.Name, site.Address, site.TimeZone, micros(site.UpdatedAt), site.ID, site.AccountID)
	if err != nil {
		return mapErr("update site "+site.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update site %s: %w", site.ID, store.ErrNotFound)
	}
	return nil
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
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete site %s: %w", id, store.ErrNotFound)
		}
		return nil
	})
}
