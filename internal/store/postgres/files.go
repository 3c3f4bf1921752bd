package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smart-impulse/smartx/internal/store"
)

// The ingest path. A file whose segments fit in one flush (an hourly file has 7) is decoded
// before the database is asked anything and stored in one round trip: one pipelined batch that
// opens the transaction, locks the device, inserts the file record, its segments and the
// device's new totals, and commits. The inserts only take place while the device is in
// service, so a decommissioned device's upload changes nothing; a sequence already taken
// fails the file record's unique key, which aborts the transaction. A larger file opens the
// transaction, locks the device and checks the sequence (one round trip) before its first
// piece is sent. Either way the device's row lock is what makes a file stored once when two
// processes receive it together: the second waits for the first to commit, then finds the
// sequence taken.
const (
	checkIngestSQL = `SELECT d.decommissioned_at IS NOT NULL FROM devices d WHERE d.id = $1 AND d.account_id = $2 FOR NO KEY UPDATE`
	// A statement of its own, so that its snapshot is taken after the lock was granted.
	sequenceTakenSQL = `SELECT EXISTS (SELECT 1 FROM data_files WHERE device_id = $1 AND sequence = $2)`
	// inService10 and inService13 are the condition of every write of the one-round-trip
	// path: the device ($1) belongs to the account (the statement's last parameter) and is in
	// service.
	updateDeviceStatsSQL = `UPDATE devices SET
		last_contact_at = GREATEST(last_contact_at, $1), last_upload_at = $1,
		files = files + 1, readings = readings + $2,
		last_sequence = GREATEST(last_sequence, $3),
		first_reading = LEAST(first_reading, $4),
		last_reading = GREATEST(last_reading, $5),
		max_span_ms = GREATEST(max_span_ms, $6)
		WHERE id = $7 AND account_id = $8 AND decommissioned_at IS NULL`
	insertFileSQL = `INSERT INTO data_files (device_id, sequence, sha256, size, key_id, readings, first_reading, last_reading,
		interval_ms, gaps, created_at, received_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 WHERE ` + inService13
	// One statement for a whole flush of segments, from arrays.
	insertSegmentsSQL = `INSERT INTO segments (device_id, t_min, file_sequence, channel_index, part, t_max, count, channel_tag, sealed)
		SELECT $1, t_min, $2, channel_index, part, t_max, count, channel_tag, sealed
		FROM unnest($3::bigint[], $4::int[], $5::int[], $6::bigint[], $7::int[], $8::bytea[], $9::bytea[])
			AS s(t_min, channel_index, part, t_max, count, channel_tag, sealed)
		WHERE ` + inService10
	inService10 = `EXISTS (SELECT 1 FROM devices WHERE id = $1 AND account_id = $10 AND decommissioned_at IS NULL)`
	inService13 = `EXISTS (SELECT 1 FROM devices WHERE id = $1 AND account_id = $13 AND decommissioned_at IS NULL)`
)

// Flush thresholds of the segment sink: a file's segments are sent in pieces of at most this
// many or this many bytes, so memory stays bounded whatever the file's size.
const (
	sinkFlushSegments = 4096
	sinkFlushBytes    = 4 << 20
)

// segmentSink gathers the segments of one file and sends them inside StoreFile's transaction.
type segmentSink struct {
	ctx       context.Context
	conn      *pgx.Conn
	copy      bool // COPY instead of an INSERT from arrays
	accountID string
	deviceID  string
	sequence  int64
	span      int64 // the longest segment so far
	// begin opens the transaction and checks the device and sequence before the first piece
	// of a file too large for one flush is sent; opened says it ran.
	begin  func() error
	opened bool

	tMin, tMax        []int64
	channel, part     []int32
	count             []int32
	tagLen, sealedLen []int
	tag, sealed       [][]byte // into arena, set by pending
	arena             []byte
}

// Add implements store.SegmentSink: it copies the segment (the caller may reuse its slices).
func (k *segmentSink) Add(sg *store.Segment) error {
	if err := store.CheckSegment(sg); err != nil {
		return err
	}
	k.span = max(k.span, sg.TMax-sg.TMin)
	if len(k.tMin) == sinkFlushSegments || len(k.arena)+len(sg.ChannelTag)+len(sg.Sealed) > sinkFlushBytes && len(k.tMin) > 0 {
		if err := k.flush(); err != nil {
			return err
		}
	}
	k.tMin, k.tMax = append(k.tMin, sg.TMin), append(k.tMax, sg.TMax)
	k.channel, k.part, k.count = append(k.channel, int32(sg.ChannelIndex)), append(k.part, int32(sg.Part)), append(k.count, int32(sg.Count))
	// The arena may move as it grows: the slices into it are taken when the segments are sent.
	k.arena = append(k.arena, sg.ChannelTag...)
	k.arena = append(k.arena, sg.Sealed...)
	k.tagLen, k.sealedLen = append(k.tagLen, len(sg.ChannelTag)), append(k.sealedLen, len(sg.Sealed))
	return nil
}

// pending points tag and sealed into the arena and returns how many segments wait.
func (k *segmentSink) pending() int {
	k.tag, k.sealed = k.tag[:0], k.sealed[:0]
	off := 0
	for i, n := range k.tagLen {
		m := k.sealedLen[i]
		k.tag = append(k.tag, k.arena[off:off+n:off+n])
		k.sealed = append(k.sealed, k.arena[off+n:off+n+m:off+n+m])
		off += n + m
	}
	return len(k.tMin)
}

func (k *segmentSink) reset() {
	k.tMin, k.tMax, k.channel, k.part, k.count = k.tMin[:0], k.tMax[:0], k.channel[:0], k.part[:0], k.count[:0]
	k.tagLen, k.sealedLen, k.tag, k.sealed, k.arena = k.tagLen[:0], k.sealedLen[:0], k.tag[:0], k.sealed[:0], k.arena[:0]
}

// queue adds the pending segments' insert to a batch (the INSERT path); the caller resets the
// sink once the batch has run.
func (k *segmentSink) queue(b *pgx.Batch) {
	if k.pending() == 0 {
		return
	}
	b.Queue(insertSegmentsSQL, k.deviceID, k.sequence, k.tMin, k.channel, k.part, k.tMax, k.count, k.tag, k.sealed, k.accountID)
}

// flush sends the pending segments now, in the middle of a file.
func (k *segmentSink) flush() error {
	if k.pending() == 0 {
		return nil
	}
	if !k.opened {
		k.opened = true
		if err := k.begin(); err != nil {
			return stopError{err}
		}
	}
	var err error
	if k.copy {
		_, err = k.conn.CopyFrom(k.ctx, pgx.Identifier{"segments"},
			[]string{"device_id", "t_min", "file_sequence", "channel_index", "part", "t_max", "count", "channel_tag", "sealed"},
			&segmentRows{k: k, i: -1})
	} else {
		var b pgx.Batch
		k.queue(&b)
		err = k.conn.SendBatch(k.ctx, &b).Close()
	}
	k.reset()
	return err
}

// segmentRows feeds the pending segments to COPY.
type segmentRows struct {
	k   *segmentSink
	i   int
	row [9]any
}

func (r *segmentRows) Next() bool { r.i++; return r.i < len(r.k.tMin) }
func (r *segmentRows) Err() error { return nil }
func (r *segmentRows) Values() ([]any, error) {
	k, i := r.k, r.i
	r.row = [9]any{k.deviceID, k.tMin[i], k.sequence, k.channel[i], k.part[i], k.tMax[i], k.count[i], k.tag[i], k.sealed[i]}
	return r.row[:], nil
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
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return mapErr(what, err)
	}
	defer conn.Release()
	err = s.storeFile(ctx, conn, accountID, deviceID, int64(sequence), decode)
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		// Roll back whatever is open; a connection that cannot is closed, not reused.
		if _, rerr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}
	var de errDecode
	if errors.As(err, &de) {
		return de.err
	}
	return mapErr(what, err)
}

func (s *Store) storeFile(ctx context.Context, conn *pgxpool.Conn, accountID, deviceID string, sequence int64, decode func(store.SegmentSink) (store.DataFile, error)) error {
	sink := &segmentSink{ctx: ctx, conn: conn.Conn(), copy: s.ingestCopy, accountID: accountID, deviceID: deviceID, sequence: sequence,
		begin: func() error { return openIngest(ctx, conn, accountID, deviceID, sequence) }}
	if s.ingestCopy { // COPY cannot be pipelined: open first, as for a large file
		sink.opened = true
		if err := sink.begin(); err != nil {
			return err
		}
	}
	f, err := decode(sink)
	if err != nil {
		var se stopError
		if errors.As(err, &se) {
			return se.err // the checks of a large file refused it
		}
		return errDecode{err}
	}
	if s.ingestCopy {
		if err := sink.flush(); err != nil {
			return err
		}
	}
	has := f.Readings > 0
	var b pgx.Batch
	if !sink.opened {
		b.Queue("BEGIN")
		b.Queue(checkIngestSQL, deviceID, accountID)
	}
	b.Queue(insertFileSQL, deviceID, sequence, f.SHA256, f.Size, int64(f.KeyID), f.Readings, nullMillis(has, f.FirstReading),
		nullMillis(has, f.LastReading), f.Interval.Milliseconds(), store.EncodeGaps(f.Gaps), f.CreatedAt, f.ReceivedAt, accountID)
	sink.queue(&b)
	b.Queue(updateDeviceStatsSQL, f.ReceivedAt, f.Readings, sequence, nullMillis(has, f.FirstReading), nullMillis(has, f.LastReading),
		sink.span, deviceID, accountID)
	b.Queue("COMMIT")
	res := conn.SendBatch(ctx, &b)
	var decommissioned bool
	if !sink.opened {
		if _, err = res.Exec(); err == nil {
			err = res.QueryRow().Scan(&decommissioned)
		}
	}
	if err == nil {
		_, err = res.Exec() // the file record: a taken sequence fails here
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return err // a taken sequence's unique violation is ErrConflict to StoreFile's mapErr
	case decommissioned: // nothing was written
		return store.ErrDecommissioned
	}
	return nil
}

// openIngest opens a large file's transaction: it locks the device and checks that it is in
// service and that the sequence is free, before any segment is sent.
func openIngest(ctx context.Context, conn *pgxpool.Conn, accountID, deviceID string, sequence int64) error {
	var open pgx.Batch
	open.Queue("BEGIN")
	open.Queue(checkIngestSQL, deviceID, accountID)
	open.Queue(sequenceTakenSQL, deviceID, sequence)
	res := conn.SendBatch(ctx, &open)
	_, err := res.Exec()
	var decommissioned, taken bool
	if err == nil {
		err = res.QueryRow().Scan(&decommissioned)
	}
	if err == nil {
		err = res.QueryRow().Scan(&taken)
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return err
	case decommissioned:
		return store.ErrDecommissioned
	case taken:
		return store.ErrConflict
	}
	return nil
}

// stopError carries a refusal of openIngest, or a failure to send a piece, out through the
// caller's decode function, which returns the sink's errors as they are.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }

func nullMillis(valid bool, ms int64) *int64 {
	if !valid {
		return nil
	}
	return &ms
}

const fileColumns = `device_id, sequence, sha256, size, key_id, readings, first_reading, last_reading, interval_ms, gaps, created_at, received_at`

func scanFile(row pgx.Row) (store.DataFile, error) {
	var f store.DataFile
	var seq, keyID, interval int64
	var first, last *int64
	var gaps []byte
	if err := row.Scan(&f.DeviceID, &seq, &f.SHA256, &f.Size, &keyID, &f.Readings, &first, &last, &interval, &gaps, &f.CreatedAt, &f.ReceivedAt); err != nil {
		return store.DataFile{}, err
	}
	var err error
	if f.Gaps, err = store.DecodeGaps(gaps); err != nil {
		return store.DataFile{}, fmt.Errorf("file %d: %w", seq, err)
	}
	f.Sequence, f.KeyID = uint64(seq), uint32(keyID)
	if first != nil {
		f.FirstReading = *first
	}
	if last != nil {
		f.LastReading = *last
	}
	f.Interval = time.Duration(interval) * time.Millisecond
	f.CreatedAt, f.ReceivedAt = f.CreatedAt.UTC(), f.ReceivedAt.UTC()
	return f, nil
}

// DataFile implements store.FileStore.
func (s *Store) DataFile(ctx context.Context, accountID, deviceID string, sequence uint64) (store.DataFile, error) {
	if sequence > math.MaxInt64 {
		return store.DataFile{}, fmt.Errorf("file %d of device %s: %w", sequence, deviceID, store.ErrNotFound)
	}
	f, err := scanFile(s.pool.QueryRow(ctx, `SELECT `+fileColumns+` FROM data_files f WHERE f.device_id = $1 AND f.sequence = $2
		AND EXISTS (SELECT 1 FROM devices d WHERE d.id = f.device_id AND d.account_id = $3)`, deviceID, int64(sequence), accountID))
	return f, mapErr(fmt.Sprintf("file %d of device %s", sequence, deviceID), err)
}

// checkDevice fails with ErrNotFound unless the device is the account's.
func (s *Store) checkDevice(ctx context.Context, accountID, deviceID string) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM devices WHERE id = $1 AND account_id = $2`, deviceID, accountID).Scan(&one)
	return mapErr("device "+deviceID, err)
}

// ListDataFiles implements store.FileStore, a page of files at a time, so fn may be slow.
func (s *Store) ListDataFiles(ctx context.Context, accountID, deviceID string, fn func(store.DataFile) error) error {
	if err := s.checkDevice(ctx, accountID, deviceID); err != nil {
		return err
	}
	const page = 1000
	after := int64(-1)
	for {
		files, err := queryAll(ctx, s.pool, "list files of device "+deviceID, scanFile,
			`SELECT `+fileColumns+` FROM data_files WHERE device_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`, deviceID, after, page)
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := fn(f); err != nil {
				return err
			}
		}
		if len(files) < page {
			return nil
		}
		after = int64(files[len(files)-1].Sequence)
	}
}

// ReportLosses implements store.FileStore.
func (s *Store) ReportLosses(ctx context.Context, accountID, deviceID string, losses []store.Loss, at time.Time) (int, error) {
	for _, l := range losses {
		if l.FirstSequence > math.MaxInt64 || l.LastSequence > math.MaxInt64 {
			return 0, fmt.Errorf("report losses of device %s: loss sequence over %d", deviceID, int64(math.MaxInt64))
		}
	}
	var added int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		added = 0
		tag, err := tx.Exec(ctx, `UPDATE devices SET last_contact_at = GREATEST(last_contact_at, $1) WHERE id = $2 AND account_id = $3`,
			at, deviceID, accountID)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "no such device"); err != nil {
			return err
		}
		for _, l := range losses {
			tag, err := tx.Exec(ctx, `INSERT INTO device_losses (device_id, first_sequence, last_sequence, from_time, to_time, files,
				reason, reported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (device_id, first_sequence) DO UPDATE SET
				last_sequence = excluded.last_sequence, to_time = excluded.to_time, files = excluded.files
				WHERE excluded.last_sequence > device_losses.last_sequence`,
				deviceID, int64(l.FirstSequence), int64(l.LastSequence), l.From, l.To, l.Files, l.Reason, at)
			if err != nil {
				return err
			}
			added += int(tag.RowsAffected())
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
	return queryAll(ctx, s.pool, "losses of device "+deviceID, func(row pgx.Row) (store.Loss, error) {
		l := store.Loss{DeviceID: deviceID}
		var first, last int64
		err := row.Scan(&first, &last, &l.From, &l.To, &l.Files, &l.Reason, &l.ReportedAt)
		l.FirstSequence, l.LastSequence = uint64(first), uint64(last)
		l.From, l.To, l.ReportedAt = l.From.UTC(), l.To.UTC(), l.ReportedAt.UTC()
		return l, err
	}, `SELECT first_sequence, last_sequence, from_time, to_time, files, reason, reported_at
		FROM device_losses WHERE device_id = $1 ORDER BY first_sequence`, deviceID)
}

// segmentBatch and segmentBatchBytes bound what one query of ScanSegments reads: the batch is
// copied out and its query finished before the callback sees it, so a slow consumer (a client
// downloading an export) never holds a snapshot open, which would keep VACUUM from cleaning
// behind it, nor a connection of the pool; and memory stays about a megabyte whatever the range.
const (
	segmentBatch      = 2048
	segmentBatchBytes = 1 << 20
)

// ScanSegments implements store.ReadingStore with keyset pagination on the primary key.
func (s *Store) ScanSegments(ctx context.Context, q store.SegmentQuery, fn func(*store.Segment) error) error {
	if q.From >= q.To {
		return nil
	}
	var span int64
	err := s.pool.QueryRow(ctx, `SELECT max_span_ms FROM devices WHERE id = $1 AND account_id = $2`, q.DeviceID, q.AccountID).Scan(&span)
	if err != nil {
		return mapErr("readings of device "+q.DeviceID, err)
	}
	// A segment overlapping [From, To) starts at most span before From.
	lower := q.From - span
	if q.From < math.MinInt64+span {
		lower = math.MinInt64
	}
	var tags [][]byte
	if len(q.ChannelTags) > 0 {
		tags = q.ChannelTags
	}
	// $5.. $8 are the key of the last segment of the previous batch; the first batch starts
	// below every key.
	const query = `SELECT t_min, file_sequence, channel_index, part, t_max, count, channel_tag, sealed FROM segments
		WHERE device_id = $1 AND t_min >= $2 AND t_min < $3 AND t_max >= $4
		AND ($9::bytea[] IS NULL OR channel_tag = ANY($9))
		AND (t_min, file_sequence, channel_index, part) > ($5, $6, $7, $8)
		ORDER BY t_min, file_sequence, channel_index, part LIMIT $10`

	var batch store.SegmentBatch
	// Sequences are never negative: the first batch starts below every key at t_min >= lower.
	lastT, lastSeq, lastCh, lastPart := lower, int64(-1), int32(0), int32(0)
	for {
		rows, err := s.pool.Query(ctx, query, q.DeviceID, lower, q.To, q.From, lastT, lastSeq, lastCh, lastPart, tags, segmentBatch)
		if err != nil {
			return mapErr("readings of device "+q.DeviceID, err)
		}
		batch.Reset()
		full := false
		for !full && rows.Next() {
			var sg store.Segment
			var seq int64
			var ch, part, count int32
			var tag, sealed pgtype.DriverBytes // valid until the next row: copied below
			if err := rows.Scan(&sg.TMin, &seq, &ch, &part, &sg.TMax, &count, &tag, &sealed); err != nil {
				rows.Close()
				return mapErr("readings of device "+q.DeviceID, err)
			}
			sg.FileSequence, sg.ChannelIndex, sg.Part, sg.Count = uint64(seq), int(ch), int(part), int(count)
			batch.Add(sg, tag, sealed)
			full = batch.Len() == segmentBatch || batch.Bytes() >= segmentBatchBytes
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr("readings of device "+q.DeviceID, err)
		}
		if err := batch.Deliver(fn); err != nil {
			return err
		}
		if !full {
			return nil
		}
		last := batch.Last()
		lastT, lastSeq, lastCh, lastPart = last.TMin, int64(last.FileSequence), int32(last.ChannelIndex), int32(last.Part)
	}
}
