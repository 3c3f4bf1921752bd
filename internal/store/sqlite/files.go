package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

// Statements of the ingest path, prepared once on the writer connection: a file of n channels
// costs n+3 statements and a commit, with no parsing of SQL.
const (
	checkIngestSQL = `SELECT d.decommissioned_at IS NOT NULL,
		EXISTS (SELECT 1 FROM data_files f WHERE f.device_id = d.id AND f.sequence = ?1)
		FROM devices d WHERE d.id = ?2 AND d.account_id = ?3`
	updateDeviceStatsSQL = `UPDATE devices SET
		last_contact_at = MAX(COALESCE(last_contact_at, 0), ?1), last_upload_at = ?1,
		files = files + 1, readings = readings + ?2,
		last_sequence = CASE WHEN last_sequence IS NULL OR ?3 > last_sequence THEN ?3 ELSE last_sequence END,
		first_reading = CASE WHEN ?4 IS NULL THEN first_reading ELSE MIN(COALESCE(first_reading, ?4), ?4) END,
		last_reading = CASE WHEN ?5 IS NULL THEN last_reading ELSE MAX(COALESCE(last_reading, ?5), ?5) END,
		max_span_ms = MAX(max_span_ms, ?6)
		WHERE id = ?7`
	insertFileSQL = `INSERT INTO data_files (device_id, sequence, sha256, size, key_id, readings, first_reading, last_reading,
		interval_ms, gaps, created_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertSegmentSQL = `INSERT INTO segments (device_id, t_min, file_sequence, channel_index, part, t_max, count, channel_tag,
		sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// ingestStmts are the prepared statements of StoreFile.
type ingestStmts struct {
	check, updateStats, insertFile, insertSegment *sql.Stmt
}

func (s *Store) prepareIngest(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.ingest.check, checkIngestSQL}, {&s.ingest.updateStats, updateDeviceStatsSQL},
		{&s.ingest.insertFile, insertFileSQL}, {&s.ingest.insertSegment, insertSegmentSQL},
	} {
		var err error
		if *p.stmt, err = s.w.PrepareContext(ctx, p.sql); err != nil {
			return err
		}
	}
	return nil
}

func (st *ingestStmts) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{st.check, st.updateStats, st.insertFile, st.insertSegment} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}

func nullMillis(valid bool, ms int64) sql.NullInt64 { return sql.NullInt64{Int64: ms, Valid: valid} }

// segmentSink inserts the segments of one file inside StoreFile's transaction.
type segmentSink struct {
	ctx      context.Context
	stmt     *sql.Stmt
	deviceID string
	sequence int64
	span     int64 // the longest segment so far
}

// Add implements store.SegmentSink.
func (k *segmentSink) Add(sg *store.Segment) error {
	if err := store.CheckSegment(sg); err != nil {
		return err
	}
	k.span = max(k.span, sg.TMax-sg.TMin)
	_, err := k.stmt.ExecContext(k.ctx, k.deviceID, sg.TMin, k.sequence, sg.ChannelIndex, sg.Part, sg.TMax, sg.Count,
		sg.ChannelTag, sg.Sealed)
	return err
}

// errDecode marks an error of the caller's decode function, returned unchanged.
type errDecode struct{ err error }

func (e errDecode) Error() string { return e.err.Error() }

// StoreFile implements store.FileStore.
func (s *Store) StoreFile(ctx context.Context, accountID, deviceID string, sequence uint64, decode func(store.SegmentSink) (store.DataFile, error)) error {
	what := fmt.Sprintf("store file %d of device %s", sequence, deviceID)
	if sequence > math.MaxInt64 {
		return fmt.Errorf("%s: sequence over %d", what, int64(math.MaxInt64))
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var decommissioned, exists bool
		if err := tx.StmtContext(ctx, s.ingest.check).QueryRowContext(ctx, int64(sequence), deviceID, accountID).Scan(&decommissioned, &exists); err != nil {
			return err
		}
		switch {
		case decommissioned:
			return store.ErrDecommissioned
		case exists:
			return store.ErrConflict
		}
		sink := &segmentSink{ctx: ctx, stmt: tx.StmtContext(ctx, s.ingest.insertSegment), deviceID: deviceID, sequence: int64(sequence)}
		f, err := decode(sink)
		if err != nil {
			return errDecode{err}
		}
		has := f.Readings > 0
		if _, err := tx.StmtContext(ctx, s.ingest.insertFile).ExecContext(ctx, deviceID, int64(sequence), f.SHA256, f.Size, f.KeyID,
			f.Readings, nullMillis(has, f.FirstReading), nullMillis(has, f.LastReading), f.Interval.Milliseconds(),
			store.EncodeGaps(f.Gaps), micros(f.CreatedAt), micros(f.ReceivedAt)); err != nil {
			return err
		}
		_, err = tx.StmtContext(ctx, s.ingest.updateStats).ExecContext(ctx, micros(f.ReceivedAt), f.Readings, int64(sequence),
			nullMillis(has, f.FirstReading), nullMillis(has, f.LastReading), sink.span, deviceID)
		return err
	})
	var de errDecode
	if errors.As(err, &de) {
		return de.err
	}
	return mapErr(what, err)
}

const fileColumns = `device_id, sequence, sha256, size, key_id, readings, first_reading, last_reading, interval_ms, gaps, created_at, received_at`

func scanFile(row interface{ Scan(...any) error }) (store.DataFile, error) {
	var f store.DataFile
	var seq, interval, created, received int64
	var first, last sql.NullInt64
	var gaps []byte
	if err := row.Scan(&f.DeviceID, &seq, &f.SHA256, &f.Size, &f.KeyID, &f.Readings, &first, &last, &interval, &gaps, &created, &received); err != nil {
		return store.DataFile{}, err
	}
	var err error
	if f.Gaps, err = store.DecodeGaps(gaps); err != nil {
		return store.DataFile{}, fmt.Errorf("file %d: %w", seq, err)
	}
	f.Sequence, f.FirstReading, f.LastReading = uint64(seq), first.Int64, last.Int64
	f.Interval = time.Duration(interval) * time.Millisecond
	f.CreatedAt, f.ReceivedAt = fromMicros(created), fromMicros(received)
	return f, nil
}

// DataFile implements store.FileStore.
func (s *Store) DataFile(ctx context.Context, accountID, deviceID string, sequence uint64) (store.DataFile, error) {
	if sequence > math.MaxInt64 {
		return store.DataFile{}, fmt.Errorf("file %d of device %s: %w", sequence, deviceID, store.ErrNotFound)
	}
	f, err := scanFile(s.fileStmt.QueryRowContext(ctx, deviceID, int64(sequence), accountID))
	return f, mapErr(fmt.Sprintf("file %d of device %s", sequence, deviceID), err)
}

// checkDevice fails with ErrNotFound unless the device is the account's.
func (s *Store) checkDevice(ctx context.Context, accountID, deviceID string) error {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM devices WHERE id = ? AND account_id = ?`, deviceID, accountID).Scan(&one)
	return mapErr("device "+deviceID, err)
}

// ListDataFiles implements store.FileStore. fn runs while the rows are read: it must not block.
func (s *Store) ListDataFiles(ctx context.Context, accountID, deviceID string, fn func(store.DataFile) error) error {
	if err := s.checkDevice(ctx, accountID, deviceID); err != nil {
		return err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+fileColumns+` FROM data_files WHERE device_id = ? ORDER BY sequence`, deviceID)
	if err != nil {
		return mapErr("list files of device "+deviceID, err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return mapErr("list files of device "+deviceID, err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return mapErr("list files of device "+deviceID, rows.Err())
}

// ReportLosses implements store.FileStore.
func (s *Store) ReportLosses(ctx context.Context, accountID, deviceID string, losses []store.Loss, at time.Time) (int, error) {
	var added int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET last_contact_at = MAX(COALESCE(last_contact_at, 0), ?) WHERE id = ? AND account_id = ?`,
			micros(at), deviceID, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO device_losses (device_id, first_sequence, last_sequence, from_time, to_time, files,
			reason, reported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, first_sequence) DO UPDATE SET
			last_sequence = excluded.last_sequence, to_time = excluded.to_time, files = excluded.files
			WHERE excluded.last_sequence > device_losses.last_sequence`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, l := range losses {
			if l.FirstSequence > math.MaxInt64 || l.LastSequence > math.MaxInt64 {
				return fmt.Errorf("loss sequence over %d", int64(math.MaxInt64))
			}
			res, err := stmt.ExecContext(ctx, deviceID, int64(l.FirstSequence), int64(l.LastSequence), micros(l.From), micros(l.To),
				l.Files, l.Reason, micros(at))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			added += int(n)
		}
		return nil
	})
	return added, mapErr("report losses of device "+deviceID, err)
}

// ListLosses implements store.FileStore.
func (s *Store) ListLosses(ctx context.Context, accountID, deviceID string) ([]store.Loss, error) {
	if err := s.checkDevice(ctx, accountID, deviceID); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT first_sequence, last_sequence, from_time, to_time, files, reason, reported_at
		FROM device_losses WHERE device_id = ? ORDER BY first_sequence`, deviceID)
	if err != nil {
		return nil, mapErr("losses of device "+deviceID, err)
	}
	defer rows.Close()
	out := []store.Loss{}
	for rows.Next() {
		l := store.Loss{DeviceID: deviceID}
		var first, last, from, to, reported int64
		if err := rows.Scan(&first, &last, &from, &to, &l.Files, &l.Reason, &reported); err != nil {
			return nil, mapErr("losses of device "+deviceID, err)
		}
		l.FirstSequence, l.LastSequence = uint64(first), uint64(last)
		l.From, l.To, l.ReportedAt = fromMicros(from), fromMicros(to), fromMicros(reported)
		out = append(out, l)
	}
	return out, mapErr("losses of device "+deviceID, rows.Err())
}

// segmentBatch and segmentBatchBytes bound what one query of ScanSegments reads: the batch is
// copied out and its query closed before the callback sees it, so a slow consumer (a client
// downloading an export) never holds a read transaction, which would keep the WAL from being
// checkpointed, and memory stays under about a megabyte whatever the range.
const (
	segmentBatch      = 512
	segmentBatchBytes = 1 << 20
)

// ScanSegments implements store.ReadingStore with keyset pagination on the primary key.
func (s *Store) ScanSegments(ctx context.Context, q store.SegmentQuery, fn func(*store.Segment) error) error {
	if q.From >= q.To {
		return nil
	}
	var span int64
	err := s.r.QueryRowContext(ctx, `SELECT max_span_ms FROM devices WHERE id = ? AND account_id = ?`, q.DeviceID, q.AccountID).Scan(&span)
	if err != nil {
		return mapErr("readings of device "+q.DeviceID, err)
	}
	// A segment overlapping [From, To) starts at most span before From.
	lower := q.From - span
	if q.From < math.MinInt64+span {
		lower = math.MinInt64
	}
	args := []any{q.DeviceID, lower, q.To, q.From}
	where := `device_id = ? AND t_min >= ? AND t_min < ? AND t_max >= ?`
	if len(q.ChannelTags) > 0 {
		var in string
		in, args = inList(args, q.ChannelTags)
		where += ` AND channel_tag IN ` + in
	}
	const columns = `t_min, file_sequence, channel_index, part, t_max, count, channel_tag, sealed`
	const order = ` ORDER BY t_min, file_sequence, channel_index, part LIMIT ?`
	first := `SELECT ` + columns + ` FROM segments WHERE ` + where + order
	next := `SELECT ` + columns + ` FROM segments WHERE ` + where + ` AND (t_min, file_sequence, channel_index, part) > (?, ?, ?, ?)` + order

	var batch store.SegmentBatch
	var lastT, lastSeq, lastCh, lastPart int64
	for page := 0; ; page++ {
		var rows *sql.Rows
		if page == 0 {
			rows, err = s.r.QueryContext(ctx, first, append(args, segmentBatch)...)
		} else {
			rows, err = s.r.QueryContext(ctx, next, append(args, lastT, lastSeq, lastCh, lastPart, segmentBatch)...)
		}
		if err != nil {
			return mapErr("readings of device "+q.DeviceID, err)
		}
		batch.Reset()
		full := false
		for !full && rows.Next() {
			var sg store.Segment
			var seq int64
			var tag, sealed sql.RawBytes
			if err := rows.Scan(&sg.TMin, &seq, &sg.ChannelIndex, &sg.Part, &sg.TMax, &sg.Count, &tag, &sealed); err != nil {
				rows.Close()
				return mapErr("readings of device "+q.DeviceID, err)
			}
			sg.FileSequence = uint64(seq)
			batch.Add(sg, tag, sealed)
			full = batch.Len() == segmentBatch || batch.Bytes() >= segmentBatchBytes
		}
		err := rows.Err()
		rows.Close()
		if err != nil {
			return mapErr("readings of device "+q.DeviceID, err)
		}
		if err := batch.Deliver(fn); err != nil {
			return err
		}
		if !full {
			return nil
		}
		last := batch.Last()
		lastT, lastSeq, lastCh, lastPart = last.TMin, int64(last.FileSequence), int64(last.ChannelIndex), int64(last.Part)
	}
}
