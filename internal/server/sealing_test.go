package server

import (
	"slices"
	"testing"

	"github.com/smart-impulse/smartx/internal/store"
)

func TestSegmentPlainRoundTrip(t *testing.T) {
	times, values := []int64{1000, 61000, 121000}, []int64{-5, 0, 1 << 40}
	b := appendSegmentPlain(nil, "main_energy", "Wh", -2, times, values)
	name, unit, res, data, err := parseSegmentPlain(b, map[string]string{})
	if err != nil || name != "main_energy" || unit != "Wh" || res != -2 {
		t.Fatalf("parse = %q %q %d, %v", name, unit, res, err)
	}
	gotT, gotV, err := store.DecodeSegment(data, times[0], len(times), nil, nil)
	if err != nil || !slices.Equal(gotT, times) || !slices.Equal(gotV, values) {
		t.Fatalf("readings %v %v, %v", gotT, gotV, err)
	}
	for _, cut := range []int{0, 1, 5, 13} {
		if _, _, _, _, err := parseSegmentPlain(b[:cut], map[string]string{}); err == nil {
			t.Errorf("a segment cut at %d bytes parsed", cut)
		}
	}
}

// FuzzParseSegmentPlain: whatever opened from the store, parsing never panics, and what it
// accepts names a channel the encoding can hold.
func FuzzParseSegmentPlain(f *testing.F) {
	f.Add(appendSegmentPlain(nil, "main_energy", "Wh", 0, []int64{1, 2}, []int64{3, 4}))
	f.Add([]byte{0x80})
	f.Add([]byte{5, 'a', 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, unit, _, data, err := parseSegmentPlain(b, map[string]string{})
		if err == nil && len(name)+len(unit)+len(data) > len(b) {
			t.Fatalf("parsed more than given: %q %q %d", name, unit, len(data))
		}
	})
}
