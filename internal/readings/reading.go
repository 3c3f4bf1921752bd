// Package readings is the meter-reading model of Smart X data files: the
// Reading and Schema types, the compact record encoding of a file's payload,
// a deterministic synthetic load-curve generator, and streaming per-channel
// summaries.
//
// Values are integers counting steps of the channel's resolution, so a value
// is stored and compared exactly as the meter measured it; conversion to a
// float or to decimal text happens only at the edges.
package readings

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a schema, chosen so a whole file header stays small (under
// 64 KiB) and channel indexes fit in one or two varint bytes.
const (
	MaxChannels    = 255 // channels per schema
	MaxNameLen     = 64  // bytes of a channel name
	MaxUnitLen     = 16  // bytes of a unit
	MinResolution  = -9  // smallest decimal exponent (1e-9 units)
	MaxResolution  = 9   // largest decimal exponent (1e9 units)
	maxIntervalMs  = math.MaxUint32
	maxValueDigits = 20 // digits of the largest uint64
)

// ErrInvalidSchema is returned (wrapped) by Schema.Validate.
var ErrInvalidSchema = errors.New("invalid schema")

// Reading is one measured value of one channel at one instant.
type Reading struct {
	// Time is the measurement time in Unix milliseconds (UTC).
	Time int64
	// Channel is the index of the channel in the file's Schema.
	Channel int
	// Value counts steps of the channel's resolution: the physical value is
	// Value × 10^Resolution in the channel's unit.
	Value int64
}

// Channel describes one measured quantity of a device.
type Channel struct {
	// Name identifies the channel, e.g. "main" or "hvac".
	Name string
	// Unit is the physical unit of the value, e.g. "W", "V", "Wh".
	Unit string
	// Resolution is the decimal exponent of one value step: 0 means 1 unit,
	// -1 means 0.1 unit, 3 means 1000 units.
	Resolution int
}

// Schema is the set of channels a device records and its sampling interval.
type Schema struct {
	// Channels are indexed by Reading.Channel.
	Channels []Channel
	// Interval is the nominal sampling interval (a whole number of
	// milliseconds); zero means irregular sampling.
	Interval time.Duration
}

// Validate reports whether s can be stored in a data file header: 1 to
// MaxChannels channels with unique printable names, printable units,
// resolutions in MinResolution..MaxResolution and a whole-millisecond
// interval that fits in 32 bits.
func (s Schema) Validate() error {
	if len(s.Channels) == 0 || len(s.Channels) > MaxChannels {
		return fmt.Errorf("%w: %d channels, want 1 to %d", ErrInvalidSchema, len(s.Channels), MaxChannels)
	}
	for i, c := range s.Channels {
		if err := checkLabel(c.Name, 1, MaxNameLen); err != nil {
			return fmt.Errorf("%w: channel %d name: %v", ErrInvalidSchema, i, err)
		}
		if err := checkLabel(c.Unit, 0, MaxUnitLen); err != nil {
			return fmt.Errorf("%w: channel %d (%s) unit: %v", ErrInvalidSchema, i, c.Name, err)
		}
		if c.Resolution < MinResolution || c.Resolution > MaxResolution {
			return fmt.Errorf("%w: channel %d (%s) resolution %d, want %d to %d",
				ErrInvalidSchema, i, c.Name, c.Resolution, MinResolution, MaxResolution)
		}
		for j := range i {
			if s.Channels[j].Name == c.Name {
				return fmt.Errorf("%w: channels %d and %d are both named %q", ErrInvalidSchema, j, i, c.Name)
			}
		}
	}
	if s.Interval < 0 || s.Interval%time.Millisecond != 0 || s.Interval/time.Millisecond > maxIntervalMs {
		return fmt.Errorf("%w: interval %v is not a whole number of milliseconds between 0 and %d", ErrInvalidSchema, s.Interval, int64(maxIntervalMs))
	}
	return nil
}

// Index returns the index of the channel called name, or -1.
func (s Schema) Index(name string) int {
	for i, c := range s.Channels {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// checkLabel enforces the format's text rule for names and units: valid UTF-8
// without control characters, so a label can be printed to a terminal or a
// CSV file without smuggling escape sequences.
func checkLabel(s string, minLen, maxLen int) error {
	if len(s) < minLen || len(s) > maxLen {
		return fmt.Errorf("%d bytes, want %d to %d", len(s), minLen, maxLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}

// Float returns the physical value of the reading in the unit of channel c.
func (r Reading) Float(c Channel) float64 { return Float(r.Value, c.Resolution) }

// AppendValue appends the exact decimal text of the reading's value in the
// unit of channel c to dst.
func (r Reading) AppendValue(dst []byte, c Channel) []byte {
	return AppendValue(dst, r.Value, c.Resolution)
}

// Float returns value × 10^resolution as the nearest float64 (exact when the
// value has at most 15 significant digits).
func Float(value int64, resolution int) float64 {
	switch {
	case resolution == 0:
		return float64(value)
	case resolution > 0 && resolution <= MaxResolution:
		return float64(value) * pow10(resolution)
	case resolution < 0 && resolution >= MinResolution:
		// Dividing by an exact power of ten rounds once, so 12345 at -1
		// gives exactly the float64 nearest to 1234.5.
		return float64(value) / pow10(-resolution)
	default:
		return float64(value) * math.Pow10(resolution)
	}
}

// pow10 returns 10^n for 0 <= n <= 9 exactly.
func pow10(n int) float64 {
	p := 1.0
	for range n {
		p *= 10
	}
	return p
}

// AppendValue appends the exact decimal text of value × 10^resolution to dst
// without allocating (when dst has room): 12345 at -1 gives "1234.5", 5 at -3
// gives "0.005", 12 at 2 gives "1200", -7 at -1 gives "-0.7". Negative
// resolutions always print -resolution fraction digits, so the text also
// says how precise the measurement is. Resolutions outside
// MinResolution..MaxResolution are printed in exponent form ("12e-15").
func AppendValue(dst []byte, value int64, resolution int) []byte {
	switch {
	case resolution == 0:
		return strconv.AppendInt(dst, value, 10)
	case resolution < MinResolution || resolution > MaxResolution:
		dst = strconv.AppendInt(dst, value, 10)
		dst = append(dst, 'e')
		return strconv.AppendInt(dst, int64(resolution), 10)
	case resolution > 0:
		dst = strconv.AppendInt(dst, value, 10)
		if value == 0 {
			return dst
		}
		for range resolution {
			dst = append(dst, '0')
		}
		return dst
	}
	u := uint64(value)
	if value < 0 {
		dst = append(dst, '-')
		u = -u // two's complement magnitude, correct for math.MinInt64 too
	}
	var scratch [maxValueDigits]byte
	digits := strconv.AppendUint(scratch[:0], u, 10)
	frac := -resolution
	if len(digits) <= frac {
		dst = append(dst, '0', '.')
		for range frac - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	cut := len(digits) - frac
	dst = append(dst, digits[:cut]...)
	dst = append(dst, '.')
	return append(dst, digits[cut:]...)
}

// ParseValue reads the decimal text AppendValue writes ("1234.5", "-0.7", "1200", "12e-15")
// back into a count of resolution steps and the resolution: ParseValue("229.8") is 2298, -1.
// The number of fraction digits is the resolution, so the value stays exact.
func ParseValue(s string) (value int64, resolution int, err error) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return 0, 0, fmt.Errorf("value %q: bad exponent", s)
		}
		exp = e
	}
	if dot := strings.IndexByte(mant, '.'); dot >= 0 {
		frac := mant[dot+1:]
		if frac == "" || strings.ContainsAny(frac, "+-") {
			return 0, 0, fmt.Errorf("value %q is not a decimal number", s)
		}
		exp -= len(frac)
		mant = mant[:dot] + frac
	}
	v, err := strconv.ParseInt(mant, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("value %q is not an exact decimal number", s)
	}
	if exp < -18 || exp > 18 {
		return 0, 0, fmt.Errorf("value %q: resolution 1e%d is out of range", s, exp)
	}
	return v, exp, nil
}
