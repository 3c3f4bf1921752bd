package aescodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/smart-impulse/smartx/internal/readings"
)

// ErrClosed is returned by Writer.Write after Close.
var ErrClosed = errors.New("data file writer already closed")

// Option configures a Writer.
type Option func(*writerOptions)

type writerOptions struct {
	rand io.Reader
	now  func() time.Time
}

// WithRand sets the source of the per-file salt (crypto/rand by default);
// tests use a fixed source to produce reproducible files.
func WithRand(r io.Reader) Option { return func(o *writerOptions) { o.rand = r } }

// WithClock sets the clock that fills a zero Header.Created (time.Now by
// default).
func WithClock(now func() time.Time) Option { return func(o *writerOptions) { o.now = now } }

// Writer encrypts readings into a data file as they come, holding one chunk
// in memory. It is not safe for concurrent use.
type Writer struct {
	dst     io.Writer
	header  Header
	aead    cipher.AEAD
	macKey  []byte
	aad     []byte // encoded header, nil until written
	enc     *readings.RecordEncoder
	chunks  chunkSealer
	started bool // header written
	closed  bool
	err     error // sticky I/O error
}

// NewWriter starts a data file for device key deviceKey (KeySize bytes) on
// w. Zero fields of h take defaults: Created from the clock, Start from the
// first reading, ChunkSize DefaultChunkSize; the salt is drawn from the
// random source. The header is written as soon as Start is known (at once
// if h.Start is set, else with the first reading).
func NewWriter(w io.Writer, deviceKey []byte, h Header, opts ...Option) (*Writer, error) {
	o := writerOptions{rand: rand.Reader, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if len(deviceKey) != KeySize {
		return nil, fmt.Errorf("device key has %d bytes, want %d", len(deviceKey), KeySize)
	}
	h.Version = Version
	if h.ChunkSize == 0 {
		h.ChunkSize = DefaultChunkSize
	}
	if h.Created.IsZero() {
		h.Created = o.now()
	}
	h.Created = time.UnixMilli(h.Created.UnixMilli()).UTC()
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("new data file: %w", err)
	}
	h.Schema.Channels = append([]readings.Channel(nil), h.Schema.Channels...) // the caller may reuse its slice
	if _, err := io.ReadFull(o.rand, h.Salt[:]); err != nil {
		return nil, fmt.Errorf("new data file: draw salt: %w", err)
	}
	h.KeyCheck = keyCheck(deviceKey, h.KeyID)
	payloadKey, macKey, err := fileKeys(deviceKey, h.Salt)
	if err != nil {
		return nil, fmt.Errorf("new data file: %w", err)
	}
	block, err := aes.NewCipher(payloadKey)
	if err != nil {
		return nil, fmt.Errorf("new data file: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new data file: %w", err)
	}
	wr := &Writer{dst: w, header: h, aead: aead, macKey: macKey}
	wr.chunks = chunkSealer{dst: w, aead: aead, size: h.ChunkSize, buf: make([]byte, FrameSize+h.ChunkSize+TagSize)}
	if !h.Start.IsZero() {
		if err := wr.start(h.Start); err != nil {
			return nil, err
		}
	}
	return wr, nil
}

// start fixes the base time and writes the header.
func (w *Writer) start(base time.Time) error {
	w.header.Start = time.UnixMilli(base.UnixMilli()).UTC()
	fields, err := w.header.appendFields(nil)
	if err != nil {
		return fmt.Errorf("new data file: %w", err)
	}
	w.aad = append(fields, headerMAC(w.macKey, fields)...)
	w.header.Size = len(w.aad)
	w.started = true
	w.chunks.aad = w.aad
	w.enc = readings.NewRecordEncoder(&w.chunks, len(w.header.Schema.Channels), w.header.Start.UnixMilli())
	if _, err := w.dst.Write(w.aad); err != nil {
		w.err = fmt.Errorf("write data file header: %w", err)
		return w.err
	}
	w.chunks.offset = int64(len(w.aad))
	return nil
}

// Header returns the file's header; Size, Start and the salt are final once
// the header is written.
func (w *Writer) Header() Header { return w.header }

// Write adds one reading. Readings must come in non-decreasing time order,
// not before Header.Start (readings.ErrOutOfOrder), and name a channel of the
// schema (readings.ErrUnknownChannel); such a reading is rejected and the
// file stays valid. An I/O error is final.
func (w *Writer) Write(r readings.Reading) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if !w.started {
		if err := w.start(time.UnixMilli(r.Time)); err != nil {
			return err
		}
	}
	if err := w.enc.Encode(r); err != nil {
		if w.chunks.err != nil {
			w.err = w.chunks.err
			return w.err
		}
		return err
	}
	return nil
}

// Close seals and writes the final chunk. It does not close the underlying
// writer. Closing twice is harmless.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if !w.started {
		if err := w.start(w.header.Created); err != nil {
			return err
		}
	}
	if err := w.chunks.seal(true); err != nil {
		w.err = err
	}
	return w.err
}

// chunkSealer buffers payload bytes and seals a chunk once it is full and
// more bytes arrive: the last chunk is only known at Close, and a full chunk
// may be the last one.
type chunkSealer struct {
	dst     io.Writer
	aead    cipher.AEAD
	aad     []byte
	size    int
	buf     []byte // frame | plaintext (sealed in place) | tag
	n       int    // plaintext bytes in buf
	counter uint64
	nonce   [nonceSize]byte
	offset  int64 // file offset of the next chunk
	err     error
}

// Write implements io.Writer for the record encoder.
func (c *chunkSealer) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	written := 0
	for len(p) > 0 {
		if c.n == c.size {
			if err := c.seal(false); err != nil {
				return written, err
			}
		}
		k := copy(c.buf[FrameSize+c.n:FrameSize+c.size], p)
		c.n += k
		written += k
		p = p[k:]
	}
	return written, nil
}

// seal encrypts the buffered plaintext as chunk number counter and writes
// its frame, ciphertext and tag in one Write.
func (c *chunkSealer) seal(final bool) error {
	if c.counter == math.MaxUint64 {
		c.err = errors.New("data file has too many chunks: start a new file")
		return c.err
	}
	frame := uint32(c.n)
	if final {
		frame |= finalFlag
	}
	binary.BigEndian.PutUint32(c.buf[:FrameSize], frame)
	c.nonce = chunkNonce(c.counter, final)
	c.aead.Seal(c.buf[FrameSize:FrameSize], c.nonce[:], c.buf[FrameSize:FrameSize+c.n], c.aad)
	out := c.buf[:FrameSize+c.n+TagSize]
	if _, err := c.dst.Write(out); err != nil {
		c.err = fmt.Errorf("write chunk %d (byte %d): %w", c.counter, c.offset, err)
		return c.err
	}
	c.offset += int64(len(out))
	c.counter++
	c.n = 0
	return nil
}

// chunkNonce is the 11-byte big-endian chunk counter followed by the
// last-chunk flag (0x01 on the final chunk, else 0x00).
func chunkNonce(counter uint64, final bool) [nonceSize]byte {
	var nonce [nonceSize]byte
	binary.BigEndian.PutUint64(nonce[3:11], counter)
	if final {
		nonce[11] = 1
	}
	return nonce
}
