package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/smart-impulse/smartx/internal/store"
)

const siteColumns = `id, account_id, name_index, sealed, created_at, updated_at`

func scanSite(row pgx.Row) (store.Site, error) {
	var s store.Site
	if err := row.Scan(&s.ID, &s.AccountID, &s.NameIndex, &s.Sealed, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return store.Site{}, err
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, nil
}

// CreateSite implements store.SiteStore.
func (s *Store) CreateSite(ctx context.Context, site store.Site) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sites (`+siteColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		site.ID, site.AccountID, site.NameIndex, site.Sealed, site.CreatedAt, site.UpdatedAt)
	return mapErr("create site", err)
}

// Site implements store.SiteStore.
func (s *Store) Site(ctx context.Context, accountID, id string) (store.Site, error) {
	site, err := scanSite(s.pool.QueryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = $1 AND account_id = $2`, id, accountID))
	return site, mapErr("site "+id, err)
}

// conditions builds a WHERE clause with numbered parameters.
type conditions struct {
	where []string
	args  []any
}

// add appends a condition whose ? placeholders take vals in order.
func (c *conditions) add(cond string, vals ...any) {
	for _, v := range vals {
		c.args = append(c.args, v)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(c.args)), 1)
	}
	c.where = append(c.where, cond)
}

func (c *conditions) sql() string { return strings.Join(c.where, " AND ") }

// ListSites implements store.SiteStore. An empty, non-nil IDs matches nothing, as an empty
// restriction must: = ANY of an empty array is false.
func (s *Store) ListSites(ctx context.Context, f store.SiteFilter) ([]store.Site, error) {
	var c conditions
	c.add("account_id = ?", f.AccountID)
	if f.NameIndex != nil {
		c.add("name_index = ?", f.NameIndex)
	}
	if f.IDs != nil {
		c.add("id = ANY(?)", f.IDs)
	}
	return queryAll(ctx, s.pool, "list sites", scanSite, `SELECT `+siteColumns+` FROM sites WHERE `+c.sql()+` ORDER BY created_at, id`, c.args...)
}

// UpdateSite implements store.SiteStore.
func (s *Store) UpdateSite(ctx context.Context, site store.Site) error {
	return s.execOne(ctx, "update site "+site.ID, `UPDATE sites SET name_index = $1, sealed = $2, updated_at = $3 WHERE id = $4 AND account_id = $5`,
		site.NameIndex, site.Sealed, site.UpdatedAt, site.ID, site.AccountID)
}

// DeleteSite implements store.SiteStore. The site is locked first: a device being registered
// in it concurrently either commits before (and is counted) or fails its foreign key after.
func (s *Store) DeleteSite(ctx context.Context, accountID, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM sites WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, accountID).Scan(&one); err != nil {
			return mapErr("delete site "+id, err)
		}
		var inService int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM devices WHERE site_id = $1 AND decommissioned_at IS NULL`, id).Scan(&inService); err != nil {
			return mapErr("delete site "+id, err)
		}
		if inService > 0 {
			return fmt.Errorf("delete site %s: %w", id, &store.SiteNotEmptyError{Devices: inService})
		}
		_, err := tx.Exec(ctx, `DELETE FROM sites WHERE id = $1`, id)
		return mapErr("delete site "+id, err)
	})
}
