package readings

import (
	"math"
	"time"
)

// DefaultMaxGaps is how many gaps a Summary keeps by default; further gaps
// are only counted, so a summary stays small whatever the input.
const DefaultMaxGaps = 1000

// ChannelStats are the statistics of one channel's values, in resolution
// steps (convert with Float and the channel's resolution).
type ChannelStats struct {
	Count    int64
	Min, Max int64   // meaningless when Count is 0
	Sum      float64 // sum of the values, for the mean
}

// Mean returns the mean value in resolution steps, or NaN without readings.
func (c ChannelStats) Mean() float64 {
	if c.Count == 0 {
		return math.NaN()
	}
	return c.Sum / float64(c.Count)
}

// Gap is a stretch without any reading longer than twice the schema
// interval: Start is the time of the last reading before it, End the time of
// the first reading after it (Unix ms).
type Gap struct {
	Start, End int64
}

// Duration returns the length of the gap.
func (g Gap) Duration() time.Duration { return time.Duration(g.End-g.Start) * time.Millisecond }

// Bucket is one time slice of a summary's sparkline: [Start, End) in Unix
// ms, and per channel the number and mean of the readings in it (Mean is NaN
// where Count is 0).
type Bucket struct {
	Start, End int64
	Count      []int64
	Mean       []float64
}

// Summary accumulates statistics over a stream of readings in time order
// (as a data file yields them), in memory that does not grow with the
// stream. The zero value is not usable; call NewSummary.
type Summary struct {
	// Schema is the schema the readings refer to.
	Schema Schema
	// Records counts the readings added (including those of unknown channels).
	Records int64
	// First and Last are the earliest and latest reading times (Unix ms),
	// meaningless when Records is 0.
	First, Last int64
	// Channels holds the statistics per channel index.
	Channels []ChannelStats
	// Unknown counts readings whose channel is outside the schema.
	Unknown int64
	// Gaps lists the first MaxGaps gaps; GapCount counts them all.
	Gaps     []Gap
	GapCount int64
	// MaxGaps bounds len(Gaps).
	MaxGaps int

	nBuckets int
	width    int64     // bucket width in ms, doubled as the stream grows
	origin   int64     // start of bucket 0
	sums     []float64 // [bucket*channels + channel]
	counts   []int64
}

// NewSummary returns an empty summary of readings of schema s, with at most
// buckets sparkline buckets (at least 1).
func NewSummary(s Schema, buckets int) *Summary {
	buckets = max(buckets, 1)
	n := len(s.Channels)
	width := s.Interval.Milliseconds()
	if width <= 0 {
		width = 1000
	}
	return &Summary{
		Schema:   s,
		Channels: make([]ChannelStats, n),
		MaxGaps:  DefaultMaxGaps,
		nBuckets: buckets,
		width:    width,
		sums:     make([]float64, buckets*n),
		counts:   make([]int64, buckets*n),
	}
}

// Add accounts for one reading. Readings are expected in non-decreasing time
// order; an earlier one still counts in the statistics and in the first
// bucket it can go to, but cannot open a gap.
func (s *Summary) Add(r Reading) {
	if s.Records == 0 {
		s.First, s.Last, s.origin = r.Time, r.Time, r.Time
	}
	s.Records++
	// Unsigned differences cannot overflow for any pair of int64 times.
	if interval := s.Schema.Interval.Milliseconds(); interval > 0 && r.Time > s.Last && uint64(r.Time-s.Last) > 2*uint64(interval) {
		s.GapCount++
		if len(s.Gaps) < s.MaxGaps {
			s.Gaps = append(s.Gaps, Gap{Start: s.Last, End: r.Time})
		}
	}
	s.First, s.Last = min(s.First, r.Time), max(s.Last, r.Time)
	if r.Channel < 0 || r.Channel >= len(s.Channels) {
		s.Unknown++
		return
	}
	c := &s.Channels[r.Channel]
	if c.Count == 0 {
		c.Min, c.Max = r.Value, r.Value
	} else {
		c.Min, c.Max = min(c.Min, r.Value), max(c.Max, r.Value)
	}
	c.Count++
	c.Sum += float64(r.Value)

	b := s.bucket(r.Time)
	i := b*len(s.Channels) + r.Channel
	s.sums[i] += float64(r.Value)
	s.counts[i]++
}

// bucket returns the bucket index of t, widening the buckets (merging them
// in pairs) until t fits.
func (s *Summary) bucket(t int64) int {
	if t < s.origin {
		return 0
	}
	for uint64(t-s.origin)/uint64(s.width) >= uint64(s.nBuckets) {
		if s.width > math.MaxInt64/2 {
			return s.nBuckets - 1
		}
		s.widen()
	}
	return int(uint64(t-s.origin) / uint64(s.width))
}

func (s *Summary) widen() {
	n := len(s.Channels)
	for b := range s.nBuckets {
		for ch := range n {
			dst := b*n + ch
			var sum float64
			var count int64
			if left := 2*b*n + ch; left < len(s.sums) {
				sum, count = s.sums[left], s.counts[left]
			}
			if right := (2*b+1)*n + ch; right < len(s.sums) {
				sum += s.sums[right]
				count += s.counts[right]
			}
			s.sums[dst], s.counts[dst] = sum, count
		}
	}
	s.width *= 2
}

// Buckets returns the sparkline buckets from the first reading to the last:
// equal widths, at most the number given to NewSummary and, once the
// readings span more than that many intervals, at least half of it.
func (s *Summary) Buckets() []Bucket {
	if s.Records == 0 {
		return nil
	}
	used := int(min(uint64(s.Last-s.origin)/uint64(s.width)+1, uint64(s.nBuckets)))
	n := len(s.Channels)
	out := make([]Bucket, used)
	for b := range out {
		bk := Bucket{
			Start: s.origin + int64(b)*s.width,
			End:   s.origin + int64(b+1)*s.width,
			Count: make([]int64, n),
			Mean:  make([]float64, n),
		}
		for ch := range n {
			count := s.counts[b*n+ch]
			bk.Count[ch] = count
			bk.Mean[ch] = math.NaN()
			if count > 0 {
				bk.Mean[ch] = s.sums[b*n+ch] / float64(count)
			}
		}
		out[b] = bk
	}
	return out
}

// BucketMeans returns the per-bucket means of one channel (NaN for empty
// buckets), ready for a sparkline; nil for an unknown channel.
func (s *Summary) BucketMeans(channel int) []float64 {
	if channel < 0 || channel >= len(s.Channels) {
		return nil
	}
	buckets := s.Buckets()
	out := make([]float64, len(buckets))
	for i, b := range buckets {
		out[i] = b.Mean[channel]
	}
	return out
}

// Span returns the time from the first to the last reading.
func (s *Summary) Span() time.Duration {
	if s.Records == 0 {
		return 0
	}
	return time.Duration(s.Last-s.First) * time.Millisecond
}
