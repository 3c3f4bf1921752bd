package readings

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func newGenerator(t testing.TB, cfg GeneratorConfig) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatalf("NewGenerator(%+v): %v", cfg, err)
	}
	return g
}

func TestGeneratorGolden(t *testing.T) {
	// Other packages (server tests, the simulator) compare against these
	// values, so any change to the model must be deliberate: rerun with
	// -update and say so in the change.
	g := newGenerator(t, GeneratorConfig{Seed: 42, Start: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC),
		Interval: time.Hour, Duration: 7 * 24 * time.Hour, FloorArea: 1500, UTCOffset: time.Hour, Gaps: true})
	var buf bytes.Buffer
	schema := g.Schema()
	for r := range g.All() {
		fmt.Fprintf(&buf, "%s %-11s %s\n", time.UnixMilli(r.Time).UTC().Format(time.RFC3339),
			schema.Channels[r.Channel].Name, r.AppendValue(nil, schema.Channels[r.Channel]))
	}
	path := filepath.Join("testdata", "generator.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("generator output differs from %s; if the change is deliberate rerun with -update", path)
	}
}

func TestGeneratorIsReproducible(t *testing.T) {
	cfg := GeneratorConfig{Seed: 9, Duration: 3 * 24 * time.Hour, Gaps: true}
	a := slices.Collect(newGenerator(t, cfg).All())
	b := slices.Collect(newGenerator(t, cfg).All())
	if !slices.Equal(a, b) {
		t.Fatal("two generators with the same config differ")
	}
	cfg.Seed++
	c := slices.Collect(newGenerator(t, cfg).All())
	if slices.Equal(a, c) {
		t.Fatal("a different seed gives the same readings")
	}
}

func TestGeneratorRangeMatchesFullRun(t *testing.T) {
	g := newGenerator(t, GeneratorConfig{Seed: 5, Interval: 5 * time.Minute, Duration: 4 * 24 * time.Hour, Gaps: true})
	full := slices.Collect(g.All())
	day := int64(24 * time.Hour / time.Millisecond)
	tests := []struct {
		name     string
		from, to int64
	}{
		{"whole run", g.Start(), g.End()},
		{"second day", g.Start() + day, g.Start() + 2*day},
		{"unaligned bounds", g.Start() + day + 123_456, g.Start() + 3*day - 1},
		{"before the start", g.Start() - day, g.Start() + 3_600_000},
		{"past the end", g.End() - 3_600_000, g.End() + day},
		{"empty", g.Start() + day, g.Start() + day},
		{"reversed", g.Start() + day, g.Start()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []Reading
			for _, r := range full {
				if r.Time >= tt.from && r.Time < tt.to {
					want = append(want, r)
				}
			}
			got := slices.Collect(g.Range(tt.from, tt.to))
			if !slices.Equal(got, want) {
				t.Fatalf("Range gave %d readings, want %d (first difference at %d)", len(got), len(want), firstDifference(got, want))
			}
		})
	}
}

func TestGeneratorStopsWhenAsked(t *testing.T) {
	g := newGenerator(t, GeneratorConfig{})
	n := 0
	for range g.All() {
		if n++; n == 10 {
			break
		}
	}
	if n != 10 {
		t.Fatalf("iterated %d readings", n)
	}
}

func TestGeneratorLoadShapes(t *testing.T) {
	// A winter week starting on Monday.
	g := newGenerator(t, GeneratorConfig{Seed: 1, Duration: 7 * 24 * time.Hour})
	type key struct{ weekday, hour int }
	var mainAt = map[key][]int64{}
	var subSum, mainSum int64
	var subs int64
	var lastEnergy int64 = -1
	for r := range g.All() {
		at := time.UnixMilli(r.Time).UTC()
		switch r.Channel {
		case GenMain:
			mainAt[key{int(at.Weekday()), at.Hour()}] = append(mainAt[key{int(at.Weekday()), at.Hour()}], r.Value)
			mainSum += r.Value
			subSum += subs
			subs = 0
		case GenHVAC, GenLighting, GenIT, GenOther:
			subs += r.Value
			if r.Value < 0 {
				t.Fatalf("negative power %v", r)
			}
		case GenVoltage:
			if r.Value < 2200 || r.Value > 2400 {
				t.Fatalf("voltage %d×0.1 V out of 220..240 V", r.Value)
			}
		case GenEnergy:
			if r.Value < lastEnergy {
				t.Fatalf("energy counter went down from %d to %d", lastEnergy, r.Value)
			}
			lastEnergy = r.Value
		}
	}
	subSum += subs
	mean := func(k key) float64 {
		var s int64
		for _, v := range mainAt[k] {
			s += v
		}
		return float64(s) / float64(len(mainAt[k]))
	}
	tuesdayNoon, tuesdayNight, sundayNoon := mean(key{2, 11}), mean(key{2, 2}), mean(key{0, 11})
	t.Logf("main: Tuesday 11h %.0f W, Tuesday 2h %.0f W, Sunday 11h %.0f W", tuesdayNoon, tuesdayNight, sundayNoon)
	if tuesdayNoon < 2.5*tuesdayNight {
		t.Errorf("weekday day load %.0f W is not well above the night load %.0f W", tuesdayNoon, tuesdayNight)
	}
	if tuesdayNoon < 2*sundayNoon {
		t.Errorf("weekday load %.0f W is not well above the Sunday load %.0f W", tuesdayNoon, sundayNoon)
	}
	// Peak around 50 W/m² in winter for the default 2000 m².
	if tuesdayNoon < 60_000 || tuesdayNoon > 130_000 {
		t.Errorf("weekday noon load %.0f W is implausible for 2000 m²", tuesdayNoon)
	}
	ratio := float64(mainSum) / float64(subSum)
	if ratio < 1.005 || ratio > 1.04 {
		t.Errorf("main / sum of sub-uses = %.4f, want slightly above 1", ratio)
	}
	// The energy counter integrates main power: one week of the mean load.
	first := slices.Collect(g.Range(g.Start(), g.Start()+1))
	integrated := float64(lastEnergy - first[GenEnergy].Value)
	expected := float64(mainSum) / float64(len(mainAt)*60) * (7*24 - 1.0/60)
	if integrated < 0.99*expected || integrated > 1.01*expected {
		t.Errorf("energy counter rose %.0f Wh, main power integrates to %.0f Wh", integrated, expected)
	}
}

func TestGeneratorSeasons(t *testing.T) {
	hvacMean := func(month time.Month) float64 {
		g := newGenerator(t, GeneratorConfig{Seed: 2, Start: time.Date(2025, month, 13, 0, 0, 0, 0, time.UTC), Duration: 5 * 24 * time.Hour})
		var s, n int64
		for r := range g.All() {
			if r.Channel == GenHVAC {
				s, n = s+r.Value, n+1
			}
		}
		return float64(s) / float64(n)
	}
	jan, apr, jul := hvacMean(time.January), hvacMean(time.April), hvacMean(time.July)
	t.Logf("HVAC mean: January %.0f W, April %.0f W, July %.0f W", jan, apr, jul)
	if jan < 2*apr || jul < 2*apr || jan <= jul {
		t.Errorf("HVAC should peak in January, a little less in July, and be low in April")
	}
}

func TestGeneratorGaps(t *testing.T) {
	g := newGenerator(t, GeneratorConfig{Seed: 4, Duration: 30 * 24 * time.Hour, Gaps: true})
	s := NewSummary(g.Schema(), 10)
	for r := range g.All() {
		s.Add(r)
	}
	if s.GapCount < 3 || s.GapCount > 30 {
		t.Errorf("%d offline periods in 30 days, want a handful", s.GapCount)
	}
	for _, gap := range s.Gaps {
		if gap.Duration() > 3*time.Hour+2*time.Minute {
			t.Errorf("gap %v longer than 3 hours", gap)
		}
		if g.Online(gap.Start+60_000) || !g.Online(gap.End) {
			t.Errorf("gap %v disagrees with Online", gap)
		}
	}
	noGaps := newGenerator(t, GeneratorConfig{Seed: 4, Duration: 30 * 24 * time.Hour})
	if n := len(slices.Collect(noGaps.All())); n != 30*24*60*7 {
		t.Errorf("without gaps: %d readings, want %d", n, 30*24*60*7)
	}
}

func TestGeneratorSiteSizeAndOffset(t *testing.T) {
	meanMain := func(cfg GeneratorConfig) float64 {
		var s, n int64
		for r := range newGenerator(t, cfg).All() {
			if r.Channel == GenMain {
				s, n = s+r.Value, n+1
			}
		}
		return float64(s) / float64(n)
	}
	small := meanMain(GeneratorConfig{Seed: 3, FloorArea: 500})
	big := meanMain(GeneratorConfig{Seed: 3, FloorArea: 5000})
	if r := big / small; r < 9 || r > 11 {
		t.Errorf("10× the floor area gives %.1f× the load", r)
	}
	// At UTC+10 the Monday office hours fall on Sunday evening UTC.
	g := newGenerator(t, GeneratorConfig{Seed: 3, UTCOffset: 10 * time.Hour, Start: time.Date(2025, 1, 5, 20, 0, 0, 0, time.UTC), Duration: 2 * time.Hour})
	local := newGenerator(t, GeneratorConfig{Seed: 3, Start: time.Date(2025, 1, 6, 6, 0, 0, 0, time.UTC), Duration: 2 * time.Hour})
	// Noise depends on the UTC instant, so only the shape must agree.
	if a, b := meanOf(g, GenLighting), meanOf(local, GenLighting); math.Abs(a-b) > 0.01*b {
		t.Errorf("lighting at 06:00 local differs between UTC+10 (%.0f W) and UTC (%.0f W)", a, b)
	}
}

func meanOf(g *Generator, ch int) float64 {
	var s, n int64
	for r := range g.All() {
		if r.Channel == ch {
			s, n = s+r.Value, n+1
		}
	}
	return float64(s) / float64(n)
}

func TestGeneratorConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  GeneratorConfig
	}{
		{"interval under a second", GeneratorConfig{Interval: 500 * time.Millisecond}},
		{"sub-millisecond interval", GeneratorConfig{Interval: time.Second + time.Microsecond}},
		{"negative duration", GeneratorConfig{Duration: -time.Hour}},
		{"tiny floor area", GeneratorConfig{FloorArea: 5}},
		{"UTC offset beyond 14h", GeneratorConfig{UTCOffset: 15 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewGenerator(tt.cfg); !errors.Is(err, ErrInvalidGeneratorConfig) {
				t.Fatalf("NewGenerator = %v, want ErrInvalidGeneratorConfig", err)
			}
		})
	}
	g := newGenerator(t, GeneratorConfig{})
	if err := g.Schema().Validate(); err != nil {
		t.Fatalf("generator schema: %v", err)
	}
	if n := len(slices.Collect(g.All())); n != 24*60*7 {
		t.Errorf("default run has %d readings, want one day of minutes × 7 channels", n)
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := newGenerator(b, GeneratorConfig{Seed: 1, Duration: 7 * 24 * time.Hour, Gaps: true})
	n := 0
	for b.Loop() {
		for range g.All() {
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
}
