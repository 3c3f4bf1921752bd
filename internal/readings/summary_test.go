package readings

import (
	"math"
	"testing"
	"time"
)

func TestSummaryStatistics(t *testing.T) {
	schema := Schema{Channels: []Channel{{Name: "a"}, {Name: "b"}}, Interval: time.Minute}
	s := NewSummary(schema, 4)
	const m = 60_000
	for _, r := range []Reading{
		{Time: 0, Channel: 0, Value: 10},
		{Time: 0, Channel: 1, Value: -5},
		{Time: m, Channel: 0, Value: 30},
		{Time: 2 * m, Channel: 0, Value: 20},
		{Time: 10 * m, Channel: 1, Value: 7}, // after an 8-minute gap
		{Time: 10 * m, Channel: 9, Value: 1}, // unknown channel
	} {
		s.Add(r)
	}
	if s.Records != 6 || s.Unknown != 1 {
		t.Errorf("records %d unknown %d, want 6 and 1", s.Records, s.Unknown)
	}
	if s.First != 0 || s.Last != 10*m || s.Span() != 10*time.Minute {
		t.Errorf("span %d..%d (%v), want 0..%d", s.First, s.Last, s.Span(), 10*m)
	}
	a := s.Channels[0]
	if a.Count != 3 || a.Min != 10 || a.Max != 30 || a.Mean() != 20 {
		t.Errorf("channel a: %+v mean %v", a, a.Mean())
	}
	b := s.Channels[1]
	if b.Count != 2 || b.Min != -5 || b.Max != 7 || b.Mean() != 1 {
		t.Errorf("channel b: %+v mean %v", b, b.Mean())
	}
	if s.GapCount != 1 || len(s.Gaps) != 1 || s.Gaps[0] != (Gap{Start: 2 * m, End: 10 * m}) || s.Gaps[0].Duration() != 8*time.Minute {
		t.Errorf("gaps %+v (%d), want one from minute 2 to 10", s.Gaps, s.GapCount)
	}
	// 11 minutes in at most 4 buckets: width 4 minutes, 3 buckets used.
	buckets := s.Buckets()
	if len(buckets) != 3 {
		t.Fatalf("%d buckets, want 3", len(buckets))
	}
	if w := buckets[0].End - buckets[0].Start; w != 4*m {
		t.Errorf("bucket width %d ms, want %d", w, 4*m)
	}
	if got := s.BucketMeans(0); got[0] != 20 || !math.IsNaN(got[1]) || !math.IsNaN(got[2]) {
		t.Errorf("channel a bucket means %v, want [20 NaN NaN]", got)
	}
	if got := s.BucketMeans(1); got[0] != -5 || got[2] != 7 {
		t.Errorf("channel b bucket means %v, want [-5 NaN 7]", got)
	}
	if s.BucketMeans(5) != nil {
		t.Error("BucketMeans of an unknown channel is not nil")
	}
}

func TestSummaryEmpty(t *testing.T) {
	s := NewSummary(Schema{Channels: []Channel{{Name: "a"}}}, 0)
	if s.Buckets() != nil || s.Span() != 0 || !math.IsNaN(s.Channels[0].Mean()) {
		t.Errorf("empty summary: buckets %v span %v mean %v", s.Buckets(), s.Span(), s.Channels[0].Mean())
	}
}

func TestSummaryBucketsMatchDirectMeans(t *testing.T) {
	g := newGenerator(t, GeneratorConfig{Seed: 8, Duration: 30 * 24 * time.Hour, Gaps: true})
	const n = 60
	s := NewSummary(g.Schema(), n)
	for r := range g.All() {
		s.Add(r)
	}
	buckets := s.Buckets()
	if len(buckets) < n/2 || len(buckets) > n {
		t.Fatalf("%d buckets, want %d..%d", len(buckets), n/2, n)
	}
	var total int64
	for i, b := range buckets {
		// Recompute the bucket's mean of main power from the generator.
		var sum, count int64
		for r := range g.Range(b.Start, b.End) {
			if r.Channel == GenMain {
				sum, count = sum+r.Value, count+1
			}
		}
		if count != b.Count[GenMain] {
			t.Fatalf("bucket %d has %d main readings, want %d", i, b.Count[GenMain], count)
		}
		if count > 0 && math.Abs(b.Mean[GenMain]-float64(sum)/float64(count)) > 1e-6 {
			t.Fatalf("bucket %d main mean %v, want %v", i, b.Mean[GenMain], float64(sum)/float64(count))
		}
		total += count
	}
	if total != s.Channels[GenMain].Count {
		t.Errorf("buckets hold %d main readings, the summary %d", total, s.Channels[GenMain].Count)
	}
}

func TestSummaryBoundsGapsAndExtremeTimes(t *testing.T) {
	s := NewSummary(Schema{Channels: []Channel{{Name: "a"}}, Interval: time.Second}, 8)
	s.MaxGaps = 2
	for i := range int64(5) {
		s.Add(Reading{Time: i * 10_000})
	}
	if s.GapCount != 4 || len(s.Gaps) != 2 {
		t.Errorf("gap count %d kept %d, want 4 and 2", s.GapCount, len(s.Gaps))
	}
	s.Add(Reading{Time: math.MaxInt64})
	s.Add(Reading{Time: math.MinInt64})
	if len(s.Buckets()) == 0 || s.Records != 7 {
		t.Errorf("extreme times broke the summary: %d records", s.Records)
	}
}

func BenchmarkSummaryAdd(b *testing.B) {
	g := newGenerator(b, GeneratorConfig{Seed: 1, Duration: 7 * 24 * time.Hour})
	var rs []Reading
	for r := range g.All() {
		rs = append(rs, r)
	}
	for b.Loop() {
		s := NewSummary(g.Schema(), 80)
		for _, r := range rs {
			s.Add(r)
		}
	}
	b.ReportMetric(float64(len(rs))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
