package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

const preflightColumns = `id, account_id, site_id, user_id, token_id, run_index, generated_at, uploaded_at, size, sealed`

func scanPreflightRun(row interface{ Scan(...any) error }) (store.PreflightRun, error) {
	var r store.PreflightRun
	var generated, uploaded int64
	if err := row.Scan(&r.ID, &r.AccountID, &r.SiteID, &r.UserID, &r.TokenID, &r.RunIndex, &generated, &uploaded, &r.Size, &r.Sealed); err != nil {
		return store.PreflightRun{}, err
	}
	r.GeneratedAt, r.UploadedAt = fromMicros(generated), fromMicros(uploaded)
	return r, nil
}

// CreatePreflightRun implements store.PreflightStore. The INSERT ... SELECT inserts nothing
// when the site is not the account's, which is then ErrNotFound.
func (s *Store) CreatePreflightRun(ctx context.Context, r store.PreflightRun) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO preflight_runs (`+preflightColumns+`)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sites WHERE id = ? AND account_id = ?)`,
		r.ID, r.AccountID, r.SiteID, r.UserID, r.TokenID, r.RunIndex, micros(r.GeneratedAt), micros(r.UploadedAt), r.Size, r.Sealed,
		r.SiteID, r.AccountID)
	if err != nil {
		return mapErr("store preflight run", err)
	}
	return exactlyOne(res, "store preflight run: site "+r.SiteID)
}

// ListPreflightRuns implements store.PreflightStore.
func (s *Store) ListPreflightRuns(ctx context.Context, f store.PreflightFilter) ([]store.PreflightRun, error) {
	where := []string{"account_id = ?", "site_id = ?"}
	args := []any{f.AccountID, f.SiteID}
	if f.RunIndex != nil {
		where, args = append(where, "run_index = ?"), append(args, f.RunIndex)
	}
	limit := ""
	if f.Limit > 0 {
		limit, args = " LIMIT ?", append(args, f.Limit)
	}
	return queryAll(ctx, s.r, "list preflight runs", scanPreflightRun, `SELECT `+preflightColumns+` FROM preflight_runs
		WHERE `+strings.Join(where, " AND ")+` ORDER BY generated_at DESC, uploaded_at DESC, id DESC`+limit, args...)
}

// PurgePreflightRuns implements store.PreflightStore. SQLite has one writer at a time, so
// processes sharing the file purge one after the other.
func (s *Store) PurgePreflightRuns(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM preflight_runs WHERE uploaded_at < ?`, micros(before))
	if err != nil {
		return 0, mapErr("purge preflight runs", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
