package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smart-impulse/smartx/internal/store"
)

const preflightColumns = `id, account_id, site_id, user_id, token_id, run_index, generated_at, uploaded_at, size, sealed`

func scanPreflightRun(row pgx.Row) (store.PreflightRun, error) {
	var r store.PreflightRun
	if err := row.Scan(&r.ID, &r.AccountID, &r.SiteID, &r.UserID, &r.TokenID, &r.RunIndex, &r.GeneratedAt, &r.UploadedAt, &r.Size, &r.Sealed); err != nil {
		return store.PreflightRun{}, err
	}
	r.GeneratedAt, r.UploadedAt = r.GeneratedAt.UTC(), r.UploadedAt.UTC()
	return r, nil
}

// CreatePreflightRun implements store.PreflightStore. The INSERT ... SELECT inserts nothing
// when the site is not the account's, which is then ErrNotFound; a site deleted meanwhile
// fails the foreign key, ErrNotFound too.
func (s *Store) CreatePreflightRun(ctx context.Context, r store.PreflightRun) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO preflight_runs (`+preflightColumns+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM sites WHERE id = $3 AND account_id = $2)`,
		r.ID, r.AccountID, r.SiteID, r.UserID, r.TokenID, r.RunIndex, r.GeneratedAt, r.UploadedAt, r.Size, r.Sealed)
	if err != nil {
		return mapErr("store preflight run", err)
	}
	return exactlyOne(tag, "store preflight run: site "+r.SiteID)
}

// ListPreflightRuns implements store.PreflightStore.
func (s *Store) ListPreflightRuns(ctx context.Context, f store.PreflightFilter) ([]store.PreflightRun, error) {
	var c conditions
	c.add("account_id = ?", f.AccountID)
	c.add("site_id = ?", f.SiteID)
	if f.RunIndex != nil {
		c.add("run_index = ?", f.RunIndex)
	}
	args, limit := c.args, ""
	if f.Limit > 0 {
		args = append(args, f.Limit)
		limit = " LIMIT $" + strconv.Itoa(len(args))
	}
	return queryAll(ctx, s.pool, "list preflight runs", scanPreflightRun, `SELECT `+preflightColumns+` FROM preflight_runs
		WHERE `+c.sql()+` ORDER BY generated_at DESC, uploaded_at DESC, id DESC`+limit, args...)
}

// PurgePreflightRuns implements store.PreflightStore. It takes the audit purge's transaction
// advisory lock: a replica that finds another one purging leaves the work to it.
func (s *Store) PurgePreflightRuns(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(purgeLock)).Scan(&mine); err != nil || !mine {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM preflight_runs WHERE uploaded_at < $1`, before)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, mapErr("purge preflight runs", err)
	}
	return n, nil
}
