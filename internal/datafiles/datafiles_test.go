package datafiles

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/datafiles/datafilestest"
	"github.com/smart-impulse/smartx/internal/readings"
)

var testKey = bytes.Repeat([]byte{0x5a}, 32)

var day = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

// writeDevice writes hours one-hour files of a synthetic device into dir.
func writeDevice(t testing.TB, dir, serial string, hours int, first uint64) []string {
	t.Helper()
	g, err := readings.NewGenerator(readings.GeneratorConfig{Seed: 7, Start: day, Duration: time.Duration(hours) * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := datafilestest.WriteDir(dir, datafilestest.Device{Serial: serial, Key: testKey, KeyID: 1, Generator: g, FirstSequence: first})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestFindOrdersByDeviceAndSequence(t *testing.T) {
	dir := t.TempDir()
	writeDevice(t, filepath.Join(dir, "b"), "SX-2", 2, 9)
	writeDevice(t, filepath.Join(dir, "a", "nested"), "SX-1", 3, 99)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a data file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.sxd"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := Find([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		if f.Err != nil {
			got = append(got, "error:"+filepath.Base(f.Path))
			continue
		}
		got = append(got, f.Header.Serial+"#"+strconv.FormatUint(f.Header.Sequence, 10))
	}
	want := "SX-1#99 SX-1#100 SX-1#101 SX-2#9 SX-2#10 error:junk.sxd"
	if strings.Join(got, " ") != want {
		t.Fatalf("order = %v, want %s", got, want)
	}
}

func TestFindMissingPath(t *testing.T) {
	_, err := Find([]string{filepath.Join(t.TempDir(), "missing")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestColumns(t *testing.T) {
	dir := t.TempDir()
	writeDevice(t, dir, "SX-1", 1, 1)
	files, err := Find([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	cols, err := Columns(files, Filter{Channels: []string{"hvac", "main"}})
	if err != nil || len(cols) != 2 || cols[0].Name != "hvac" {
		t.Fatalf("Columns = %v, %v", cols, err)
	}
	if _, err := Columns(files, Filter{Channels: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "they have main, hvac") {
		t.Fatalf("unknown channel error = %v", err)
	}
}

func TestDecode(t *testing.T) {
	dir := t.TempDir()
	writeDevice(t, dir, "SX-1", 3, 1)
	files, err := Find([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter Filter
		want   int64
	}{
		{"everything", Filter{}, 3 * 60 * 7},
		{"one channel", Filter{Channels: []string{"main"}}, 3 * 60},
		{"a time window", Filter{From: day.Add(time.Hour), To: day.Add(time.Hour + 10*time.Minute)}, 10 * 7},
		{"window and channel", Filter{From: day.Add(30 * time.Minute), To: day.Add(90 * time.Minute), Channels: []string{"voltage"}}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			exp, _ := readings.NewExporter(&buf, readings.ExportCSV, readings.ExportOptions{})
			res, err := Decode(context.Background(), files, aescodec.StaticKey(testKey), tt.filter, exp, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = exp.Close()
			var n int64
			for _, d := range res {
				n += d.Readings
			}
			lines := int64(strings.Count(buf.String(), "\n")) - 1
			if n != tt.want || lines != tt.want {
				t.Fatalf("decoded %d readings (%d lines), want %d", n, lines, tt.want)
			}
		})
	}
}

func TestDecodeKeepGoing(t *testing.T) {
	dir := t.TempDir()
	paths := writeDevice(t, dir, "SX-1", 3, 1)
	data, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[1], data[:len(data)-5], 0o644); err != nil { // truncate the middle file
		t.Fatal(err)
	}
	files, _ := Find([]string{dir})
	exp, _ := readings.NewExporter(&bytes.Buffer{}, readings.ExportCSV, readings.ExportOptions{})

	res, err := Decode(context.Background(), files, aescodec.StaticKey(testKey), Filter{}, exp, false, nil)
	if !errors.Is(err, aescodec.ErrTruncated) || len(res) != 2 {
		t.Fatalf("without keep-going: %d results, err %v; want a stop at the 2nd file on ErrTruncated", len(res), err)
	}
	res, err = Decode(context.Background(), files, aescodec.StaticKey(testKey), Filter{}, exp, true, nil)
	if err != nil || len(res) != 3 || res[1].Err == nil || res[2].Err != nil || res[2].Readings != 420 {
		t.Fatalf("with keep-going: err %v, results %+v", err, res)
	}
}

func TestDecodeCancelled(t *testing.T) {
	dir := t.TempDir()
	writeDevice(t, dir, "SX-1", 2, 1)
	files, _ := Find([]string{dir})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp, _ := readings.NewExporter(&bytes.Buffer{}, readings.ExportCSV, readings.ExportOptions{})
	if _, err := Decode(ctx, files, aescodec.StaticKey(testKey), Filter{}, exp, true, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	writeDevice(t, dir, "SX-1", 1, 1)
	files, _ := Find([]string{dir})
	in := Inspect(files[0], nil)
	if in.Verified || in.Summary != nil || in.LayoutErr != nil || in.Layout.Chunks != 1 {
		t.Fatalf("without key: %+v", in)
	}
	in = Inspect(files[0], aescodec.StaticKey(testKey))
	if !in.Verified || in.Summary.Records != 420 || in.Err != nil {
		t.Fatalf("with key: verified %v records %d err %v", in.Verified, in.Summary.Records, in.Err)
	}
	in = Inspect(files[0], aescodec.StaticKey(bytes.Repeat([]byte{1}, 32)))
	if !errors.Is(in.Err, aescodec.ErrWrongKey) {
		t.Fatalf("wrong key: err %v", in.Err)
	}
}

// BenchmarkDecodeCSV is `smartx decode --format csv` without the process: a week of one-minute
// readings from 168 files decrypted, verified, filtered and written as CSV. The design's target
// is 5 million readings per second per core.
func BenchmarkDecodeCSV(b *testing.B) {
	dir := b.TempDir()
	writeDevice(b, dir, "SX-1", 7*24, 1)
	files, err := Find([]string{dir})
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for b.Loop() {
		exp, _ := readings.NewExporter(discard{}, readings.ExportCSV, readings.ExportOptions{})
		res, err := Decode(context.Background(), files, aescodec.StaticKey(testKey), Filter{}, exp, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = exp.Close()
		for _, d := range res {
			total += d.Readings
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "readings/s")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestDecodeKeepsTheLastMillisecond: a reading at t = 2^63-1 ms is valid (the format allows
// every int64 time) and inspect counts it; decode without --to must write it too, and a --to
// never lets through a reading at or after it.
func TestDecodeKeepsTheLastMillisecond(t *testing.T) {
	dir := t.TempDir()
	last := int64(math.MaxInt64)
	h := aescodec.Header{Serial: "SX-END", KeyID: 1, Sequence: 1, Created: day, Start: time.UnixMilli(last - 60_000),
		Schema: readings.Schema{Channels: []readings.Channel{{Name: "main", Unit: "W"}}, Interval: time.Minute}}
	var buf bytes.Buffer
	w, err := aescodec.NewWriter(&buf, testKey, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []readings.Reading{{Time: last - 60_000, Value: 1}, {Time: last, Value: 2}} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "SX-END-000001.sxd"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := Find([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if in := Inspect(files[0], aescodec.StaticKey(testKey)); in.Err != nil || in.Summary.Records != 2 {
		t.Fatalf("inspect: %d records, %v", in.Summary.Records, in.Err)
	}
	for _, tt := range []struct {
		name   string
		filter Filter
		want   int64
	}{
		{"no bounds", Filter{}, 2},
		{"from the last millisecond", Filter{From: time.UnixMilli(last)}, 1},
		{"to the last millisecond, exclusive", Filter{To: time.UnixMilli(last)}, 1},
		{"from after the first, sub-millisecond", Filter{From: time.UnixMilli(last - 60_000).Add(time.Microsecond)}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exp, _ := readings.NewExporter(&bytes.Buffer{}, readings.ExportCSV, readings.ExportOptions{})
			res, err := Decode(context.Background(), files, aescodec.StaticKey(testKey), tt.filter, exp, false, nil)
			if err != nil || res[0].Readings != tt.want {
				t.Fatalf("decoded %d readings (err %v), want %d", res[0].Readings, err, tt.want)
			}
		})
	}
}
