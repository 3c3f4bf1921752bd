package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

// AppendAudit implements store.AuditStore. The INSERT ... SELECT skips entries whose account was
// deleted while they waited in the server's buffer, instead of failing the whole batch.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_log
			(time, request_id, account_id, user_id, token_id, method, route, status, latency_us, sealed_source, error_code, device_id, count)
			SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
			WHERE ?3 IS NULL OR EXISTS (SELECT 1 FROM accounts WHERE id = ?3)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, micros(e.Time), e.RequestID, nullString(e.AccountID), e.UserID, e.TokenID,
				e.Method, e.Route, e.Status, e.Latency.Microseconds(), e.SealedSource, e.ErrorCode, e.DeviceID, max(e.Count, 1)); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr("append audit log", err)
}

// ListAudit implements store.AuditStore with keyset pagination on (time, seq), newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) (store.AuditPage, error) {
	if f.AccountID == "" {
		return store.AuditPage{}, fmt.Errorf("list audit log: an account is required")
	}
	limit := f.PageLimit()
	where := []string{"account_id = ?"}
	args := []any{f.AccountID}
	if !f.From.IsZero() {
		where, args = append(where, "time >= ?"), append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "time < ?"), append(args, micros(f.To))
	}
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.DeviceID != "" {
		where, args = append(where, "device_id = ?"), append(args, f.DeviceID)
	}
	if f.Status != 0 {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.StatusClass != 0 {
		where, args = append(where, "status >= ? AND status < ?"), append(args, f.StatusClass*100, f.StatusClass*100+100)
	}
	if f.Cursor != "" {
		t, seq, err := store.DecodeAuditCursor(f.Cursor)
		if err != nil {
			return store.AuditPage{}, fmt.Errorf("list audit log: %w", err)
		}
		where, args = append(where, "(time < ? OR (time = ? AND seq < ?))"), append(args, micros(t), micros(t), seq)
	}
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, `SELECT seq, time, request_id, COALESCE(account_id, ''), user_id, token_id, method, route,
		status, latency_us, sealed_source, error_code, device_id, count FROM audit_log WHERE `+strings.Join(where, " AND ")+`
		ORDER BY time DESC, seq DESC LIMIT ?`, args...)
	if err != nil {
		return store.AuditPage{}, mapErr("list audit log", err)
	}
	defer rows.Close()
	page := store.AuditPage{Entries: []store.AuditEntry{}}
	var seq, prevSeq int64
	for rows.Next() {
		var e store.AuditEntry
		var t, latency int64
		if err := rows.Scan(&seq, &t, &e.RequestID, &e.AccountID, &e.UserID, &e.TokenID, &e.Method, &e.Route,
			&e.Status, &latency, &e.SealedSource, &e.ErrorCode, &e.DeviceID, &e.Count); err != nil {
			return store.AuditPage{}, mapErr("list audit log", err)
		}
		e.Time, e.Latency = fromMicros(t), time.Duration(latency)*time.Microsecond
		if len(page.Entries) == limit { // the extra row only proves there is a next page
			last := page.Entries[limit-1]
			page.NextCursor = store.EncodeAuditCursor(last.Time, prevSeq)
			break
		}
		prevSeq = seq
		page.Entries = append(page.Entries, e)
	}
	return page, mapErr("list audit log", rows.Err())
}

// PurgeAudit implements store.AuditStore.
func (s *Store) PurgeAudit(ctx context.Context, okBefore, errBefore time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM audit_log WHERE (status < 400 AND time < ?) OR time < ?`,
		micros(okBefore), micros(errBefore))
	if err != nil {
		return 0, mapErr("purge audit log", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
