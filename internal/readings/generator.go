package readings

import (
	"errors"
	"fmt"
	"iter"
	"time"
)

// Indexes of the channels in a Generator's schema.
const (
	GenMain     = iota // main supply power, W; about the sum of the four sub-uses
	GenHVAC            // heating, ventilation and air conditioning power, W
	GenLighting        // lighting power, W
	GenIT              // IT equipment power, W
	GenOther           // other uses power (kitchen, lifts, sockets), W
	GenVoltage         // supply voltage, 0.1 V
	GenEnergy          // main supply energy counter, Wh
	genChannels
)

// Defaults of GeneratorConfig.
const (
	DefaultGeneratorInterval = time.Minute
	DefaultGeneratorDuration = 24 * time.Hour
	DefaultFloorArea         = 2000 // m²: a mid-size office building
)

// ErrInvalidGeneratorConfig is returned (wrapped) by NewGenerator.
var ErrInvalidGeneratorConfig = errors.New("invalid generator config")

// GeneratorConfig sets up a synthetic building load curve. The zero value is
// usable: one day of one-minute readings of a 2000 m² office from Monday
// 2025-01-06 00:00 UTC.
type GeneratorConfig struct {
	// Seed selects the building's randomness (noise, daily variation, gaps).
	Seed uint64
	// Start is the time of the first sample, truncated to the millisecond.
	Start time.Time
	// Interval between samples, a whole number of milliseconds of at least
	// one second; default one minute.
	Interval time.Duration
	// Duration of the run; samples are at Start + k×Interval < Start +
	// Duration. Default one day.
	Duration time.Duration
	// FloorArea in m² (10 to 1,000,000) scales every load: peak demand is
	// about 50 W/m² in winter.
	FloorArea int
	// UTCOffset is the site's offset from UTC, which places office hours and
	// weekends (a fixed offset rather than a zone so that results never
	// depend on the tz database of the machine).
	UTCOffset time.Duration
	// Gaps simulates offline periods (a few minutes to three hours, about one
	// every three days) during which the device stores no readings.
	Gaps bool
}

// Generator produces a deterministic synthetic load curve. Every power,
// voltage and gap is a pure function of (seed, channel, timestamp) and the
// configuration, so any sub-range has exactly the values of the full run;
// the energy counter is the running sum of the main power from Start. A
// Generator is immutable and safe for concurrent use.
type Generator struct {
	seed     uint64
	start    int64 // ms
	interval int64 // ms
	count    int64 // samples in the run
	offset   int64 // ms
	area     int64
	gaps     bool
	energy0  int64 // counter value at start, Wh
}

// Design loads in W per m², at full occupancy (and full season for HVAC).
const (
	hvacWPerM2     = 25
	lightingWPerM2 = 10
	itWPerM2       = 8
	otherWPerM2    = 7
	msPerMinute    = 60_000
	msPerHour      = 60 * msPerMinute
	msPerDay       = 24 * msPerHour
	msPerWh        = msPerHour // W·ms in one Wh
	nominalVoltage = 2300      // 230.0 V in 0.1 V steps
)

// Hash streams: one per kind of randomness so no two draws coincide.
const (
	streamNoise uint64 = iota + 1 // + channel
	streamDay                     // per-day occupancy level and shift
	streamHVACPhase
	streamSpike
	streamGap
	streamEnergy
	streamLosses
)

// NewGenerator checks cfg, fills in defaults and returns its generator.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC) // a Monday: a run starts a working week
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultGeneratorInterval
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultGeneratorDuration
	}
	if cfg.FloorArea == 0 {
		cfg.FloorArea = DefaultFloorArea
	}
	switch {
	case cfg.Interval < time.Second || cfg.Interval%time.Millisecond != 0 || cfg.Interval > 24*time.Hour:
		return nil, fmt.Errorf("%w: interval %v must be whole milliseconds between 1s and 24h", ErrInvalidGeneratorConfig, cfg.Interval)
	case cfg.Duration < 0:
		return nil, fmt.Errorf("%w: negative duration %v", ErrInvalidGeneratorConfig, cfg.Duration)
	case cfg.FloorArea < 10 || cfg.FloorArea > 1_000_000:
		return nil, fmt.Errorf("%w: floor area %d m², want 10 to 1000000", ErrInvalidGeneratorConfig, cfg.FloorArea)
	case cfg.UTCOffset < -14*time.Hour || cfg.UTCOffset > 14*time.Hour:
		return nil, fmt.Errorf("%w: UTC offset %v beyond ±14h", ErrInvalidGeneratorConfig, cfg.UTCOffset)
	}
	g := &Generator{
		seed:     mix64(cfg.Seed ^ 0x5eed_5a17_0000_0001),
		start:    cfg.Start.UnixMilli(),
		interval: cfg.Interval.Milliseconds(),
		offset:   cfg.UTCOffset.Milliseconds(),
		area:     int64(cfg.FloorArea),
		gaps:     cfg.Gaps,
	}
	g.count = (cfg.Duration.Milliseconds() + g.interval - 1) / g.interval
	// A plausible meter index: the building has been running for a while.
	g.energy0 = int64(g.hash(streamEnergy, 0)%5_000_000) + 100_000
	return g, nil
}

// Schema returns the generator's channels (see GenMain...GenEnergy).
func (g *Generator) Schema() Schema {
	return Schema{
		Channels: []Channel{
			GenMain:     {Name: "main", Unit: "W"},
			GenHVAC:     {Name: "hvac", Unit: "W"},
			GenLighting: {Name: "lighting", Unit: "W"},
			GenIT:       {Name: "it", Unit: "W"},
			GenOther:    {Name: "other", Unit: "W"},
			GenVoltage:  {Name: "voltage", Unit: "V", Resolution: -1},
			GenEnergy:   {Name: "main_energy", Unit: "Wh"},
		},
		Interval: time.Duration(g.interval) * time.Millisecond,
	}
}

// Start returns the time of the first sample in Unix ms.
func (g *Generator) Start() int64 { return g.start }

// End returns the end of the run in Unix ms (exclusive).
func (g *Generator) End() int64 { return g.start + g.count*g.interval }

// Online reports whether the device stores readings at t: false inside a
// simulated offline period.
func (g *Generator) Online(t int64) bool {
	if !g.gaps {
		return true
	}
	slot := floorDiv(t, msPerHour)
	// An outage starts in a slot and lasts at most 180 minutes, so only the
	// three previous hour slots can still cover t.
	for s := slot - 3; s <= slot; s++ {
		h := g.hash(streamGap, s)
		if h%1000 >= 14 {
			continue
		}
		begin := s*msPerHour + int64((h>>10)%msPerHour)
		length := (5 + int64((h>>32)%176)) * msPerMinute
		if t >= begin && t < begin+length {
			return false
		}
	}
	return true
}

// All returns every reading of the run in time order, channels in index order
// at each sample time, skipping offline periods.
func (g *Generator) All() iter.Seq[Reading] { return g.Range(g.start, g.End()) }

// Range returns the readings of the run with from <= Time < to, exactly as
// All would produce them.
func (g *Generator) Range(from, to int64) iter.Seq[Reading] {
	return func(yield func(Reading) bool) {
		from, to = max(from, g.start), min(to, g.End())
		if from >= to {
			return
		}
		first := ceilDiv(from-g.start, g.interval)
		last := ceilDiv(to-g.start, g.interval) // exclusive
		// The energy counter integrates main power from the start of the run,
		// including offline periods (the meter keeps counting).
		var acc int64 // W·ms since start
		for k := range first {
			acc += g.power(g.start+k*g.interval).main * g.interval
		}
		for k := first; k < last; k++ {
			t := g.start + k*g.interval
			p := g.power(t)
			if g.Online(t) {
				values := [genChannels]int64{
					GenMain:     p.main,
					GenHVAC:     p.hvac,
					GenLighting: p.lighting,
					GenIT:       p.it,
					GenOther:    p.other,
					GenVoltage:  g.voltage(t, p.occupancy),
					GenEnergy:   g.energy0 + acc/msPerWh,
				}
				for ch, v := range values {
					if !yield(Reading{Time: t, Channel: ch, Value: v}) {
						return
					}
				}
			}
			acc += p.main * g.interval
		}
	}
}

// powers holds the loads at one instant, in W, and the occupancy in ‰.
type powers struct {
	main, hvac, lighting, it, other int64
	occupancy                       int64
}

// power computes the loads at t with integer arithmetic only, so results are
// identical on every platform (no floating-point fusion or libm differences).
func (g *Generator) power(t int64) powers {
	local := t + g.offset
	day := floorDiv(local, msPerDay)
	minute := floorMod(local, msPerDay) / msPerMinute
	weekday := floorMod(day+4, 7) // 1970-01-01 was a Thursday; 0 = Sunday

	dh := g.hash(streamDay, day)
	level := 900 + int64(dh%201)     // this day's occupancy, 900..1100 ‰
	shift := int64((dh>>16)%41) - 20 // arrival/departure shift, minutes
	occ := occupancy(weekday, minute-shift) * level / 1000
	occ = min(occ, 1000)

	var p powers
	p.occupancy = occ
	p.lighting = g.noisy(GenLighting, t, g.area*lightingWPerM2*(60+940*occ/1000)/1000, 30)
	p.it = g.noisy(GenIT, t, g.area*itWPerM2*(550+450*occ/1000)/1000, 15)
	other := g.area * otherWPerM2 * (250 + 750*occ/1000) / 1000
	if g.hash(streamSpike, t)%1000 < 30 {
		other += other * 4 / 10 // lifts, kettles, a dishwasher starting
	}
	p.other = g.noisy(GenOther, t, other, 80)

	// HVAC follows its own schedule (pre-heating before people arrive, a
	// night set-back), the season, and a compressor cycle of 20 minutes.
	sched := hvacSchedule(weekday, minute, occ)
	hvac := g.area * hvacWPerM2 * sched / 1000 * season(day) / 1000
	phase := int64(g.hash(streamHVACPhase, day) % 20)
	if (minute+phase)%20 < 7 {
		hvac += hvac * 15 / 100
	} else {
		hvac -= hvac * 8 / 100
	}
	p.hvac = g.noisy(GenHVAC, t, hvac, 60)

	// The main meter also sees unmetered losses (1..3 %) and its own noise.
	sum := p.hvac + p.lighting + p.it + p.other
	losses := 10 + int64(g.hash(streamLosses, day)%21)
	p.main = g.noisy(GenMain, t, sum*(1000+losses)/1000, 5)
	return p
}

// voltage sags a little when the building (and its neighbours) draw more.
func (g *Generator) voltage(t, occ int64) int64 {
	return nominalVoltage - 40*occ/1000 + g.noise(GenVoltage, t, 15)
}

// noisy adds roughly Gaussian noise of about permille/1000 relative spread.
func (g *Generator) noisy(ch int, t, base, permille int64) int64 {
	return max(base+base*permille/1000*g.noise(ch, t, 1000)/1000, 0)
}

// noise returns a roughly Gaussian integer in [-scale, scale]: the sum of
// three 16-bit uniforms from one hash.
func (g *Generator) noise(ch int, t, scale int64) int64 {
	h := g.hash(streamNoise+uint64(ch)<<8, t)
	s := int64(h&0xffff) + int64(h>>16&0xffff) + int64(h>>32&0xffff) - 3*0x7fff
	return s * scale / (3 * 0x7fff)
}

// occupancy returns the share of people present (‰) at a local minute of
// the day: offices on weekdays, a short Saturday morning, closed on Sunday.
func occupancy(weekday, minute int64) int64 {
	switch weekday {
	case 0:
		return 0
	case 6:
		saturday := [...][2]int64{{0, 0}, {480, 0}, {540, 200}, {780, 200}, {840, 0}, {1440, 0}}
		return interpolate(minute, saturday[:])
	default:
		// Arrivals 06:30-08:30, a lunch dip, departures 18:00-20:00.
		weekday := [...][2]int64{{0, 0}, {390, 0}, {510, 1000}, {720, 1000}, {780, 850}, {840, 1000}, {1080, 1000}, {1200, 0}, {1440, 0}}
		return interpolate(minute, weekday[:])
	}
}

// interpolate evaluates a piecewise-linear profile given as (minute of day,
// ‰) points in increasing minute order.
func interpolate(x int64, points [][2]int64) int64 {
	if x <= points[0][0] {
		return points[0][1]
	}
	for i := 1; i < len(points); i++ {
		x0, y0 := points[i-1][0], points[i-1][1]
		x1, y1 := points[i][0], points[i][1]
		if x < x1 {
			return y0 + (y1-y0)*(x-x0)/(x1-x0)
		}
	}
	return points[len(points)-1][1]
}

// hvacSchedule returns the HVAC demand (‰ of design) for the time of day.
func hvacSchedule(weekday, minute, occ int64) int64 {
	switch {
	case weekday == 0:
		return 120
	case weekday == 6:
		return 120 + occ*2
	case minute >= 300 && minute < 420: // pre-heating / pre-cooling 05:00-07:00
		return 900
	case minute >= 420 && minute < 1170:
		return 550 + 450*occ/1000
	default:
		return 100 // night set-back
	}
}

// season returns the HVAC seasonal factor (‰): highest mid-January (heating)
// and, a little lower, mid-July (cooling); lowest mid-April and mid-October.
func season(day int64) int64 {
	const year = 3_652_425 // days × 10^4 in a Gregorian year
	const half = year / 2
	p := floorMod(day*10_000-14*10_000, year) // 0 on January 15th
	q := p % half
	tri := abs(q-half/2) * 1000 / (half / 2) // 1000 at the peaks, 0 between
	peak := int64(1000)
	if p >= half/2 && p < 3*half/2 {
		peak = 850 // summer
	}
	return 200 + 800*tri/1000*peak/1000
}

// hash mixes the seed, a stream and a key (a time or a day) into 64 random
// bits (splitmix64 finalizer).
func (g *Generator) hash(stream uint64, key int64) uint64 {
	return mix64(g.seed ^ mix64(stream*0x9e3779b97f4a7c15+uint64(key)))
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
