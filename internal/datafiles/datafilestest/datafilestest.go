// Package datafilestest writes realistic device data files for tests, benchmarks and demos:
// synthetic load curves from readings.Generator, encrypted with aescodec, one file per period,
// as a device's spool holds them.
package datafilestest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/readings"
)

// Device describes the files to write.
type Device struct {
	// Serial is the device serial, e.g. "SX-00042".
	Serial string
	// Key is the 32-byte device key and KeyID its id.
	Key   []byte
	KeyID uint32
	// Generator produces the readings (its schema is the files' schema).
	Generator *readings.Generator
	// Period is the time each file covers (default one hour).
	Period time.Duration
	// FirstSequence is the sequence number of the first file (default 1).
	FirstSequence uint64
}

// File is one encrypted data file in memory.
type File struct {
	Sequence uint64
	From, To int64 // unix ms, the half-open period the file covers
	Readings int
	Data     []byte
}

// Files encrypts the generator's readings into one file per period, in memory.
func Files(d Device) ([]File, error) {
	period := d.Period
	if period <= 0 {
		period = time.Hour
	}
	seq := d.FirstSequence
	if seq == 0 {
		seq = 1
	}
	g := d.Generator
	var out []File
	for from := g.Start(); from < g.End(); from += period.Milliseconds() {
		to := min(from+period.Milliseconds(), g.End())
		var buf bytes.Buffer
		h := aescodec.Header{Serial: d.Serial, KeyID: d.KeyID, Sequence: seq, Created: time.UnixMilli(to), Start: time.UnixMilli(from), Schema: g.Schema()}
		w, err := aescodec.NewWriter(&buf, d.Key, h)
		if err != nil {
			return nil, err
		}
		n := 0
		for r := range g.Range(from, to) {
			if err := w.Write(r); err != nil {
				return nil, err
			}
			n++
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		out = append(out, File{Sequence: seq, From: from, To: to, Readings: n, Data: buf.Bytes()})
		seq++
	}
	return out, nil
}

// WriteDir writes the files of d into dir as SERIAL-SEQUENCE.sxd and returns their paths.
func WriteDir(dir string, d Device) ([]string, error) {
	files, err := Files(d)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, fmt.Sprintf("%s-%06d.sxd", d.Serial, f.Sequence))
		if err := os.WriteFile(paths[i], f.Data, 0o644); err != nil {
			return nil, err
		}
	}
	return paths, nil
}
