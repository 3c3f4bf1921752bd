package aescodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"

	"github.com/smart-impulse/smartx/internal/readings"
)

// Reader decrypts and verifies a data file as it is read, one chunk at a
// time: memory use is one chunk (at most MaxChunkSize) plus small buffers,
// whatever the file size. Readings from a chunk are only returned after the
// whole chunk is authenticated, but a damaged file can fail after some
// readings were returned: a caller that must be all-or-nothing (ingest)
// commits only after Next returned io.EOF. It is not safe for concurrent use.
type Reader struct {
	src     io.Reader
	header  Header
	aad     []byte
	aead    cipher.AEAD
	buf     []byte // ciphertext of the current chunk, opened in place
	frame   [FrameSize]byte
	nonce   [nonceSize]byte
	plain   []byte                  // unread plaintext of the current chunk
	counter uint64                  // index of the next chunk
	offset  int64                   // file offset of the next byte of src
	final   bool                    // the final chunk was decrypted
	err     error                   // sticky: io.EOF at a clean end
	dec     *readings.RecordDecoder // nil until Next is first called
}

// NewReader reads the header from r, finds the device key through keys,
// checks the key (a *KeyError matching ErrWrongKey when it is not the file's)
// and the header MAC (ErrHeaderTampered), and returns a Reader positioned at
// the first chunk. Header errors are those of ReadHeader.
func NewReader(r io.Reader, keys KeyLookup) (*Reader, error) {
	rd := &Reader{}
	if err := rd.Reset(r, keys); err != nil {
		return nil, err
	}
	return rd, nil
}

// Reset starts reading another file from src exactly as NewReader does, but
// reuses the Reader's buffers, so a server ingesting many files allocates its
// chunk buffer once. After an error the Reader returns that error until the
// next successful Reset.
func (r *Reader) Reset(src io.Reader, keys KeyLookup) error {
	buf, dec := r.buf, r.dec
	*r = Reader{buf: buf, dec: dec}
	if dec != nil { // drop what it buffered from the previous file
		dec.Reset(payloadReader{r}, 0, 0)
	}
	if err := r.open(src, keys); err != nil {
		r.err = err
		return err
	}
	return nil
}

func (r *Reader) open(src io.Reader, keys KeyLookup) error {
	h, raw, err := readHeader(src)
	if err != nil {
		return err
	}
	if keys == nil {
		return &KeyError{Serial: h.Serial, KeyID: h.KeyID, Err: ErrKeyNotFound}
	}
	key, err := keys.DeviceKey(h.Serial, h.KeyID)
	if err != nil {
		return &KeyError{Serial: h.Serial, KeyID: h.KeyID, Err: err}
	}
	if len(key) != KeySize {
		return &KeyError{Serial: h.Serial, KeyID: h.KeyID, Err: fmt.Errorf("device key has %d bytes, want %d", len(key), KeySize)}
	}
	if !h.CheckKey(key) {
		return &KeyError{Serial: h.Serial, KeyID: h.KeyID, Err: ErrWrongKey}
	}
	payloadKey, macKey, err := fileKeys(key, h.Salt)
	if err != nil {
		return err
	}
	fields := raw[:len(raw)-MACSize]
	if !hmac.Equal(headerMAC(macKey, fields), raw[len(fields):]) {
		return fmt.Errorf("%w: the header of this %s file was modified or damaged after it was written; %s",
			ErrHeaderTampered, h.Serial, getFreshCopy)
	}
	block, err := aes.NewCipher(payloadKey)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	if cap(r.buf) < h.ChunkSize+TagSize {
		r.buf = make([]byte, h.ChunkSize+TagSize)
	}
	r.src, r.header, r.aad, r.aead, r.offset = src, h, raw, aead, int64(len(raw))
	if r.dec != nil {
		r.dec.Reset(payloadReader{r}, len(h.Schema.Channels), h.Start.UnixMilli())
	}
	return nil
}

// Header returns the file's header (authenticated).
func (r *Reader) Header() Header { return r.header }

// Chunks returns the number of chunks decrypted and verified so far.
func (r *Reader) Chunks() int64 { return int64(r.counter) }

// Next returns the next reading, io.EOF after the last one of an intact
// file, or the error that ended the file (see the Err* variables). Errors are
// final.
func (r *Reader) Next() (readings.Reading, error) {
	if r.dec == nil { // made on first use: Payload users never need it
		r.dec = readings.NewRecordDecoder(payloadReader{r}, len(r.header.Schema.Channels), r.header.Start.UnixMilli())
	}
	rd, err := r.dec.Next()
	if err != nil && err != io.EOF {
		if errors.Is(err, readings.ErrMalformedRecord) {
			return rd, &PayloadError{Err: err}
		}
	}
	return rd, err
}

// All returns the readings as an iterator; iteration stops after the first
// error, which is yielded with a zero Reading (io.EOF is not yielded).
func (r *Reader) All() iter.Seq2[readings.Reading, error] {
	return func(yield func(readings.Reading, error) bool) {
		for {
			rd, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(rd, err) || err != nil {
				return
			}
		}
	}
}

// Payload returns the decrypted payload (the encoded records) as a stream,
// for tools that want the raw bytes. Use either Payload or Next, not both.
// The stream implements io.WriterTo, which hands out each verified chunk
// without copying it.
func (r *Reader) Payload() io.Reader { return payloadReader{r} }

type payloadReader struct{ r *Reader }

// Read implements io.Reader.
func (p payloadReader) Read(b []byte) (int, error) {
	r := p.r
	for len(r.plain) == 0 {
		if err := r.readChunk(); err != nil {
			return 0, err
		}
	}
	n := copy(b, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// WriteTo implements io.WriterTo.
func (p payloadReader) WriteTo(w io.Writer) (int64, error) {
	r := p.r
	var total int64
	for {
		if len(r.plain) == 0 {
			if err := r.readChunk(); err == io.EOF {
				return total, nil
			} else if err != nil {
				return total, err
			}
			continue
		}
		n, err := w.Write(r.plain)
		total += int64(n)
		r.plain = r.plain[n:]
		if err != nil {
			return total, err
		}
	}
}

// readChunk reads, checks and decrypts the next chunk into r.plain; after
// the final chunk it checks that the file ends there.
func (r *Reader) readChunk() error {
	if r.err != nil {
		return r.err
	}
	if r.final {
		r.err = r.checkEnd()
		return r.err
	}
	frameOffset := r.offset
	n, err := io.ReadFull(r.src, r.frame[:])
	r.offset += int64(n)
	if err != nil {
		r.err = r.readFailure(err, n > 0)
		return r.err
	}
	v := binary.BigEndian.Uint32(r.frame[:])
	final := v&finalFlag != 0
	length := int(v &^ finalFlag)
	corrupt := func(format string, args ...any) error {
		r.err = &ChunkError{Index: int64(r.counter), Offset: frameOffset, Reason: fmt.Sprintf(format, args...)}
		return r.err
	}
	switch {
	case !final && length != r.header.ChunkSize:
		return corrupt("its frame announces a non-final chunk of %d bytes, every non-final chunk has %d", length, r.header.ChunkSize)
	case length > r.header.ChunkSize:
		return corrupt("its frame announces %d bytes, more than the chunk size %d", length, r.header.ChunkSize)
	case final && length == 0 && r.counter > 0:
		return corrupt("an empty final chunk is only allowed as the first chunk")
	case r.counter == math.MaxUint64:
		return corrupt("too many chunks")
	}
	sealed := r.buf[:length+TagSize]
	n, err = io.ReadFull(r.src, sealed)
	r.offset += int64(n)
	if err != nil {
		r.err = r.readFailure(err, true)
		return r.err
	}
	r.nonce = chunkNonce(r.counter, final) // a field, so it does not escape per chunk
	plain, err := r.aead.Open(sealed[:0], r.nonce[:], sealed, r.aad)
	if err != nil {
		return corrupt("authentication failed (modified, reordered, dropped or duplicated data)")
	}
	r.counter++
	r.final = final
	r.plain = plain
	return nil
}

// readFailure turns a short read into a TruncatedError (the file ends
// before its final chunk) and wraps any other I/O error.
func (r *Reader) readFailure(err error, inside bool) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &TruncatedError{Chunk: int64(r.counter), Offset: r.offset, Inside: inside}
	}
	return fmt.Errorf("read chunk %d (byte %d): %w", r.counter, r.offset, err)
}

// checkEnd returns io.EOF if nothing follows the final chunk.
func (r *Reader) checkEnd() error {
	var one [1]byte
	n, err := io.ReadFull(r.src, one[:])
	switch {
	case n > 0:
		return &TrailingDataError{Offset: r.offset}
	case err == io.EOF:
		return io.EOF
	default:
		return fmt.Errorf("read past the final chunk (byte %d): %w", r.offset, err)
	}
}
