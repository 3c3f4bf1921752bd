package datafiles

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/readings"
)

// SparklineBuckets is the number of points a channel's trend is summarised in.
const SparklineBuckets = 32

// Inspection is what `smartx inspect` knows of one file.
type Inspection struct {
	File
	// Layout is the chunk layout: from the size when not Verified, counted when Verified.
	Layout aescodec.Layout
	// LayoutErr says why the size does not match whole chunks (without a key).
	LayoutErr error
	// Verified is true when every chunk was decrypted and authenticated.
	Verified bool
	// Summary describes the readings (nil without a key).
	Summary *readings.Summary
	// Err is the reason decoding failed (with a key); the summary then covers the readings
	// before the damage.
	Err error
}

// Inspect describes f: from the header alone when keys is nil, else by decrypting and
// verifying every chunk and summarising the readings.
func Inspect(f File, keys aescodec.KeyLookup) Inspection {
	in := Inspection{File: f}
	if f.Err != nil {
		in.Err = f.Err
		return in
	}
	in.Layout, in.LayoutErr = f.Header.LayoutForSize(f.Size)
	if keys == nil {
		return in
	}
	rc, err := open(f)
	if err != nil {
		in.Err = err
		return in
	}
	defer rc.Close()
	rd, err := aescodec.NewReader(bufio.NewReaderSize(rc, 64<<10), keys)
	if err != nil {
		in.Err = err
		return in
	}
	in.Summary = readings.NewSummary(rd.Header().Schema, SparklineBuckets)
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			in.Err = err
			break
		}
		in.Summary.Add(r)
	}
	if in.Err == nil {
		in.Verified = true
		in.Layout = aescodec.Layout{Chunks: rd.Chunks(), PayloadBytes: in.Layout.PayloadBytes}
		in.LayoutErr = nil
	}
	return in
}

// ErrNoKey is returned when a key is needed and none was given.
var ErrNoKey = errors.New("no device key given")

// KeyHint is the advice for ErrNoKey, shared by every command that needs a key.
const KeyHint = "give the device key with --key-file FILE, --bundle FILE (repeatable), --device SERIAL or --fetch-keys (from the platform), or SMARTX_DEVICE_KEY (64 hex digits)"

// NoKeyError reports that a file cannot be decoded without its device's key.
func NoKeyError(f File) error {
	return fmt.Errorf("%w for %s: %s", ErrNoKey, f.Header.Serial, KeyHint)
}

// Damage classes of a file, as Damage names them: the platform's refusal reasons
// (api.RejectReason, docs/file-format.md section 8) and two that only a reader has.
const (
	DamageNone    = ""
	DamageNoKey   = "no_key"     // its device's key was not given: not verified
	DamageIOError = "unreadable" // the file could not be read at all
)

// Damage names the class of err, an Inspection's or Decoded's error: wrong_key, truncated,
// chunk_corrupt, header_tampered, header_malformed, not_a_data_file, unsupported_version,
// trailing_data, payload_malformed, no_key or unreadable; DamageNone for nil.
func Damage(err error) string {
	if err == nil {
		return DamageNone
	}
	classes := []struct {
		target error
		class  string
	}{
		{ErrNoKey, DamageNoKey},
		{aescodec.ErrKeyNotFound, DamageNoKey},
		{aescodec.ErrNotDataFile, "not_a_data_file"},
		{aescodec.ErrUnsupportedVersion, "unsupported_version"},
		{aescodec.ErrHeaderMalformed, "header_malformed"},
		{aescodec.ErrWrongKey, "wrong_key"},
		{aescodec.ErrHeaderTampered, "header_tampered"},
		{aescodec.ErrChunkCorrupt, "chunk_corrupt"},
		{aescodec.ErrTruncated, "truncated"},
		{aescodec.ErrTrailingData, "trailing_data"},
		{aescodec.ErrPayloadMalformed, "payload_malformed"},
	}
	for _, c := range classes {
		if errors.Is(err, c.target) {
			return c.class
		}
	}
	return DamageIOError
}
