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
const KeyHint = "give the device key with --key-file FILE, --bundle FILE, --device SERIAL (from the platform) or SMARTX_DEVICE_KEY (64 hex digits)"

// NoKeyError reports that a file cannot be decoded without its device's key.
func NoKeyError(f File) error {
	return fmt.Errorf("%w for %s: %s", ErrNoKey, f.Header.Serial, KeyHint)
}
