package datafiles

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/readings"
)

// Filter selects readings: From inclusive, To exclusive (zero means open), and channel names
// (empty means all).
type Filter struct {
	From, To time.Time
	Channels []string
}

// Decoded is the outcome of decoding one file.
type Decoded struct {
	File
	// Readings is how many readings of the file passed the filter and were written.
	Readings int64
	// Err says why the file could not be decoded completely (nil when it was).
	Err error
}

// Columns returns the channels of files that pass the filter, in order of first appearance:
// the columns of a wide export. A channel of the filter that no file has is an error naming
// the channels there are.
func Columns(files []File, flt Filter) ([]readings.Channel, error) {
	var cols []readings.Channel
	have := map[string]bool{}
	for _, f := range files {
		if f.Err != nil {
			continue
		}
		for _, c := range f.Header.Schema.Channels {
			if !have[c.Name] {
				have[c.Name] = true
				cols = append(cols, c)
			}
		}
	}
	if len(flt.Channels) == 0 {
		return cols, nil
	}
	var picked []readings.Channel
	for _, name := range flt.Channels {
		i := slices.IndexFunc(cols, func(c readings.Channel) bool { return c.Name == name })
		if i < 0 {
			names := make([]string, len(cols))
			for j, c := range cols {
				names[j] = c.Name
			}
			return nil, fmt.Errorf("channel %q is in none of the files: they have %s", name, strings.Join(names, ", "))
		}
		picked = append(picked, cols[i])
	}
	return picked, nil
}

// checkEvery is how many readings pass between checks for cancellation.
const checkEvery = 1 << 16

// Decode streams the readings of files, in order, through flt into exp. Each file is decrypted
// and verified as it is read. Without keepGoing the first file that fails stops the run and its
// error is returned; with keepGoing every file is tried and the failures are in the results.
// onFile, when not nil, is called after each file. Cancelling ctx stops between readings.
func Decode(ctx context.Context, files []File, keys aescodec.KeyLookup, flt Filter, exp *readings.Exporter, keepGoing bool, onFile func(Decoded)) ([]Decoded, error) {
	// [From, To) as the whole milliseconds first..last, both inclusive: an exclusive bound of
	// 2^63-1 would drop a valid reading at that very millisecond (which inspect counts).
	var first, last int64 = minInt64, maxInt64
	if !flt.From.IsZero() {
		first = ceilMillis(flt.From)
	}
	if !flt.To.IsZero() {
		if to := ceilMillis(flt.To); to == minInt64 {
			first, last = maxInt64, minInt64 // before every representable time: nothing passes
		} else {
			last = to - 1
		}
	}
	var rd aescodec.Reader
	br := bufio.NewReaderSize(nil, 64<<10)
	results := make([]Decoded, 0, len(files))
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		d := Decoded{File: f}
		d.Readings, d.Err = decodeOne(ctx, &rd, br, f, keys, flt.Channels, first, last, exp)
		results = append(results, d)
		if onFile != nil {
			onFile(d)
		}
		if d.Err != nil {
			if errors.Is(d.Err, context.Canceled) || errors.Is(d.Err, context.DeadlineExceeded) {
				return results, d.Err
			}
			if !keepGoing {
				return results, fmt.Errorf("decode %s: %w", f.Path, d.Err)
			}
		}
	}
	return results, nil
}

const (
	minInt64 = -1 << 63
	maxInt64 = 1<<63 - 1
)

// ceilMillis returns t in Unix milliseconds, rounded up: readings are whole milliseconds, so a
// reading is at or after t exactly when it is at or after this.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) && ms < maxInt64 {
		ms++
	}
	return ms
}

// decodeOne writes the readings of one file whose time is in [first, last] (inclusive).
func decodeOne(ctx context.Context, rd *aescodec.Reader, br *bufio.Reader, f File, keys aescodec.KeyLookup, channels []string, first, last int64, exp *readings.Exporter) (int64, error) {
	if f.Err != nil {
		return 0, f.Err
	}
	rc, err := open(f)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	br.Reset(rc)
	if keys == nil {
		return 0, NoKeyError(f)
	}
	if err := rd.Reset(br, keys); err != nil {
		return 0, err
	}
	h := rd.Header()
	schema := h.Schema.Channels
	keep := make([]bool, len(schema))
	for i, c := range schema {
		keep[i] = len(channels) == 0 || slices.Contains(channels, c.Name)
	}
	src := exp.Source(h.Serial, schema)
	var n, seen int64
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		seen++
		if seen%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		if r.Time < first || r.Time > last || !keep[r.Channel] {
			continue
		}
		if err := exp.WriteFrom(src, r); err != nil {
			return n, fmt.Errorf("write readings: %w", err)
		}
		n++
	}
}
