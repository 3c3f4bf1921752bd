package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smart-impulse/smartx/internal/store"
)

// AppendAudit implements store.AuditStore: one INSERT of every entry, from arrays. The SELECT
// skips entries whose account was deleted while they waited in the server's buffer, instead of
// failing the whole batch; an account deleted by another process between that check and the
// insert fails the foreign key, and the batch is tried once more, when the check sees it gone.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	var (
		times                                                  = make([]time.Time, n)
		requests, users, tokens, devices, methods, routes, ecs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		accounts                                               = make([]*string, n)
		statuses, counts                                       = make([]int32, n), make([]int32, n)
		latencies                                              = make([]int64, n)
		sources                                                = make([][]byte, n)
	)
	for i, e := range entries {
		times[i], requests[i], accounts[i], users[i], tokens[i] = e.Time, e.RequestID, nullString(e.AccountID), e.UserID, e.TokenID
		devices[i], methods[i], routes[i], statuses[i] = e.DeviceID, e.Method, e.Route, int32(e.Status)
		latencies[i], sources[i], ecs[i], counts[i] = e.Latency.Microseconds(), e.SealedSource, e.ErrorCode, int32(max(e.Count, 1))
		if sources[i] == nil {
			sources[i] = []byte{}
		}
	}
	const insert = `INSERT INTO audit_log
		(time, request_id, account_id, user_id, token_id, device_id, method, route, status, latency_us, sealed_source, error_code, count)
		SELECT e.time, e.request_id, e.account_id, e.user_id, e.token_id, e.device_id, e.method, e.route, e.status,
			e.latency_us, e.sealed_source, e.error_code, e.count FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::int[], $10::bigint[], $11::bytea[], $12::text[], $13::int[])
			WITH ORDINALITY AS e(time, request_id, account_id, user_id, token_id, device_id, method, route, status, latency_us, sealed_source, error_code, count, n)
		WHERE e.account_id IS NULL OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = e.account_id)
		ORDER BY e.n`
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		_, err = s.pool.Exec(ctx, insert, times, requests, accounts, users, tokens, devices, methods, routes, statuses, latencies, sources, ecs, counts)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != codeForeignKeyViolation {
			break
		}
	}
	return mapErr("append audit log", err)
}

// ListAudit implements store.AuditStore with keyset pagination on (time, seq), newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) (store.AuditPage, error) {
	if f.AccountID == "" {
		return store.AuditPage{}, fmt.Errorf("list audit log: an account is required")
	}
	limit := f.PageLimit()
	var c conditions
	c.add("account_id = ?", f.AccountID)
	if !f.From.IsZero() {
		c.add("time >= ?", f.From)
	}
	if !f.To.IsZero() {
		c.add("time < ?", f.To)
	}
	if f.UserID != "" {
		c.add("user_id = ?", f.UserID)
	}
	if f.DeviceID != "" {
		c.add("device_id = ?", f.DeviceID)
	}
	if f.Status != 0 {
		c.add("status = ?", f.Status)
	}
	if f.StatusClass != 0 {
		c.add("status >= ? AND status < ?", f.StatusClass*100, f.StatusClass*100+100)
	}
	if f.Cursor != "" {
		t, seq, err := store.DecodeAuditCursor(f.Cursor)
		if err != nil {
			return store.AuditPage{}, fmt.Errorf("list audit log: %w", err)
		}
		c.add("(time, seq) < (?, ?)", t, seq)
	}
	args := append(c.args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT seq, time, request_id, COALESCE(account_id, ''), user_id, token_id, method, route,
		status, latency_us, sealed_source, error_code, device_id, count FROM audit_log WHERE `+c.sql()+`
		ORDER BY time DESC, seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return store.AuditPage{}, mapErr("list audit log", err)
	}
	defer rows.Close()
	page := store.AuditPage{Entries: []store.AuditEntry{}}
	var seq, prevSeq int64
	for rows.Next() {
		var e store.AuditEntry
		var latency int64
		if err := rows.Scan(&seq, &e.Time, &e.RequestID, &e.AccountID, &e.UserID, &e.TokenID, &e.Method, &e.Route,
			&e.Status, &latency, &e.SealedSource, &e.ErrorCode, &e.DeviceID, &e.Count); err != nil {
			return store.AuditPage{}, mapErr("list audit log", err)
		}
		e.Time, e.Latency = e.Time.UTC(), time.Duration(latency)*time.Microsecond
		if len(page.Entries) == limit { // the extra row only proves there is a next page
			page.NextCursor = store.EncodeAuditCursor(page.Entries[limit-1].Time, prevSeq)
			break
		}
		prevSeq = seq
		page.Entries = append(page.Entries, e)
	}
	return page, mapErr("list audit log", rows.Err())
}

// PurgeAudit implements store.AuditStore. Every replica runs the purge on its schedule; the one
// that finds another purging leaves the work to it (a transaction advisory lock), so the rows
// are deleted once, not raced over.
func (s *Store) PurgeAudit(ctx context.Context, okBefore, errBefore time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(purgeLock)).Scan(&mine); err != nil || !mine {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE (status < 400 AND time < $1) OR time < $2`, okBefore, errBefore)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, mapErr("purge audit log", err)
	}
	return n, nil
}
