package readings

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// The record encoding (docs/file-format.md, "Payload"): each reading is three
// varints,
//
//	uvarint  time delta in ms from the previous record (the first record's
//	         delta is from the file's base time)
//	uvarint  channel index
//	varint   value delta from the previous value of the same channel
//	         (zigzag; every channel starts at 0; wrapping 64-bit arithmetic)
//
// so a steady 1-minute load curve costs about 4 bytes a reading.

// MaxRecordLen is the longest encoded record: three 10-byte varints.
const MaxRecordLen = 3 * maxVarintLen

const (
	maxVarintLen     = 10
	decoderBufferLen = 8 << 10
	maxEmptyReads    = 100
)

// ErrMalformedRecord is matched (errors.Is) by every RecordError.
var ErrMalformedRecord = errors.New("malformed record")

// ErrOutOfOrder is returned by RecordEncoder.Encode for a reading earlier than
// the previous one (or than the base time): records are stored in
// non-decreasing time order.
var ErrOutOfOrder = errors.New("reading out of time order")

// ErrUnknownChannel is returned by RecordEncoder.Encode for a channel index
// outside the schema.
var ErrUnknownChannel = errors.New("unknown channel")

// RecordError describes an undecodable record in a payload.
type RecordError struct {
	// Index is the number of the record in the payload, from 0.
	Index int64
	// Offset is the payload byte offset where the record starts.
	Offset int64
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d at payload byte %d: %s", e.Index, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrMalformedRecord) true.
func (e *RecordError) Is(target error) bool { return target == ErrMalformedRecord }

// RecordEncoder writes readings as records to an io.Writer. It keeps the
// previous time and the previous value of every channel; it is not safe for
// concurrent use.
type RecordEncoder struct {
	w        io.Writer
	lastTime int64
	last     []int64
	buf      [MaxRecordLen]byte
}

// NewRecordEncoder returns an encoder of records for a schema of channels
// channels, whose first record's time delta is counted from base (Unix ms).
func NewRecordEncoder(w io.Writer, channels int, base int64) *RecordEncoder {
	return &RecordEncoder{w: w, lastTime: base, last: make([]int64, max(channels, 0))}
}

// Encode writes the record of r. It rejects, without writing anything, a
// reading whose channel is outside the schema (ErrUnknownChannel) or whose
// time is before the previous one (ErrOutOfOrder).
func (e *RecordEncoder) Encode(r Reading) error {
	rec, err := e.append(e.buf[:0], r)
	if err != nil {
		return err
	}
	if _, err := e.w.Write(rec); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	e.commit(r)
	return nil
}

// AppendRecord appends the record of r to dst and advances the encoder as
// Encode does; it lets a caller build a payload in its own buffer.
func (e *RecordEncoder) AppendRecord(dst []byte, r Reading) ([]byte, error) {
	out, err := e.append(dst, r)
	if err != nil {
		return dst, err
	}
	e.commit(r)
	return out, nil
}

func (e *RecordEncoder) append(dst []byte, r Reading) ([]byte, error) {
	if r.Channel < 0 || r.Channel >= len(e.last) {
		return dst, fmt.Errorf("%w: index %d, the schema has %d channels", ErrUnknownChannel, r.Channel, len(e.last))
	}
	if r.Time < e.lastTime {
		return dst, fmt.Errorf("%w: %s is before %s; start a new file when the clock steps back",
			ErrOutOfOrder, formatMs(r.Time), formatMs(e.lastTime))
	}
	dst = appendUvarint(dst, uint64(r.Time-e.lastTime)) // cannot overflow: r.Time >= lastTime
	dst = appendUvarint(dst, uint64(r.Channel))
	delta := r.Value - e.last[r.Channel] // wraps on purpose, as the decoder does
	return appendUvarint(dst, uint64(delta<<1)^uint64(delta>>63)), nil
}

func (e *RecordEncoder) commit(r Reading) {
	e.lastTime = r.Time
	e.last[r.Channel] = r.Value
}

func formatMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// RecordDecoder reads records from an io.Reader in constant memory (one
// 8 KiB buffer and one int64 per channel) without allocating per reading. It
// is not safe for concurrent use.
type RecordDecoder struct {
	r        io.Reader
	buf      []byte
	pos, end int
	eof      bool  // r has nothing more to give
	readErr  error // non-EOF error from r, returned once the buffer is drained
	offset   int64 // payload offset of buf[0]
	index    int64 // records decoded so far
	lastTime int64
	last     []int64
}

// NewRecordDecoder returns a decoder of the records in r for a schema of
// channels channels, whose first record's time delta is counted from base
// (Unix ms).
func NewRecordDecoder(r io.Reader, channels int, base int64) *RecordDecoder {
	return &RecordDecoder{
		r:        r,
		buf:      make([]byte, decoderBufferLen),
		lastTime: base,
		last:     make([]int64, max(channels, 0)),
	}
}

// Reset makes d decode a new payload from r, as NewRecordDecoder does, but
// reuses its buffers.
func (d *RecordDecoder) Reset(r io.Reader, channels int, base int64) {
	last := d.last[:0]
	if cap(last) < channels {
		last = make([]int64, 0, channels)
	}
	last = last[:max(channels, 0)]
	clear(last)
	*d = RecordDecoder{r: r, buf: d.buf, lastTime: base, last: last}
}

// Records returns the number of records decoded so far.
func (d *RecordDecoder) Records() int64 { return d.index }

// Next returns the next reading. At the clean end of the payload it returns
// io.EOF; a damaged record gives a *RecordError (ErrMalformedRecord); an error
// from the underlying reader is returned unchanged once the complete records
// before it have been returned.
func (d *RecordDecoder) Next() (Reading, error) {
	if d.end-d.pos < MaxRecordLen && !d.eof {
		d.fill()
	}
	b := d.buf[d.pos:d.end]
	if len(b) == 0 {
		if d.readErr != nil {
			return Reading{}, d.readErr
		}
		return Reading{}, io.EOF
	}
	var (
		dt, ch, zz uint64
		n, i       int
	)
	// One-byte varints are the common case for channel and value deltas, so
	// they skip the loop.
	if dt, n = uvarint(b); n <= 0 {
		return Reading{}, d.fail(n, "time delta")
	}
	i = n
	if i < len(b) && b[i] < 0x80 {
		ch, n = uint64(b[i]), 1
	} else if ch, n = uvarint(b[i:]); n <= 0 {
		return Reading{}, d.fail(n, "channel index")
	}
	i += n
	if i < len(b) && b[i] < 0x80 {
		zz, n = uint64(b[i]), 1
	} else if zz, n = uvarint(b[i:]); n <= 0 {
		return Reading{}, d.fail(n, "value delta")
	}
	i += n
	if ch >= uint64(len(d.last)) {
		return Reading{}, d.malformed(fmt.Sprintf("channel index %d out of range (the schema has %d channels)", ch, len(d.last)))
	}
	if dt > uint64(math.MaxInt64-d.lastTime) {
		return Reading{}, d.malformed(fmt.Sprintf("time delta %d overflows the time after %d", dt, d.lastTime))
	}
	d.lastTime += int64(dt)
	v := d.last[ch] + (int64(zz>>1) ^ -int64(zz&1)) // wrapping add, as encoded
	d.last[ch] = v
	d.pos += i
	d.index++
	return Reading{Time: d.lastTime, Channel: int(ch), Value: v}, nil
}

// fill moves the unread bytes to the front of the buffer and reads until a
// whole record fits or the reader is exhausted.
func (d *RecordDecoder) fill() {
	if d.pos > 0 {
		d.offset += int64(d.pos)
		d.end = copy(d.buf, d.buf[d.pos:d.end])
		d.pos = 0
	}
	empty := 0
	for d.end < MaxRecordLen && !d.eof {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		switch {
		case err == io.EOF:
			d.eof = true
		case err != nil:
			d.eof, d.readErr = true, err
		case n == 0:
			if empty++; empty >= maxEmptyReads {
				d.eof, d.readErr = true, io.ErrNoProgress
			}
		}
	}
}

// fail turns a uvarint failure code into the right error: a record cut by
// the end of the data is malformed only if the data really ended (not if the
// reader failed).
func (d *RecordDecoder) fail(code int, field string) error {
	switch code {
	case 0:
		if d.readErr != nil {
			return d.readErr
		}
		return d.malformed(fmt.Sprintf("record cut by the end of the payload in its %s", field))
	case -2:
		return d.malformed(field + " varint is not minimally encoded")
	default:
		return d.malformed(field + " varint overflows 64 bits")
	}
}

func (d *RecordDecoder) malformed(reason string) error {
	// Stop here for good: the state after a bad record is meaningless.
	err := &RecordError{Index: d.index, Offset: d.offset + int64(d.pos), Reason: reason}
	d.eof, d.readErr, d.pos, d.end = true, err, 0, 0
	return err
}

// uvarint decodes an unsigned LEB128 varint from the start of b. It returns
// the value and its length, or 0 when b ends inside the varint, -1 when it is
// longer than 10 bytes or exceeds 64 bits, and -2 when it is not minimal (a
// final 0x00 byte after a continuation).
func uvarint(b []byte) (uint64, int) {
	var x uint64
	var s uint
	for i, c := range b {
		if i == maxVarintLen {
			return 0, -1
		}
		if c < 0x80 {
			if i == maxVarintLen-1 && c > 1 {
				return 0, -1
			}
			if c == 0 && i > 0 {
				return 0, -2
			}
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	if len(b) >= maxVarintLen {
		return 0, -1
	}
	return 0, 0
}
