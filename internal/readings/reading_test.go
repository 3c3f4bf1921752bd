package readings

import (
	"errors"
	"flag"
	"math"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestAppendValue(t *testing.T) {
	tests := []struct {
		value      int64
		resolution int
		want       string
	}{
		{0, 0, "0"},
		{12345, 0, "12345"},
		{-12345, 0, "-12345"},
		{12345, -1, "1234.5"},
		{12340, -1, "1234.0"},
		{-7, -1, "-0.7"},
		{5, -3, "0.005"},
		{-5, -3, "-0.005"},
		{0, -2, "0.00"},
		{100, -2, "1.00"},
		{12, 2, "1200"},
		{-12, 3, "-12000"},
		{0, 3, "0"},
		{math.MaxInt64, -9, "9223372036.854775807"},
		{math.MinInt64, -9, "-9223372036.854775808"},
		{math.MinInt64, 0, "-9223372036854775808"},
		{1, -9, "0.000000001"},
		{12, -15, "12e-15"},
		{12, 10, "12e10"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := string(AppendValue([]byte("x="), tt.value, tt.resolution))
			if got != "x="+tt.want {
				t.Errorf("AppendValue(%d, %d) = %q, want %q", tt.value, tt.resolution, got, "x="+tt.want)
			}
		})
	}
}

func TestAppendValueDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendValue(buf[:0], -123456789, -3)
		buf = AppendValue(buf, 42, 0)
		buf = AppendValue(buf, 42, 2)
	})
	if allocs != 0 {
		t.Errorf("AppendValue allocates %.1f times per run, want 0", allocs)
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		value      int64
		resolution int
		want       float64
	}{
		{12345, -1, 1234.5},
		{2301, -1, 230.1},
		{5, -3, 0.005},
		{12, 2, 1200},
		{-7, 0, -7},
		{3, 12, 3e12},
	}
	for _, tt := range tests {
		if got := Float(tt.value, tt.resolution); got != tt.want {
			t.Errorf("Float(%d, %d) = %v, want %v", tt.value, tt.resolution, got, tt.want)
		}
	}
	r := Reading{Value: 2301}
	if got := r.Float(Channel{Resolution: -1}); got != 230.1 {
		t.Errorf("Reading.Float = %v, want 230.1", got)
	}
	if got := string(r.AppendValue(nil, Channel{Resolution: -1})); got != "230.1" {
		t.Errorf("Reading.AppendValue = %q, want 230.1", got)
	}
}

func TestSchemaValidate(t *testing.T) {
	ok := Channel{Name: "main", Unit: "W"}
	many := make([]Channel, MaxChannels+1)
	for i := range many {
		many[i] = Channel{Name: strings.Repeat("c", 1+i%60) + string(rune('a'+i%26)) + string(rune('a'+i/26))}
	}
	tests := []struct {
		name   string
		schema Schema
		valid  bool
	}{
		{"one channel", Schema{Channels: []Channel{ok}, Interval: time.Minute}, true},
		{"irregular sampling", Schema{Channels: []Channel{ok}}, true},
		{"unicode name", Schema{Channels: []Channel{{Name: "chauffage é", Unit: "m³"}}}, true},
		{"max channels", Schema{Channels: many[:MaxChannels]}, true},
		{"no channel", Schema{}, false},
		{"too many channels", Schema{Channels: many}, false},
		{"empty name", Schema{Channels: []Channel{{Unit: "W"}}}, false},
		{"long name", Schema{Channels: []Channel{{Name: strings.Repeat("n", MaxNameLen+1)}}}, false},
		{"long unit", Schema{Channels: []Channel{{Name: "n", Unit: strings.Repeat("u", MaxUnitLen+1)}}}, false},
		{"escape in name", Schema{Channels: []Channel{{Name: "a\x1b[31m"}}}, false},
		{"C1 control in unit", Schema{Channels: []Channel{{Name: "a", Unit: "\u0085"}}}, false},
		{"invalid UTF-8", Schema{Channels: []Channel{{Name: "a\xff"}}}, false},
		{"duplicate names", Schema{Channels: []Channel{ok, ok}}, false},
		{"resolution too fine", Schema{Channels: []Channel{{Name: "a", Resolution: -10}}}, false},
		{"resolution too coarse", Schema{Channels: []Channel{{Name: "a", Resolution: 10}}}, false},
		{"sub-millisecond interval", Schema{Channels: []Channel{ok}, Interval: time.Microsecond}, false},
		{"negative interval", Schema{Channels: []Channel{ok}, Interval: -time.Second}, false},
		{"interval beyond 32 bits of ms", Schema{Channels: []Channel{ok}, Interval: 50 * 24 * time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.schema.Validate()
			if tt.valid && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tt.valid && !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("Validate() = %v, want ErrInvalidSchema", err)
			}
		})
	}
}

func TestSchemaIndex(t *testing.T) {
	s := Schema{Channels: []Channel{{Name: "main"}, {Name: "hvac"}}}
	if got := s.Index("hvac"); got != 1 {
		t.Errorf("Index(hvac) = %d, want 1", got)
	}
	if got := s.Index("nope"); got != -1 {
		t.Errorf("Index(nope) = %d, want -1", got)
	}
}

func BenchmarkAppendValue(b *testing.B) {
	buf := make([]byte, 0, 64)
	for i := 0; b.Loop(); i++ {
		buf = AppendValue(buf[:0], int64(i), -1)
	}
}

func TestParseValueInvertsAppendValue(t *testing.T) {
	tests := []struct {
		text string
		v    int64
		res  int
	}{
		{"1200", 1200, 0}, {"229.8", 2298, -1}, {"-0.7", -7, -1}, {"0.005", 5, -3}, {"12e-15", 12, -15},
		{"0.000", 0, -3}, {"-9223372036854775808", -9223372036854775808, 0},
	}
	for _, tt := range tests {
		v, res, err := ParseValue(tt.text)
		if err != nil || v != tt.v || res != tt.res {
			t.Errorf("ParseValue(%q) = %d, %d, %v; want %d, %d", tt.text, v, res, err, tt.v, tt.res)
			continue
		}
		if back := string(AppendValue(nil, v, res)); back != tt.text && tt.text != "12e-15" {
			t.Errorf("AppendValue(ParseValue(%q)) = %q", tt.text, back)
		}
	}
	for _, bad := range []string{"", "1.", "abc", "1.2.3", "1e", "1.-2"} {
		if _, _, err := ParseValue(bad); err == nil {
			t.Errorf("ParseValue(%q) accepted", bad)
		}
	}
}

func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"1200", "229.8", "-0.7", "0.005", "12e-15", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, res, err := ParseValue(s)
		if err != nil {
			return
		}
		v2, res2, err := ParseValue(string(AppendValue(nil, v, res)))
		if err != nil || Float(v2, res2) != Float(v, res) {
			t.Fatalf("%q -> (%d, %d) does not round-trip: (%d, %d) %v", s, v, res, v2, res2, err)
		}
	})
}
