package readings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"testing"
	"testing/iotest"
	"time"
)

// encodeAll encodes rs with a fresh encoder and fails the test on error.
func encodeAll(t testing.TB, channels int, base int64, rs []Reading) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := NewRecordEncoder(&buf, channels, base)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			t.Fatalf("Encode(%+v): %v", r, err)
		}
	}
	return buf.Bytes()
}

// decodeAll decodes until an error and returns the readings and that error
// (nil for a clean io.EOF).
func decodeAll(r io.Reader, channels int, base int64) ([]Reading, error) {
	dec := NewRecordDecoder(r, channels, base)
	var out []Reading
	for {
		rd, err := dec.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rd)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	g, err := NewGenerator(GeneratorConfig{Seed: 7, Duration: 6 * time.Hour, Gaps: true})
	if err != nil {
		t.Fatal(err)
	}
	generated := slices.Collect(g.All())
	const base = 1_700_000_000_000
	extremes := []Reading{
		{Time: base, Channel: 0, Value: math.MaxInt64},
		{Time: base, Channel: 0, Value: math.MinInt64},
		{Time: base, Channel: 1, Value: math.MinInt64},
		{Time: base + 1, Channel: 1, Value: math.MaxInt64},
		{Time: math.MaxInt64, Channel: 2, Value: -1},
		{Time: math.MaxInt64, Channel: 2, Value: 0},
	}
	tests := []struct {
		name     string
		channels int
		base     int64
		readings []Reading
	}{
		{"empty payload", 3, base, nil},
		{"generated load curve", 7, g.Start(), generated},
		{"extreme values and times", 3, base, extremes},
		{"negative times", 1, -5000, []Reading{{Time: -5000, Value: 3}, {Time: -1, Value: -3}, {Time: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := encodeAll(t, tt.channels, tt.base, tt.readings)
			for _, reader := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", bytes.NewReader(payload)},
				{"one byte at a time", iotest.OneByteReader(bytes.NewReader(payload))},
				{"half reads", iotest.HalfReader(bytes.NewReader(payload))},
			} {
				got, err := decodeAll(reader.r, tt.channels, tt.base)
				if err != nil {
					t.Fatalf("%s: decode: %v", reader.name, err)
				}
				if !slices.Equal(got, tt.readings) {
					t.Fatalf("%s: decoded %d readings, want %d (first difference at %d)",
						reader.name, len(got), len(tt.readings), firstDifference(got, tt.readings))
				}
			}
		})
	}
}

func firstDifference(a, b []Reading) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestRecordEncodingIsCompact(t *testing.T) {
	g, err := NewGenerator(GeneratorConfig{Seed: 1, Duration: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rs := slices.Collect(g.All())
	payload := encodeAll(t, 7, g.Start(), rs)
	perReading := float64(len(payload)) / float64(len(rs))
	t.Logf("%d readings in %d bytes: %.2f bytes a reading", len(rs), len(payload), perReading)
	if perReading > 4.5 {
		t.Errorf("%.2f bytes a reading, want at most 4.5", perReading)
	}
}

func TestRecordBytes(t *testing.T) {
	// Pins the byte layout documented in docs/file-format.md.
	rs := []Reading{
		{Time: 1000, Channel: 0, Value: 1500},
		{Time: 1000, Channel: 1, Value: -2},
		{Time: 61000, Channel: 0, Value: 1436},
	}
	got := encodeAll(t, 2, 1000, rs)
	want := []byte{
		0x00, 0x00, 0xb8, 0x17, // dt 0, ch 0, +1500 → zigzag 3000
		0x00, 0x01, 0x03, // dt 0, ch 1, -2 → zigzag 3
		0xe0, 0xd4, 0x03, 0x00, 0x7f, // dt 60000, ch 0, -64 → zigzag 127
	}
	if !bytes.Equal(got, want) {
		t.Errorf("records = % x, want % x", got, want)
	}
}

func TestRecordEncoderRejects(t *testing.T) {
	tests := []struct {
		name    string
		reading Reading
		want    error
	}{
		{"channel beyond schema", Reading{Time: 2000, Channel: 2}, ErrUnknownChannel},
		{"negative channel", Reading{Time: 2000, Channel: -1}, ErrUnknownChannel},
		{"time before previous", Reading{Time: 1999, Channel: 0}, ErrOutOfOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := NewRecordEncoder(&buf, 2, 1000)
			if err := enc.Encode(Reading{Time: 2000, Channel: 1, Value: 5}); err != nil {
				t.Fatal(err)
			}
			before := buf.Len()
			if err := enc.Encode(tt.reading); !errors.Is(err, tt.want) {
				t.Fatalf("Encode = %v, want %v", err, tt.want)
			}
			if buf.Len() != before {
				t.Fatalf("a rejected reading wrote %d bytes", buf.Len()-before)
			}
			// The encoder state is unchanged: the next good reading round-trips.
			if err := enc.Encode(Reading{Time: 3000, Channel: 1, Value: 6}); err != nil {
				t.Fatal(err)
			}
			got, err := decodeAll(&buf, 2, 1000)
			if err != nil || len(got) != 2 || got[1] != (Reading{Time: 3000, Channel: 1, Value: 6}) {
				t.Fatalf("decoded %v, %v", got, err)
			}
		})
	}
}

func TestAppendRecord(t *testing.T) {
	enc := NewRecordEncoder(io.Discard, 1, 0)
	buf, err := enc.AppendRecord([]byte{0xaa}, Reading{Time: 1, Value: -1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xaa, 0x01, 0x00, 0x01}; !bytes.Equal(buf, want) {
		t.Errorf("AppendRecord = % x, want % x", buf, want)
	}
	if _, err := enc.AppendRecord(nil, Reading{Time: 0}); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("AppendRecord out of order = %v, want ErrOutOfOrder", err)
	}
}

func TestRecordDecoderRejects(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		good    int   // readings decoded before the error
		offset  int64 // payload offset of the bad record
	}{
		{"record cut in time delta", []byte{0x00, 0x00, 0x02, 0x80}, 1, 3},
		{"record cut after time delta", []byte{0x05}, 0, 0},
		{"record cut in value", []byte{0x00, 0x01, 0x80}, 0, 0},
		{"channel out of range", []byte{0x00, 0x00, 0x02, 0x00, 0x02, 0x02}, 1, 3},
		{"channel index overflows", []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00}, 0, 0},
		{"varint longer than 10 bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00, 0x00}, 0, 0},
		{"non-minimal varint", []byte{0x80, 0x00, 0x00, 0x00}, 0, 0},
		{"time overflows", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := NewRecordDecoder(bytes.NewReader(tt.payload), 2, 1000)
			for i := range tt.good {
				if _, err := dec.Next(); err != nil {
					t.Fatalf("reading %d: %v", i, err)
				}
			}
			_, err := dec.Next()
			var re *RecordError
			if !errors.As(err, &re) || !errors.Is(err, ErrMalformedRecord) {
				t.Fatalf("Next = %v, want a *RecordError", err)
			}
			if re.Index != int64(tt.good) || re.Offset != tt.offset {
				t.Errorf("error at record %d byte %d, want record %d byte %d", re.Index, re.Offset, tt.good, tt.offset)
			}
			if _, again := dec.Next(); again != err {
				t.Errorf("second Next = %v, want the same error", again)
			}
		})
	}
}

func TestRecordDecoderTimeAtMaximum(t *testing.T) {
	// A delta landing exactly on MaxInt64 is fine; one more overflows.
	payload := encodeAll(t, 1, math.MaxInt64-5, []Reading{{Time: math.MaxInt64}})
	if got, err := decodeAll(bytes.NewReader(payload), 1, math.MaxInt64-5); err != nil || len(got) != 1 {
		t.Fatalf("decode = %v, %v", got, err)
	}
	if _, err := decodeAll(bytes.NewReader(payload), 1, math.MaxInt64-4); !errors.Is(err, ErrMalformedRecord) {
		t.Fatalf("decode past MaxInt64 = %v, want ErrMalformedRecord", err)
	}
}

func TestRecordDecoderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	good := encodeAll(t, 1, 0, []Reading{{Time: 1, Value: 1}, {Time: 2, Value: 2}})
	r := io.MultiReader(bytes.NewReader(good[:len(good)-1]), iotest.ErrReader(boom))
	got, err := decodeAll(r, 1, 0)
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformedRecord) {
		t.Fatalf("decode = %v, want the read error and not a malformed record", err)
	}
	if len(got) != 1 {
		t.Fatalf("decoded %d readings before the error, want 1", len(got))
	}
}

func TestRecordDecoderReset(t *testing.T) {
	first := encodeAll(t, 3, 0, []Reading{{Time: 5, Channel: 2, Value: 9}, {Time: 6, Channel: 2, Value: 10}})
	second := encodeAll(t, 1, 100, []Reading{{Time: 100, Value: 1}})
	dec := NewRecordDecoder(bytes.NewReader(first), 3, 0)
	if _, err := dec.Next(); err != nil {
		t.Fatal(err)
	}
	dec.Reset(bytes.NewReader(second), 1, 100)
	got, err := dec.Next()
	if err != nil || got != (Reading{Time: 100, Value: 1}) {
		t.Fatalf("after Reset: %+v, %v", got, err)
	}
	if _, err := dec.Next(); err != io.EOF {
		t.Fatalf("after Reset the old payload leaks: %v", err)
	}
}

func TestRecordDecoderNoProgress(t *testing.T) {
	_, err := decodeAll(emptyReader{}, 1, 0)
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("decode = %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestRecordDecoderDoesNotAllocatePerReading(t *testing.T) {
	g, err := NewGenerator(GeneratorConfig{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	payload := encodeAll(t, 7, g.Start(), slices.Collect(g.All()))
	r := bytes.NewReader(payload)
	dec := NewRecordDecoder(r, 7, g.Start())
	allocs := testing.AllocsPerRun(1, func() {
		for {
			if _, err := dec.Next(); err != nil {
				break
			}
		}
	})
	if allocs != 0 || dec.Records() == 0 {
		t.Errorf("decoding %d readings allocated %.0f times, want 0", dec.Records(), allocs)
	}
}

func FuzzRecordDecoder(f *testing.F) {
	g, err := NewGenerator(GeneratorConfig{Seed: 11, Duration: time.Hour, Gaps: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeAll(f, 7, g.Start(), slices.Collect(g.All())), uint8(7))
	f.Add([]byte{0x00, 0x00, 0xb8, 0x17, 0x00, 0x01, 0x03}, uint8(2))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00}, uint8(1))
	f.Fuzz(func(t *testing.T, payload []byte, channels uint8) {
		n := int(channels%8) + 1
		dec := NewRecordDecoder(bytes.NewReader(payload), n, 0)
		var got []Reading
		for {
			r, err := dec.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrMalformedRecord) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if r.Channel < 0 || r.Channel >= n {
				t.Fatalf("channel %d outside %d channels", r.Channel, n)
			}
			got = append(got, r)
		}
		// A payload that decodes cleanly re-encodes to the same bytes:
		// the encoding is canonical.
		again := encodeAll(t, n, 0, got)
		if !bytes.Equal(again, payload) {
			t.Fatalf("re-encoding differs:\n got % x\nwant % x", again, payload)
		}
	})
}

func BenchmarkRecordDecode(b *testing.B) {
	g, err := NewGenerator(GeneratorConfig{Seed: 5, Duration: 7 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	rs := slices.Collect(g.All())
	payload := encodeAll(b, 7, g.Start(), rs)
	b.SetBytes(int64(len(payload)))
	r := bytes.NewReader(payload)
	for b.Loop() {
		r.Reset(payload)
		dec := NewRecordDecoder(r, 7, g.Start())
		for {
			if _, err := dec.Next(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(len(rs))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkRecordEncode(b *testing.B) {
	g, err := NewGenerator(GeneratorConfig{Seed: 5, Duration: 7 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	rs := slices.Collect(g.All())
	buf := make([]byte, 0, len(rs)*MaxRecordLen)
	for b.Loop() {
		enc := NewRecordEncoder(io.Discard, 7, g.Start())
		buf = buf[:0]
		for _, r := range rs {
			buf, _ = enc.AppendRecord(buf, r)
		}
	}
	b.ReportMetric(float64(len(rs))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

func ExampleAppendValue() {
	fmt.Println(string(AppendValue(nil, 2301, -1)))
	fmt.Println(string(AppendValue(nil, -5, -3)))
	// Output:
	// 230.1
	// -0.005
}
