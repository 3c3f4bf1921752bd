// Package aescodec reads and writes Smart X data files: a plaintext,
// authenticated header followed by the readings payload encrypted with
// AES-256-GCM in 64 KiB chunks (the STREAM construction, as in the age
// format). docs/file-format.md is the byte-level specification; this package
// is its reference implementation.
//
// A Writer turns readings into a file; a Reader checks the key and the
// header, then decrypts and verifies the chunks as the readings are pulled,
// in constant memory. ReadHeader parses the header without any key.
package aescodec

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/smart-impulse/smartx/internal/readings"
)

// Format constants (docs/file-format.md).
const (
	// Magic opens every data file: "SXDATA" then CR LF, so a text-mode
	// transfer that rewrites line ends is caught as a bad magic.
	Magic = "SXDATA\r\n"
	// Version is the format version this package writes and reads.
	Version = 1
	// KeySize is the size of a device key in bytes.
	KeySize = 32
	// SaltSize is the size of the per-file random salt.
	SaltSize = 16
	// KeyCheckSize is the size of the key-check value.
	KeyCheckSize = 16
	// MACSize is the size of the header MAC.
	MACSize = sha256.Size
	// DefaultChunkSize is the plaintext size of every chunk but the last.
	DefaultChunkSize = 64 << 10
	// MinChunkSize and MaxChunkSize bound the chunk size a header may
	// declare, so a hostile file cannot force a large allocation.
	MinChunkSize = 1 << 10
	MaxChunkSize = 1 << 20
	// MaxSerialLen bounds the device serial, in bytes.
	MaxSerialLen = 64
	// MaxHeaderSize is the largest header (its length field is 16 bits).
	MaxHeaderSize = 0xffff

	// TagSize is the GCM authentication tag appended to each chunk.
	TagSize = 16
	// FrameSize is the size of the length frame before each chunk.
	FrameSize = 4

	prefixSize    = len(Magic) + 1 + 2 // magic, version, header length
	minHeaderSize = prefixSize + 1 + 1 + 4 + 8 + 8 + 8 + 4 + 4 + 1 + 4 + 2 + SaltSize + KeyCheckSize + MACSize
	finalFlag     = 1 << 31
	nonceSize     = 12
)

// Labels of the key derivations; ASCII, used without terminator.
const (
	keyCheckLabel  = "smartx data file v1 key check"
	payloadKeyInfo = "smartx data file v1 payload key"
	headerKeyInfo  = "smartx data file v1 header mac key"
)

// Header is the plaintext header of a data file.
type Header struct {
	// Version is the format version (set when reading; the Writer always
	// writes Version).
	Version int
	// Serial is the device serial number, 1 to 64 printable ASCII
	// characters, e.g. "SX-00042".
	Serial string
	// KeyID says which of the device's keys encrypted the file.
	KeyID uint32
	// Sequence is the device's file sequence number.
	Sequence uint64
	// Created is when the file was started (stored in ms; zero means now
	// for a Writer).
	Created time.Time
	// Start is the base time of the first record (stored in ms): the time
	// of the first reading or earlier. Zero tells the Writer to use the
	// first reading's time (or Created if there is none).
	Start time.Time
	// Schema lists the channels and the sampling interval.
	Schema readings.Schema
	// ChunkSize is the plaintext size of every chunk but the last (zero
	// means DefaultChunkSize for a Writer).
	ChunkSize int
	// Extensions are optional typed fields; readers ignore types they do
	// not know (they are still authenticated).
	Extensions []Extension
	// Salt is the per-file random value the file keys are derived from.
	Salt [SaltSize]byte
	// KeyCheck tells whether a device key is the one of the file (see
	// CheckKey) without decrypting anything.
	KeyCheck [KeyCheckSize]byte
	// Size is the encoded size of the header in bytes.
	Size int
}

// Extension is an optional typed header field.
type Extension struct {
	Type uint8
	Data []byte
}

// CheckKey reports whether deviceKey is the key that wrote the file.
func (h *Header) CheckKey(deviceKey []byte) bool {
	check := keyCheck(deviceKey, h.KeyID)
	return hmac.Equal(check[:], h.KeyCheck[:])
}

// keyCheck depends only on the device key and the key id, so a reader can
// tell "wrong key" apart from "damaged header" before anything else.
func keyCheck(deviceKey []byte, keyID uint32) [KeyCheckSize]byte {
	m := hmac.New(sha256.New, deviceKey)
	m.Write([]byte(keyCheckLabel))
	m.Write(binary.BigEndian.AppendUint32(nil, keyID))
	var out [KeyCheckSize]byte
	copy(out[:], m.Sum(nil))
	return out
}

// fileKeys derives the payload key and the header MAC key of one file.
func fileKeys(deviceKey []byte, salt [SaltSize]byte) (payloadKey, headerKey []byte, err error) {
	payloadKey, err = hkdf.Key(sha256.New, deviceKey, salt[:], payloadKeyInfo, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("derive payload key: %w", err)
	}
	headerKey, err = hkdf.Key(sha256.New, deviceKey, salt[:], headerKeyInfo, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("derive header key: %w", err)
	}
	return payloadKey, headerKey, nil
}

func headerMAC(headerKey, fields []byte) []byte {
	m := hmac.New(sha256.New, headerKey)
	m.Write(fields)
	return m.Sum(nil)
}

// validate checks the fields a Writer takes from its caller.
func (h *Header) validate() error {
	if err := CheckSerial(h.Serial); err != nil {
		return err
	}
	if err := h.Schema.Validate(); err != nil {
		return err
	}
	if h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize {
		return fmt.Errorf("chunk size %d out of range %d..%d", h.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	for _, e := range h.Extensions {
		if len(e.Data) > 0xffff {
			return fmt.Errorf("extension %d has %d bytes, at most 65535 fit", e.Type, len(e.Data))
		}
	}
	return nil
}

// CheckSerial applies the rule of a device serial, which every data file header carries: 1 to
// MaxSerialLen printable ASCII bytes, no space (SX-00042). Everything that registers or reads
// serials uses it, so a serial accepted anywhere fits in a file.
func CheckSerial(s string) error {
	if len(s) == 0 || len(s) > MaxSerialLen {
		return fmt.Errorf("device serial %q has %d bytes, want 1 to %d", s, len(s), MaxSerialLen)
	}
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("device serial %q has a byte 0x%02x that is not printable ASCII (spaces are not allowed either): write it as on the label, such as SX-00042", s, s[i])
		}
	}
	return nil
}

// appendFields encodes every header field but the MAC (the MAC's input).
// The header length field is filled in from the final size.
func (h *Header) appendFields(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, Magic...)
	dst = append(dst, Version)
	dst = append(dst, 0, 0) // header length, set below
	dst = append(dst, byte(len(h.Serial)))
	dst = append(dst, h.Serial...)
	dst = binary.BigEndian.AppendUint32(dst, h.KeyID)
	dst = binary.BigEndian.AppendUint64(dst, h.Sequence)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.Created.UnixMilli()))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.Start.UnixMilli()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Schema.Interval.Milliseconds()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.ChunkSize))
	dst = append(dst, byte(len(h.Schema.Channels)))
	for _, c := range h.Schema.Channels {
		dst = append(dst, byte(len(c.Name)))
		dst = append(dst, c.Name...)
		dst = append(dst, byte(len(c.Unit)))
		dst = append(dst, c.Unit...)
		dst = append(dst, byte(int8(c.Resolution)))
	}
	extLen := 0
	for _, e := range h.Extensions {
		extLen += 3 + len(e.Data)
	}
	if extLen > 0xffff {
		return nil, fmt.Errorf("extensions take %d bytes, at most 65535 fit", extLen)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(extLen))
	for _, e := range h.Extensions {
		dst = append(dst, e.Type)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.Data)))
		dst = append(dst, e.Data...)
	}
	dst = append(dst, h.Salt[:]...)
	dst = append(dst, h.KeyCheck[:]...)
	size := len(dst) - start + MACSize
	if size > MaxHeaderSize {
		return nil, fmt.Errorf("header would take %d bytes, at most %d fit; use shorter names or fewer extensions", size, MaxHeaderSize)
	}
	binary.BigEndian.PutUint16(dst[start+len(Magic)+1:], uint16(size))
	return dst, nil
}

// ReadHeader reads and parses a data file header from r without any key:
// nothing is authenticated yet (use a Reader for that). It reads exactly the
// header's bytes. Errors: ErrNotDataFile, ErrUnsupportedVersion,
// ErrHeaderMalformed, ErrTruncated, or an I/O error.
func ReadHeader(r io.Reader) (Header, error) {
	h, _, err := readHeader(r)
	return h, err
}

// readHeader returns the parsed header and its raw bytes (the chunks' AAD).
func readHeader(r io.Reader) (Header, []byte, error) {
	var prefix [prefixSize]byte
	n, err := io.ReadFull(r, prefix[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Header{}, nil, fmt.Errorf("read data file header: %w", err)
	}
	got := prefix[:n]
	if m := min(n, len(Magic)); !bytes.Equal(got[:m], []byte(Magic)[:m]) {
		return Header{}, nil, &NotDataFileError{Prefix: bytes.Clone(got[:m])}
	}
	// A file cut before the version byte, even an empty one, is an
	// incomplete copy rather than a foreign file.
	if n <= len(Magic) {
		return Header{}, nil, &TruncatedError{Chunk: -1, Offset: int64(n), Inside: true}
	}
	if v := prefix[len(Magic)]; v != Version {
		return Header{}, nil, &UnsupportedVersionError{Version: int(v)}
	}
	if n < prefixSize {
		return Header{}, nil, &TruncatedError{Chunk: -1, Offset: int64(n), Inside: true}
	}
	size := int(binary.BigEndian.Uint16(prefix[len(Magic)+1:]))
	if size < minHeaderSize {
		return Header{}, nil, &HeaderError{Reason: fmt.Sprintf("header length %d is below the minimum %d", size, minHeaderSize)}
	}
	raw := make([]byte, size)
	copy(raw, prefix[:])
	m, err := io.ReadFull(r, raw[prefixSize:])
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return Header{}, nil, &TruncatedError{Chunk: -1, Offset: int64(prefixSize + m), Inside: true}
	}
	if err != nil {
		return Header{}, nil, fmt.Errorf("read data file header: %w", err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return Header{}, nil, err
	}
	return h, raw, nil
}

// headerParser reads fields from the raw header and remembers the first
// problem, so parseHeader reads like the layout table.
type headerParser struct {
	b   []byte
	off int
	err error
}

func (p *headerParser) take(n int, what string) []byte {
	if p.err != nil {
		return nil
	}
	if n > len(p.b)-p.off {
		p.err = &HeaderError{Offset: p.off, Reason: fmt.Sprintf("%s overruns the header length", what)}
		return nil
	}
	out := p.b[p.off : p.off+n]
	p.off += n
	return out
}

func (p *headerParser) u8(what string) int {
	if b := p.take(1, what); b != nil {
		return int(b[0])
	}
	return 0
}

func (p *headerParser) u16(what string) int {
	if b := p.take(2, what); b != nil {
		return int(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (p *headerParser) u32(what string) uint32 {
	if b := p.take(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (p *headerParser) u64(what string) uint64 {
	if b := p.take(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (p *headerParser) fail(off int, format string, args ...any) {
	if p.err == nil {
		p.err = &HeaderError{Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
}

// parseHeader parses a complete raw header (magic and version already
// checked) and validates every field.
func parseHeader(raw []byte) (Header, error) {
	p := &headerParser{b: raw[:len(raw)-MACSize], off: prefixSize}
	h := Header{Version: int(raw[len(Magic)]), Size: len(raw)}

	off := p.off
	serial := p.take(p.u8("serial length"), "serial")
	h.Serial = string(serial)
	if p.err == nil {
		if err := CheckSerial(h.Serial); err != nil {
			p.fail(off, "%v", err)
		}
	}
	h.KeyID = p.u32("key id")
	h.Sequence = p.u64("sequence number")
	h.Created = time.UnixMilli(int64(p.u64("creation time"))).UTC()
	h.Start = time.UnixMilli(int64(p.u64("base time"))).UTC()
	h.Schema.Interval = time.Duration(p.u32("interval")) * time.Millisecond
	off = p.off
	h.ChunkSize = int(p.u32("chunk size"))
	if p.err == nil && (h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize) {
		p.fail(off, "chunk size %d out of range %d..%d", h.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	off = p.off
	count := p.u8("channel count")
	if p.err == nil && count == 0 {
		p.fail(off, "no channel")
	}
	for i := 0; i < count && p.err == nil; i++ {
		var c readings.Channel
		c.Name = string(p.take(p.u8("channel name length"), "channel name"))
		c.Unit = string(p.take(p.u8("channel unit length"), "channel unit"))
		c.Resolution = int(int8(p.u8("channel resolution")))
		h.Schema.Channels = append(h.Schema.Channels, c)
	}
	if p.err == nil {
		if err := h.Schema.Validate(); err != nil {
			p.fail(off, "%v", err)
		}
	}
	off = p.off
	ext := p.take(p.u16("extensions length"), "extensions")
	for len(ext) > 0 && p.err == nil {
		if len(ext) < 3 || 3+int(binary.BigEndian.Uint16(ext[1:])) > len(ext) {
			p.fail(off, "extension overruns the extensions area")
			break
		}
		n := 3 + int(binary.BigEndian.Uint16(ext[1:]))
		h.Extensions = append(h.Extensions, Extension{Type: ext[0], Data: bytes.Clone(ext[3:n])})
		ext = ext[n:]
	}
	copy(h.Salt[:], p.take(SaltSize, "salt"))
	copy(h.KeyCheck[:], p.take(KeyCheckSize, "key check"))
	if p.err == nil && p.off != len(p.b) {
		p.fail(p.off, "%d unexpected bytes before the header MAC", len(p.b)-p.off)
	}
	if p.err != nil {
		return Header{}, p.err
	}
	return h, nil
}
