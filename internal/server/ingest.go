package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"sync"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// Bounds of the ingest path.
const (
	// uploadPattern names the temporary files of large uploads (os.CreateTemp).
	uploadPattern = "upload-*.sxd"
	// memoryUploadBytes is the largest upload kept in memory: one default chunk. An hour of a
	// device's readings is a few kilobytes; anything larger goes to a temporary file, so memory
	// per upload stays bounded whatever its size.
	memoryUploadBytes = aescodec.DefaultChunkSize
	// maxSegmentReadings cuts a channel's readings of a file into segments of at most this many,
	// and maxBufferedReadings bounds the readings decoded but not yet stored, across channels:
	// storing a 32 MiB file needs no more memory than storing an hourly one.
	maxSegmentReadings  = 4096
	maxBufferedReadings = 32768
	// maxFileGaps bounds the gaps recorded for one file.
	maxFileGaps = 10000
	// checkContextEvery is how many readings are decoded between checks for cancellation.
	checkContextEvery = 1 << 16
)

// RejectError is a data file the server refuses for good: damaged, not the device's, or in
// conflict with a stored file. Code is file_rejected (Reason says the damage class),
// serial_mismatch or sequence_conflict.
type RejectError struct {
	Code   api.Code
	Reason api.RejectReason
	Err    error
}

func (e *RejectError) Error() string { return e.Err.Error() }

func (e *RejectError) Unwrap() error { return e.Err }

// rejectFor classifies a decoding error; nil means it is not the file's fault (an I/O or
// database error), which is a 500 and worth a retry.
func rejectFor(err error) *RejectError {
	reasons := []struct {
		target error
		reason api.RejectReason
	}{
		{aescodec.ErrNotDataFile, api.RejectNotADataFile},
		{aescodec.ErrUnsupportedVersion, api.RejectUnsupportedVersion},
		{aescodec.ErrHeaderMalformed, api.RejectHeaderMalformed},
		{aescodec.ErrWrongKey, api.RejectWrongKey},
		{aescodec.ErrKeyNotFound, api.RejectWrongKey},
		{aescodec.ErrHeaderTampered, api.RejectHeaderTampered},
		{aescodec.ErrChunkCorrupt, api.RejectChunkCorrupt},
		{aescodec.ErrTruncated, api.RejectTruncated},
		{aescodec.ErrTrailingData, api.RejectTrailingData},
		{aescodec.ErrPayloadMalformed, api.RejectPayloadMalformed},
	}
	if errors.Is(err, errSerialMismatch) {
		return &RejectError{Code: api.CodeSerialMismatch, Err: err}
	}
	for _, r := range reasons {
		if errors.Is(err, r.target) {
			return &RejectError{Code: api.CodeFileRejected, Reason: r.reason, Err: err}
		}
	}
	return nil
}

// IngestResult is a stored (or already stored) data file.
type IngestResult struct {
	DeviceID  string
	Sequence  uint64
	Readings  int64
	Duplicate bool
}

// upload is a received data file: in memory when small, else in a temporary file.
type upload struct {
	mem  []byte
	file *os.File
	size int64
	sum  [sha256.Size]byte
	pool *[]byte // the memory buffer, returned to uploadBuffers by close
}

// uploadBuffers hold small uploads; one more byte than memoryUploadBytes tells a full buffer
// from a larger upload.
var uploadBuffers = sync.Pool{New: func() any { b := make([]byte, memoryUploadBytes+1); return &b }}

// hashers are reused SHA-256 states.
var hashers = sync.Pool{New: func() any { return sha256.New() }}

// receive reads the request body whole before anything is decoded or locked, hashing it as it
// goes: a slow client holds a buffer or a file, never the database's write lock.
func (s *Service) receive(body io.Reader) (*upload, error) {
	bufp := uploadBuffers.Get().(*[]byte)
	n, err := io.ReadFull(body, *bufp)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		up := &upload{mem: (*bufp)[:n], size: int64(n), sum: sha256.Sum256((*bufp)[:n]), pool: bufp}
		return up, nil
	}
	if err != nil {
		uploadBuffers.Put(bufp)
		return nil, fmt.Errorf("receive data file: %w", err)
	}
	f, err := os.CreateTemp(s.uploadDir, uploadPattern)
	if err != nil {
		uploadBuffers.Put(bufp)
		return nil, fmt.Errorf("receive data file: %w", err)
	}
	up := &upload{file: f, size: int64(len(*bufp))}
	h := hashers.Get().(hash.Hash)
	defer hashers.Put(h)
	h.Reset()
	h.Write(*bufp)
	_, werr := f.Write(*bufp)
	uploadBuffers.Put(bufp)
	if werr != nil {
		up.close()
		return nil, fmt.Errorf("receive data file: %w", werr)
	}
	rest, err := io.Copy(io.MultiWriter(f, h), body)
	if err != nil {
		up.close()
		return nil, fmt.Errorf("receive data file: %w", err)
	}
	up.size += rest
	h.Sum(up.sum[:0])
	return up, nil
}

// close releases the upload's buffer or removes its file.
func (u *upload) close() {
	if u.pool != nil {
		uploadBuffers.Put(u.pool)
		u.pool, u.mem = nil, nil
	}
	if u.file != nil {
		u.file.Close()
		os.Remove(u.file.Name())
		u.file = nil
	}
}

// channelColumns are readings of one channel of a file, in time order, as two columns: one
// segment. A channel's readings are cut into several parts when they are many, so memory stays
// bounded whatever the file's size; part numbers them from 0 in time order.
type channelColumns struct {
	index      int // the channel's index in the file's schema
	part       int
	name       string
	unit       string
	resolution int
	times      []int64 // Unix ms, non-decreasing
	values     []int64 // steps of the resolution
}

// readingsSink receives the channels' columns of a file as they are decoded; it copies what it
// keeps, since the columns are reused.
type readingsSink interface {
	add(c *channelColumns) error
}

// fileDecoder holds what decoding a file reuses: the aescodec Reader (its chunk buffer), a
// buffered reader, and the per-channel columns of the segments being built.
type fileDecoder struct {
	rd    aescodec.Reader
	mem   bytes.Reader
	br    *bufio.Reader
	chans []channelColumns
}

var fileDecoders = sync.Pool{New: func() any { return &fileDecoder{br: bufio.NewReaderSize(nil, 64<<10)} }}

// release returns the decoder to the pool, without its columns when a file of many channels
// made them large: the pool keeps what hourly files need, not what the largest file took.
func (d *fileDecoder) release() {
	capacity := 0
	for _, c := range d.chans {
		capacity += cap(c.times)
	}
	if capacity > 2*maxBufferedReadings {
		d.chans = nil
	}
	fileDecoders.Put(d)
}

// open returns a reader of the upload from its first byte.
func (d *fileDecoder) open(u *upload) (io.Reader, error) {
	if u.file == nil {
		d.mem.Reset(u.mem)
		return &d.mem, nil
	}
	if _, err := u.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read data file: %w", err)
	}
	d.br.Reset(u.file)
	return d.br, nil
}

// discard is the sink of a verification: readings are decoded and checked, not stored.
type discard struct{}

func (discard) add(*channelColumns) error { return nil }

// decode verifies the whole upload and streams its readings into sink; it returns the file's
// record, or a *RejectError for a file the device should not send again.
func (s *Service) decode(ctx context.Context, up *upload, u *uploader, sink readingsSink) (store.DataFile, error) {
	d := fileDecoders.Get().(*fileDecoder)
	defer d.release()
	src, err := d.open(up)
	if err != nil {
		return store.DataFile{}, err
	}
	if err := d.rd.Reset(src, uploaderKeys{ctx: ctx, a: s.devices, u: u}); err != nil {
		if re := rejectFor(err); re != nil {
			return store.DataFile{}, re
		}
		return store.DataFile{}, err
	}
	h := d.rd.Header()
	schema := h.Schema.Channels
	if cap(d.chans) < len(schema) {
		d.chans = make([]channelColumns, len(schema))
	}
	d.chans = d.chans[:len(schema)]
	for i, c := range schema {
		d.chans[i] = channelColumns{index: i, name: c.Name, unit: c.Unit, resolution: c.Resolution,
			times: d.chans[i].times[:0], values: d.chans[i].values[:0]}
	}
	f := store.DataFile{DeviceID: u.id, Sequence: h.Sequence, SHA256: up.sum[:], Size: up.size, KeyID: h.KeyID,
		Interval: h.Schema.Interval, CreatedAt: h.Created.UTC()}
	gapAfter := 2 * h.Schema.Interval.Milliseconds() // 0: irregular sampling, no gaps to tell
	buffered := 0
	flush := func(c *channelColumns) error {
		if len(c.times) == 0 {
			return nil
		}
		if err := sink.add(c); err != nil {
			return err
		}
		buffered -= len(c.times)
		c.times, c.values, c.part = c.times[:0], c.values[:0], c.part+1
		return nil
	}
	for {
		r, err := d.rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if re := rejectFor(err); re != nil {
				return store.DataFile{}, re
			}
			return store.DataFile{}, fmt.Errorf("decode data file: %w", err)
		}
		if f.Readings == 0 {
			f.FirstReading = r.Time
		} else if gapAfter > 0 && r.Time-f.LastReading > gapAfter && len(f.Gaps) < maxFileGaps {
			f.Gaps = append(f.Gaps, store.Gap{From: f.LastReading, To: r.Time})
		}
		f.LastReading = r.Time
		f.Readings++
		c := &d.chans[r.Channel]
		c.times, c.values = append(c.times, r.Time), append(c.values, r.Value)
		buffered++
		if len(c.times) >= maxSegmentReadings {
			if err := flush(c); err != nil {
				return store.DataFile{}, err
			}
		} else if buffered >= maxBufferedReadings {
			for i := range d.chans {
				if err := flush(&d.chans[i]); err != nil {
					return store.DataFile{}, err
				}
			}
		}
		if f.Readings%checkContextEvery == 0 {
			if err := ctx.Err(); err != nil {
				return store.DataFile{}, err
			}
		}
	}
	for i := range d.chans {
		if err := flush(&d.chans[i]); err != nil {
			return store.DataFile{}, err
		}
	}
	f.ReceivedAt = s.nowUTC()
	return f, nil
}

// Ingest verifies a data file a device uploaded and stores it with its readings, exactly once
// per (device, sequence): the same file again is a duplicate and stores nothing; another file
// with a used sequence is a sequence_conflict; a damaged file is rejected with its damage
// class. It returns only once the file is committed.
func (s *Service) Ingest(ctx context.Context, u *uploader, body io.Reader) (IngestResult, error) {
	up, err := s.receive(body)
	if err != nil {
		return IngestResult{}, err
	}
	defer up.close()
	res, err := s.ingest(ctx, up, u)
	var re *RejectError
	if errors.As(err, &re) {
		s.log.Error("data file rejected", "account", u.accountID, "device", u.id, "serial", u.serial, "code", re.Code,
			"reason", re.Reason, "bytes", up.size, "err", re.Err)
		s.noteContact(ctx, u, store.Contact{At: s.nowUTC(), RejectCode: string(re.Code), RejectReason: string(re.Reason)})
	}
	return res, err
}

// noteContact records a device's request that stored nothing; failing to is not the device's
// problem, so it is only logged.
func (s *Service) noteContact(ctx context.Context, u *uploader, c store.Contact) {
	if err := s.st.RecordContact(ctx, u.accountID, u.id, c); err != nil {
		s.log.Warn("could not record a device contact", "device", u.id, "err", err)
	}
}

func (s *Service) ingest(ctx context.Context, up *upload, u *uploader) (IngestResult, error) {
	d := fileDecoders.Get().(*fileDecoder)
	src, err := d.open(up)
	var h aescodec.Header
	if err == nil {
		h, err = aescodec.ReadHeader(src)
	}
	fileDecoders.Put(d)
	if err != nil {
		if re := rejectFor(err); re != nil {
			return IngestResult{}, re
		}
		return IngestResult{}, err
	}
	if h.Serial != u.serial {
		return IngestResult{}, &RejectError{Code: api.CodeSerialMismatch,
			Err: fmt.Errorf("the file was written by device %s, not by %s whose credential was presented", h.Serial, u.serial)}
	}
	if h.Sequence > math.MaxInt64 {
		return IngestResult{}, &RejectError{Code: api.CodeFileRejected, Reason: api.RejectHeaderMalformed,
			Err: fmt.Errorf("sequence number %d is over %d", h.Sequence, int64(math.MaxInt64))}
	}
	result := IngestResult{DeviceID: u.id, Sequence: h.Sequence}

	// No lookup first: a file seen before is rare (an answer lost on the way back), and on
	// PostgreSQL the lookup would cost every upload a round trip. The store finds the sequence
	// taken, before or after decoding, and the stored record then decides.
	err = s.st.StoreFile(ctx, u.accountID, u.id, h.Sequence, func(sink store.SegmentSink) (store.DataFile, error) {
		sealer := &segmentSealer{ctx: ctx, svc: s, accountID: u.accountID, deviceID: u.id, sequence: h.Sequence, inner: sink, tags: map[string][]byte{}}
		f, err := s.decode(ctx, up, u, sealer)
		result.Readings = f.Readings
		return f, err
	})
	switch {
	case err == nil:
		return result, nil
	case errors.Is(err, store.ErrConflict): // stored before, or meanwhile by a concurrent upload
		known, err := s.st.DataFile(ctx, u.accountID, u.id, h.Sequence)
		if err != nil {
			return IngestResult{}, err
		}
		return s.againOrConflict(ctx, up, u, known, result)
	case errors.Is(err, store.ErrDecommissioned), errors.Is(err, store.ErrNotFound):
		return IngestResult{}, ErrInvalidDeviceCredential
	}
	return IngestResult{}, err
}

// againOrConflict answers an upload whose sequence is already stored: the same bytes are a
// duplicate; other bytes are verified (a damaged file is rejected as such) and then a conflict.
func (s *Service) againOrConflict(ctx context.Context, up *upload, u *uploader, known store.DataFile, result IngestResult) (IngestResult, error) {
	if bytes.Equal(known.SHA256, up.sum[:]) {
		s.noteContact(ctx, u, store.Contact{At: s.nowUTC()})
		result.Readings, result.Duplicate = known.Readings, true
		return result, nil
	}
	if _, err := s.decode(ctx, up, u, discard{}); err != nil {
		return IngestResult{}, err
	}
	return IngestResult{}, &RejectError{Code: api.CodeSequenceConflict,
		Err: fmt.Errorf("device %s already uploaded another file with sequence %d (received %s): a device must never reuse a sequence number",
			u.serial, known.Sequence, known.ReceivedAt.Format("2006-01-02T15:04:05Z"))}
}
