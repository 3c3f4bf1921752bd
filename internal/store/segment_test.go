package store

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestSegmentRoundTrip(t *testing.T) {
	tests := []struct {
		name          string
		times, values []int64
		maxBytes      int // the encoding must not be larger
	}{
		{"empty", nil, nil, 0},
		{"one reading", []int64{1_700_000_000_000}, []int64{42}, 2},
		{"steady minute load curve", steady(60, 60_000), ramp(60, 12_000, 3), 60*2 + 6},
		{"equal times", []int64{5, 5, 5}, []int64{1, 2, 3}, 6},
		{"irregular", []int64{0, 1, 1000, 1_000_000, 1_000_001}, []int64{-5, 5, -5, 5, 0}, 40},
		{"extremes", []int64{math.MinInt64, 0, math.MaxInt64}, []int64{math.MaxInt64, math.MinInt64, -1}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := AppendSegment(nil, tt.times, tt.values)
			if len(data) > tt.maxBytes {
				t.Fatalf("%d readings take %d bytes, want at most %d", len(tt.times), len(data), tt.maxBytes)
			}
			var tMin int64
			if len(tt.times) > 0 {
				tMin = tt.times[0]
			}
			times, values, err := DecodeSegment(data, tMin, len(tt.times), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(times, tt.times) || !slices.Equal(values, tt.values) {
				t.Fatalf("decoded %v %v, want %v %v", times, values, tt.times, tt.values)
			}
		})
	}
}

func steady(n int, step int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = 1_736_121_600_000 + int64(i)*step
	}
	return out
}

func ramp(n int, start, step int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = start + int64(i%7)*step - int64(i%3)*step
	}
	return out
}

func TestDecodeSegmentRejectsDamage(t *testing.T) {
	good := AppendSegment(nil, steady(3, 1000), []int64{1, 2, 3})
	tests := []struct {
		name  string
		data  []byte
		count int
	}{
		{"too few readings", good, 4},
		{"too many bytes", good, 2},
		{"cut varint", append(slices.Clone(good[:len(good)-1]), 0x80), 3},
		{"overlong varint", append(binary.AppendUvarint(nil, 1), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := DecodeSegment(tt.data, 0, tt.count, nil, nil); !errors.Is(err, ErrCorruptSegment) {
				t.Fatalf("DecodeSegment = %v, want ErrCorruptSegment", err)
			}
		})
	}
}

func FuzzDecodeSegment(f *testing.F) {
	f.Add(AppendSegment(nil, steady(5, 60_000), []int64{1, -1, 300, 0, math.MaxInt64}), 5)
	f.Add([]byte{0x80}, 1)
	f.Fuzz(func(t *testing.T, data []byte, count int) {
		count = min(max(count, 0), 1000)
		times, values, err := DecodeSegment(data, 0, count, nil, nil)
		if err != nil {
			return
		}
		if count == 0 {
			return
		}
		// Whatever decodes survives a round trip through the encoder.
		again := AppendSegment(nil, times, values)
		t2, v2, err := DecodeSegment(again, times[0], count, nil, nil)
		if err != nil || !slices.Equal(t2, times) || !slices.Equal(v2, values) {
			t.Fatalf("round trip of %v %v: %v %v %v", times, values, t2, v2, err)
		}
	})
}

func BenchmarkDecodeSegment(b *testing.B) {
	times, values := steady(60, 60_000), ramp(60, 12_000, 3)
	data := AppendSegment(nil, times, values)
	var ts, vs []int64
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if ts, vs, err = DecodeSegment(data, times[0], 60, ts[:0], vs[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*60/b.Elapsed().Seconds(), "readings/s")
}
