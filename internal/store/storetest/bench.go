package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

// OpenBench returns a new empty store for a benchmark, closed by the caller's cleanup.
type OpenBench func(b *testing.B) store.Store

// The month the benchmarks use, as design.md section 7 and docs/benchmarks.md describe it: a
// device's month of one-minute readings of 7 channels, one file an hour, as it uploads its
// spool after an outage.
const (
	monthFiles      = 720
	monthChannels   = 7
	readingsPerFile = 60
	monthReadings   = monthFiles * monthChannels * readingsPerFile // 302,400
)

// benchFile is one file's segments, as the server hands them to a store: sealed bytes of the
// size a sealed segment has (its channel's name, unit and resolution, the encoded readings,
// nonce and tag), and a 32-byte channel tag.
type benchFile struct {
	record   store.DataFile
	segments []store.Segment
}

// monthOfFiles builds the month of files of a device, starting at start (Unix ms).
func monthOfFiles(deviceID string, start int64) []benchFile {
	files := make([]benchFile, monthFiles)
	times := make([]int64, readingsPerFile)
	values := make([]int64, readingsPerFile)
	for i := range files {
		t0 := start + int64(i)*3_600_000
		f := &files[i]
		for c := range monthChannels {
			for r := range readingsPerFile {
				times[r] = t0 + int64(r)*60_000
				// A load curve: a daily shape and some noise, in watts.
				values[r] = int64(20_000 + 8_000*math.Sin(float64(times[r]%86_400_000)/86_400_000*2*math.Pi) + float64((r*7919+c*104729)%997))
			}
			tag := sha256.Sum256([]byte(fmt.Sprintf("channel-%d", c)))
			// A length-prefixed header (nonce, name, unit, resolution), the readings, the tag.
			head := fmt.Sprintf("nonce-and-name-of-channel-%d|kW|0.001", c)
			sealed := append(make([]byte, 0, 64+3*readingsPerFile), byte(len(head)))
			sealed = append(sealed, head...)
			sealed = store.AppendSegment(sealed, times, values)
			sealed = append(sealed, tag[:16]...) // the GCM tag's size
			f.segments = append(f.segments, store.Segment{ChannelIndex: c, ChannelTag: tag[:], TMin: times[0], TMax: times[readingsPerFile-1],
				Count: readingsPerFile, Sealed: sealed})
		}
		sum := sha256.Sum256(f.segments[0].Sealed)
		f.record = store.DataFile{DeviceID: deviceID, Sequence: uint64(i + 1), SHA256: sum[:], Size: 4096, KeyID: 1,
			Readings: monthChannels * readingsPerFile, FirstReading: t0, LastReading: t0 + (readingsPerFile-1)*60_000, Interval: time.Minute,
			CreatedAt: time.UnixMilli(t0 + 3_600_000).UTC(), ReceivedAt: time.UnixMilli(t0 + 3_600_000).UTC()}
	}
	return files
}

// storeMonth stores a month of files of device d, one file after the other.
func storeMonth(s store.Store, accountID string, files []benchFile) error {
	for i := range files {
		f := &files[i]
		err := s.StoreFile(context.Background(), accountID, f.record.DeviceID, f.record.Sequence, func(sink store.SegmentSink) (store.DataFile, error) {
			for j := range f.segments {
				if err := sink.Add(&f.segments[j]); err != nil {
					return store.DataFile{}, err
				}
			}
			return f.record, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchIngest measures StoreFile: each iteration stores a month of hourly files for each of
// devices new devices, concurrently (1: one device uploading its spool; more: that many
// devices uploading theirs at once). It reports readings/s.
func BenchIngest(b *testing.B, open OpenBench, devices int) {
	s := open(b)
	f := seed(b, s, fmt.Sprintf("ingest-%d@example.com", devices))
	site := mustSite(b, s, f, "Plant")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	// Every iteration gets its own devices, built before the clock starts.
	months := make([][][]benchFile, b.N)
	for i := range b.N {
		for range devices {
			d := mustDevice(b, s, site, newID("SX-"))
			months[i] = append(months[i], monthOfFiles(d.ID, start))
		}
	}
	b.ResetTimer()
	for i := range b.N {
		var wg sync.WaitGroup
		errs := make([]error, devices)
		for j := range devices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = storeMonth(s, f.acc.ID, months[i][j])
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*devices*monthReadings)/b.Elapsed().Seconds(), "readings/s")
}

// BenchScanMonth measures what a month's CSV export of one device asks of the store: every
// segment of the month, scanned in order and decoded. It reports readings/s.
func BenchScanMonth(b *testing.B, open OpenBench) {
	s := open(b)
	f := seed(b, s, "export@example.com")
	site := mustSite(b, s, f, "Plant")
	d := mustDevice(b, s, site, "SX-EXPORT")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	must(b, storeMonth(s, f.acc.ID, monthOfFiles(d.ID, start)))
	q := store.SegmentQuery{AccountID: f.acc.ID, DeviceID: d.ID, From: start, To: start + monthFiles*3_600_000}
	times, values := make([]int64, 0, readingsPerFile), make([]int64, 0, readingsPerFile)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n := 0
		err := s.ScanSegments(context.Background(), q, func(sg *store.Segment) error {
			var err error
			data := sg.Sealed[1+int(sg.Sealed[0]) : len(sg.Sealed)-16]
			times, values, err = store.DecodeSegment(data, sg.TMin, sg.Count, times[:0], values[:0])
			n += len(times)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != monthReadings {
			b.Fatalf("scanned %d readings, want %d", n, monthReadings)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*monthReadings)/b.Elapsed().Seconds(), "readings/s")
}
