package device

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/timeexpr"
)

// Defaults of Config.
const (
	DefaultInterval      = time.Minute
	DefaultFilePeriod    = time.Hour
	DefaultSpoolCap      = 31 * 24 * time.Hour // the "about a month" a Smart X keeps
	DefaultDrainTimeout  = 2 * time.Minute
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = time.Minute
	DefaultUploadTimeout = time.Minute
)

// Limits of Config.
const (
	MinFilePeriod = time.Minute
	MaxFilePeriod = 24 * time.Hour
	MaxSpeed      = 1e9
	// generatorSpan is the length of the generator's run: far beyond any simulation, so
	// every simulator of a spool uses the very same generator.
	generatorSpan = 100 * 365 * 24 * time.Hour
	// maxRetryAfter bounds how long a Retry-After can hold uploads.
	maxRetryAfter = time.Hour
)

// ErrDrainTimeout: the simulated duration ended but files were still spooled when the drain
// timeout passed; they are sent at the next start on the same spool.
var ErrDrainTimeout = errors.New("drain timeout")

// Config configures a Simulator. Zero values take the defaults; on an existing spool, the
// interval, period and seed default to the spool's own and must match it when given.
type Config struct {
	// Bundle is the device's provisioning bundle (required).
	Bundle *Bundle
	// SpoolDir is the spool directory (required); it is created if missing.
	SpoolDir string
	// Interval is the sampling interval (default DefaultInterval).
	Interval time.Duration
	// FilePeriod is the time one data file covers (default DefaultFilePeriod).
	FilePeriod time.Duration
	// Speed makes the simulated clock run Speed times faster than Clock (default 1).
	Speed float64
	// Start is the simulated time of a new spool's first period (default Clock's now
	// truncated to the period). A spool that has a state resumes where it stopped instead.
	Start time.Time
	// Duration stops generating after that much simulated time from the start of this run
	// (whole periods only); then the spool is drained. Zero runs until the context ends.
	Duration time.Duration
	// DrainTimeout bounds the drain after Duration, in Clock time (default
	// DefaultDrainTimeout).
	DrainTimeout time.Duration
	// Outages are simulated periods during which the network is down.
	Outages []Outage
	// SpoolCap is how much data (in file periods) the spool keeps; beyond it the oldest files
	// are dropped and the loss reported (default DefaultSpoolCap). Files in rejected/ do not
	// count.
	SpoolCap time.Duration
	// Seed selects the readings (0: DefaultSeed of the serial, or the spool's).
	Seed uint64
	// MinBackoff and MaxBackoff bound the wait between failed uploads, in Clock time
	// (defaults DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// UploadTimeout bounds each request, in wall-clock time (a context deadline; default
	// DefaultUploadTimeout).
	UploadTimeout time.Duration
	// Clock is the real-time source (default SystemClock).
	Clock Clock
	// Random is the source of the files' salts and of the backoff jitter (default
	// crypto/rand).
	Random io.Reader
	// Transport, when set, receives the transport built from the bundle (TLS 1.2 minimum,
	// pinned CA, proxy) and returns the RoundTripper to use: tests wrap it to count or fail
	// requests.
	Transport func(*http.Transport) http.RoundTripper
	// OnEvent, when set, is called for every event, one call at a time, from the simulator's
	// goroutines: it must return quickly.
	OnEvent func(Event)
}

// Outage is a simulated period during which the network is down. It starts at Start, or, when
// Start is zero, After the simulated time at which the run starts (a new spool's start, or
// where a resumed spool stopped).
type Outage struct {
	Start    time.Time
	After    time.Duration
	Duration time.Duration
}

// End returns the end of the outage.
func (o Outage) End() time.Time { return o.Start.Add(o.Duration) }

// contains reports whether t is inside the outage.
func (o Outage) contains(t time.Time) bool { return !t.Before(o.Start) && t.Before(o.End()) }

// ParseOutage reads an outage written START+DURATION: START is a time (RFC 3339 or a date, UTC
// when it has no zone) or +AMOUNT after the run's start, and DURATION an amount with a unit
// (s, m, h, d, w): 2025-03-01T08:00:00Z+30d, 2025-03-01+1w, +1d12h+2d.
func ParseOutage(s string) (Outage, error) {
	const how = "write START+DURATION, e.g. 2025-03-01T08:00:00Z+30d, or +2d+12h to start two days into the run"
	in := strings.TrimSpace(s)
	i := strings.LastIndexByte(in, '+')
	if i <= 0 || i == len(in)-1 {
		return Outage{}, fmt.Errorf("outage %q: %s", s, how)
	}
	d, err := timeexpr.ParseDuration(in[i+1:])
	if err != nil || d <= 0 {
		return Outage{}, fmt.Errorf("outage %q: the duration %q is not a positive amount with a unit (s, m, h, d, w)", s, in[i+1:])
	}
	if in[0] == '+' {
		after, err := timeexpr.ParseDuration(in[1:i])
		if err != nil {
			return Outage{}, fmt.Errorf("outage %q: the start %q is not an amount with a unit: %s", s, in[:i], how)
		}
		return Outage{After: after, Duration: d}, nil
	}
	var start time.Time
	if start, err = time.Parse(time.RFC3339Nano, in[:i]); err != nil {
		if start, err = time.ParseInLocation("2006-01-02T15:04", in[:i], time.UTC); err != nil {
			if start, err = time.ParseInLocation("2006-01-02", in[:i], time.UTC); err != nil {
				return Outage{}, fmt.Errorf("outage %q: the start %q is not a time (RFC 3339 or a date) nor +AMOUNT: %s", s, in[:i], how)
			}
		}
	}
	return Outage{Start: start.UTC(), Duration: d}, nil
}

// DefaultSeed derives the generator seed from a serial: two devices differ, and a device
// restarted on a new spool regenerates the same readings.
func DefaultSeed(serial string) uint64 {
	sum := sha256.Sum256([]byte("smartx simulator seed\x00" + serial))
	return binary.BigEndian.Uint64(sum[:8]) | 1 // never 0, which means "default"
}

// ReadingsGenerator returns the generator of every simulator: readings of the building of seed
// sampled every interval from origin (Stats.Origin and Stats.Seed of a run). Tests compare what
// the platform stored with it reading by reading.
func ReadingsGenerator(seed uint64, origin time.Time, interval time.Duration) (*readings.Generator, error) {
	return readings.NewGenerator(readings.GeneratorConfig{
		Seed: seed, Start: origin, Interval: interval, Duration: generatorSpan,
	})
}

// EventKind names what happened.
type EventKind string

// The events of a simulator.
const (
	// EventResumed: Run opened the spool; Message says what it found and repaired.
	EventResumed EventKind = "resumed"
	// EventFileSpooled: a data file was written (Sequence, Readings, From, To).
	EventFileSpooled EventKind = "file_spooled"
	// EventFileUploaded: the platform acknowledged a file (Duplicate when it had it).
	EventFileUploaded EventKind = "file_uploaded"
	// EventFileRejected: the platform refused a file; it is in rejected/ (Err says why).
	EventFileRejected EventKind = "file_rejected"
	// EventFileDropped: the spool was full and its oldest file was dropped (Loss).
	EventFileDropped EventKind = "file_dropped"
	// EventLossesReported: the platform acknowledged the loss records (Losses).
	EventLossesReported EventKind = "losses_reported"
	// EventUploadFailed: an upload or a loss report failed and is retried after Wait.
	EventUploadFailed EventKind = "upload_failed"
	// EventDisconnected: an exchange with the platform failed (Err), or a simulated outage
	// began.
	EventDisconnected EventKind = "disconnected"
	// EventConnected: an exchange with the platform succeeded after a failure (or for the
	// first time).
	EventConnected EventKind = "connected"
	// EventUploadsStopped: the platform refused the credential; spooling goes on (Err).
	EventUploadsStopped EventKind = "uploads_stopped"
	// EventDraining: the simulated duration ended; the spool is being emptied.
	EventDraining EventKind = "draining"
)

// Event is something that happened in a simulator.
type Event struct {
	Kind EventKind
	// SimTime is the simulated time of the event.
	SimTime time.Time
	// Sequence is the file's sequence number, for file events.
	Sequence uint64
	// From and To are the period of the file, for file events.
	From, To time.Time
	// Readings is the file's reading count (EventFileSpooled, and EventFileUploaded when
	// the platform says it).
	Readings int
	// Duplicate is set when the platform already had the file.
	Duplicate bool
	// Loss is the dropped file (EventFileDropped).
	Loss *Loss
	// Losses are the reported records (EventLossesReported).
	Losses []Loss
	// Wait is the delay before the next attempt (EventUploadFailed).
	Wait time.Duration
	// Err is the problem, for failure events.
	Err error
	// Message is a human summary.
	Message string
}

// Stats is a snapshot of a simulator's progress. Counters count this run; FilesPending and
// LossesPending are what the spool holds.
type Stats struct {
	// SimulatedNow is the device's clock.
	SimulatedNow time.Time
	// Origin, Seed and Interval identify the readings (see ReadingsGenerator).
	Origin   time.Time
	Seed     uint64
	Interval time.Duration
	// NextSequence is the sequence number of the next file.
	NextSequence uint64

	FilesSpooled      int
	FilesUploaded     int
	FilesDuplicate    int // uploaded files the platform already had
	FilesRejected     int
	FilesDropped      int
	FilesPending      int
	LossesPending     int
	ReadingsGenerated int64

	// Connected is true after a successful exchange with the platform, false after a failure.
	Connected bool
	// UploadsStopped is true once the platform refused the credential.
	UploadsStopped bool
	// Draining is true once the simulated duration ended.
	Draining bool
	// LastError is the latest problem (nil when the last exchange succeeded).
	LastError   error
	LastErrorAt time.Time
}

// Simulator is a software Smart X. Create it with New and call Run once.
type Simulator struct {
	cfg    Config
	key    []byte
	clock  Clock
	random io.Reader
	ran    atomic.Bool

	mu    sync.Mutex // guards stats, sp
	stats Stats
	sp    *spool

	simc simClock

	eventMu sync.Mutex
}

// New checks cfg and returns a simulator; it does no I/O.
func New(cfg Config) (*Simulator, error) {
	if cfg.Bundle == nil {
		return nil, errors.New("simulator: no provisioning bundle: give --bundle")
	}
	if err := cfg.Bundle.Validate(); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	key, err := cfg.Bundle.Key()
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	if cfg.SpoolDir == "" {
		return nil, errors.New("simulator: no spool directory: give --spool")
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if cfg.Interval != 0 && (cfg.Interval < time.Second || cfg.Interval > 24*time.Hour || cfg.Interval%time.Millisecond != 0) {
		bad("interval %v must be whole milliseconds between 1s and 24h", cfg.Interval)
	}
	if cfg.FilePeriod != 0 && (cfg.FilePeriod < MinFilePeriod || cfg.FilePeriod > MaxFilePeriod || cfg.FilePeriod%time.Millisecond != 0) {
		bad("file period %v must be between %v and %v", cfg.FilePeriod, MinFilePeriod, MaxFilePeriod)
	}
	if cfg.FilePeriod != 0 && cfg.FilePeriod < cmpOr(cfg.Interval, DefaultInterval) {
		bad("file period %v is shorter than the sampling interval %v", cfg.FilePeriod, cmpOr(cfg.Interval, DefaultInterval))
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	if math.IsNaN(cfg.Speed) || cfg.Speed < 0 || cfg.Speed > MaxSpeed {
		bad("speed %v must be positive and at most %g", cfg.Speed, float64(MaxSpeed))
	}
	if cfg.Duration < 0 {
		bad("duration %v must not be negative", cfg.Duration)
	}
	cfg.DrainTimeout = cmpOr(cfg.DrainTimeout, DefaultDrainTimeout)
	cfg.SpoolCap = cmpOr(cfg.SpoolCap, DefaultSpoolCap)
	cfg.MinBackoff = cmpOr(cfg.MinBackoff, DefaultMinBackoff)
	cfg.MaxBackoff = cmpOr(cfg.MaxBackoff, max(DefaultMaxBackoff, cfg.MinBackoff))
	cfg.UploadTimeout = cmpOr(cfg.UploadTimeout, DefaultUploadTimeout)
	if cfg.DrainTimeout < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < cfg.MinBackoff || cfg.UploadTimeout < 0 {
		bad("drain timeout, backoff and upload timeout must be positive, with min backoff <= max backoff")
	}
	if cfg.SpoolCap < cmpOr(cfg.FilePeriod, DefaultFilePeriod) {
		bad("spool cap %v is shorter than one file period", cfg.SpoolCap)
	}
	for _, o := range cfg.Outages {
		if o.Duration <= 0 || o.After < 0 {
			bad("outage %v+%v needs a positive duration and a start", o.Start, o.Duration)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("simulator: %s", strings.Join(problems, "; "))
	}
	cfg.Outages = slices.Clone(cfg.Outages)
	s := &Simulator{cfg: cfg, key: key, clock: cfg.Clock, random: cfg.Random}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.random == nil {
		s.random = rand.Reader
	}
	s.random = &lockedReader{r: s.random}
	return s, nil
}

// lockedReader serialises reads: the generation loop and the uploader share the source.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// Stats returns a snapshot of the simulator's progress; it is safe to call at any time.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	sp := s.sp
	s.mu.Unlock()
	if sp != nil {
		st.FilesPending, st.LossesPending = sp.counts()
		st.NextSequence = sp.snapshot().NextSequence
	}
	if now, ok := s.simc.now(s.clock.Now()); ok {
		st.SimulatedNow = now
		if _, down := s.networkDown(now); down {
			st.Connected = false // even before the uploader next tries
		}
	}
	return st
}

func (s *Simulator) update(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *Simulator) emit(e Event) {
	if e.SimTime.IsZero() {
		e.SimTime, _ = s.simc.now(s.clock.Now())
	}
	if s.cfg.OnEvent == nil {
		return
	}
	s.eventMu.Lock()
	defer s.eventMu.Unlock()
	s.cfg.OnEvent(e)
}

// Run opens the spool (repairing what a crash left), then generates and uploads until
// Duration has passed and the spool is drained, or until ctx ends. Cancellation is a normal
// stop: Run returns nil, leaving no partial file. After Duration, Run returns ErrDrainTimeout
// when files remain, or ErrCredentialRefused when the platform refused the credential.
func (s *Simulator) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("simulator: Run was already called: create a new Simulator")
	}
	set := spoolSettings{
		serial: s.cfg.Bundle.Serial, keyID: s.cfg.Bundle.KeyID, seed: s.cfg.Seed,
		interval: s.cfg.Interval, period: s.cfg.FilePeriod, start: s.cfg.Start, firstSeq: s.cfg.Bundle.FirstSequence,
	}
	if set.start.IsZero() {
		set.start = s.clock.Now().Truncate(cmpOr(s.cfg.FilePeriod, DefaultFilePeriod))
	}
	set.maxFiles = max(1, int(s.cfg.SpoolCap/cmpOr(s.cfg.FilePeriod, DefaultFilePeriod)))
	sp, rec, err := openSpool(s.cfg.SpoolDir, set)
	if err != nil {
		return err
	}
	defer sp.close()
	st := sp.snapshot()
	if s.cfg.FilePeriod == 0 { // the spool's period decides the cap in files
		sp.mu.Lock()
		sp.maxFiles = max(1, int(s.cfg.SpoolCap/sp.period()))
		sp.mu.Unlock()
	}
	gen, err := ReadingsGenerator(st.Seed, st.Origin, sp.interval())
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	for i, o := range s.cfg.Outages {
		if o.Start.IsZero() {
			s.cfg.Outages[i].Start = st.NextPeriodStart.Add(o.After)
		}
	}
	slices.SortFunc(s.cfg.Outages, func(a, b Outage) int { return a.Start.Compare(b.Start) })
	s.mu.Lock()
	s.sp = sp
	s.stats.Origin, s.stats.Seed, s.stats.Interval = st.Origin, st.Seed, sp.interval()
	s.mu.Unlock()
	s.simc.start(s.clock.Now(), st.NextPeriodStart, s.cfg.Speed)
	s.emit(Event{Kind: EventResumed, Message: rec.describe(s.cfg.SpoolDir, st)})

	up, err := newUploader(s, sp)
	if err != nil {
		return err
	}
	defer up.close()
	upCtx, stopUploads := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { up.run(upCtx) })
	defer wg.Wait()
	defer stopUploads()

	if err := s.generate(ctx, sp, gen, up); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	return s.drain(ctx, sp, up)
}

// drain waits until every spooled file and loss record is acknowledged.
func (s *Simulator) drain(ctx context.Context, sp *spool, up *uploader) error {
	s.update(func(st *Stats) { st.Draining = true })
	s.emit(Event{Kind: EventDraining, Message: "simulated duration reached: sending what is spooled"})
	deadline := s.clock.After(s.cfg.DrainTimeout)
	for {
		files, losses := sp.counts()
		if files == 0 && losses == 0 {
			return nil
		}
		if err := up.stopError(); err != nil {
			return err
		}
		select {
		case <-up.progress:
		case <-deadline:
			return fmt.Errorf("%w: %d files and %d loss records still in %s after %v: they are sent at the next start on this spool",
				ErrDrainTimeout, files, losses, s.cfg.SpoolDir, s.cfg.DrainTimeout)
		case <-ctx.Done():
			return nil
		}
	}
}

func (r recovery) describe(dir string, st spoolState) string {
	var b strings.Builder
	if r.resumed {
		fmt.Fprintf(&b, "resumed spool %s at %s, next sequence %d", dir, st.NextPeriodStart.Format(time.RFC3339), st.NextSequence)
	} else {
		fmt.Fprintf(&b, "new spool %s starting at %s", dir, st.NextPeriodStart.Format(time.RFC3339))
	}
	if r.tempRemoved > 0 {
		fmt.Fprintf(&b, "; removed %d partial files", r.tempRemoved)
	}
	if r.rewound {
		b.WriteString("; the file being written at the crash is generated again under its sequence number")
	}
	if r.dropFinished > 0 {
		fmt.Fprintf(&b, "; finished dropping %d files", r.dropFinished)
	}
	if r.corruptMoved > 0 {
		fmt.Fprintf(&b, "; moved %d unreadable files to %s/", r.corruptMoved, rejectedDirName)
	}
	if r.sequenceAhead {
		b.WriteString("; a file was ahead of the saved sequence number, which now follows it")
	}
	return b.String()
}

// simClock maps Clock time to simulated time: simBase + (now - realBase) × speed, but never
// past the ceiling, the point the generation loop has reached. So when the loop lags (a slow
// disk at a high speed), the device's time is where its files are, and outages are judged
// against that time, which keeps runs reproducible.
type simClock struct {
	mu       sync.Mutex
	started  bool
	realBase time.Time
	simBase  time.Time
	speed    float64
	ceiling  time.Time
}

func (c *simClock) start(real, sim time.Time, speed float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started, c.realBase, c.simBase, c.speed, c.ceiling = true, real, sim, speed, sim
}

// free returns the simulated time of Clock time real, ignoring the ceiling.
func (c *simClock) free(real time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.freeLocked(real)
}

func (c *simClock) freeLocked(real time.Time) time.Time {
	elapsed := float64(real.Sub(c.realBase)) * c.speed
	if elapsed > float64(generatorSpan) {
		elapsed = float64(generatorSpan)
	}
	return c.simBase.Add(time.Duration(max(elapsed, 0)))
}

func (c *simClock) now(real time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		return time.Time{}, false
	}
	t := c.freeLocked(real)
	if t.After(c.ceiling) {
		t = c.ceiling
	}
	return t, true
}

// setCeiling lets simulated time run up to t; the ceiling never moves back, so the uploader
// never sees time run backwards into an outage it was told had ended.
func (c *simClock) setCeiling(t time.Time) {
	c.mu.Lock()
	if t.After(c.ceiling) {
		c.ceiling = t
	}
	c.mu.Unlock()
}

// realWait returns the Clock time until simulated time reaches t.
func (c *simClock) realWait(real, t time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := float64(t.Sub(c.freeLocked(real))) / c.speed
	return time.Duration(min(max(d, 0), float64(generatorSpan)))
}

// networkDown reports whether simulated time t is inside an outage.
func (s *Simulator) networkDown(t time.Time) (Outage, bool) {
	for _, o := range s.cfg.Outages {
		if o.contains(t) {
			return o, true
		}
	}
	return Outage{}, false
}

// readingSource pulls readings one at a time with one reading of look-ahead.
type readingSource struct {
	next    func() (readings.Reading, bool)
	stop    func()
	pending *readings.Reading
}

func newReadingSource(seq iter.Seq[readings.Reading]) *readingSource {
	next, stop := iter.Pull(seq)
	return &readingSource{next: next, stop: stop}
}

// take returns the next reading before end, or false.
func (r *readingSource) take(end int64) (readings.Reading, bool) {
	if r.pending == nil {
		x, ok := r.next()
		if !ok {
			return readings.Reading{}, false
		}
		r.pending = &x
	}
	if r.pending.Time >= end {
		return readings.Reading{}, false
	}
	x := *r.pending
	r.pending = nil
	return x, true
}

// generate writes one file per elapsed period until Duration or ctx ends. Cancellation
// returns nil.
func (s *Simulator) generate(ctx context.Context, sp *spool, g *readings.Generator, up *uploader) error {
	st := sp.snapshot()
	period := sp.period()
	p := st.NextPeriodStart
	var end time.Time // zero: no end
	if s.cfg.Duration > 0 {
		end = p.Add(s.cfg.Duration)
	}
	src := newReadingSource(g.Range(p.UnixMilli(), g.End()))
	defer src.stop()
	linkUpsSent := 0 // outages whose end has been announced
	for i, o := range s.cfg.Outages {
		if !o.End().After(p) {
			linkUpsSent = i + 1
		}
	}
	announce := func(now time.Time) {
		for linkUpsSent < len(s.cfg.Outages) && !s.cfg.Outages[linkUpsSent].End().After(now) {
			linkUpsSent++
			up.linkIsUp()
		}
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		target := s.simc.free(s.clock.Now())
		for fileEnd := p.Add(period); !fileEnd.After(target) && (end.IsZero() || !fileEnd.After(end)); fileEnd = p.Add(period) {
			if ctx.Err() != nil {
				return nil
			}
			if err := s.writeFile(ctx, sp, g, src, p, fileEnd, up); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			p = fileEnd
			s.simc.setCeiling(p)
			announce(p)
		}
		if !end.IsZero() && p.Add(period).After(end) {
			s.simc.setCeiling(end)
			announce(end)
			return nil
		}
		// Caught up: sleep until the next file is due or an outage ends.
		wake := p.Add(period)
		if linkUpsSent < len(s.cfg.Outages) {
			if e := s.cfg.Outages[linkUpsSent].End(); e.Before(wake) {
				wake = e
			}
		}
		// The device's clock may run up to wake, and no further, before the loop acts; an
		// outage end is announced only once the clock has reached it, so the uploader that
		// wakes up finds the link up.
		s.simc.setCeiling(wake)
		now := s.clock.Now()
		if t := s.simc.free(now); t.Before(wake) {
			announce(t)
			select {
			case <-s.clock.After(max(s.simc.realWait(now, wake), time.Millisecond)):
			case <-ctx.Done():
				return nil
			}
		}
		if t := s.simc.free(s.clock.Now()); t.Before(wake) {
			announce(t)
		} else {
			announce(wake)
		}
	}
}

// writeFile writes the data file of [from, to) into the spool.
func (s *Simulator) writeFile(ctx context.Context, sp *spool, g *readings.Generator, src *readingSource, from, to time.Time, up *uploader) error {
	b := s.cfg.Bundle
	seq := sp.snapshot().NextSequence
	f, err := sp.createTemp(seq)
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	h := aescodec.Header{Serial: b.Serial, KeyID: b.KeyID, Sequence: seq, Created: to, Start: from, Schema: g.Schema()}
	w, err := aescodec.NewWriter(bw, s.key, h, aescodec.WithRand(s.random))
	if err != nil {
		return fail(fmt.Errorf("write data file %d: %w", seq, err))
	}
	n := 0
	for {
		r, ok := src.take(to.UnixMilli())
		if !ok {
			break
		}
		if err := w.Write(r); err != nil {
			return fail(fmt.Errorf("write data file %d: %w", seq, err))
		}
		if n++; n%8192 == 0 && ctx.Err() != nil {
			return fail(ctx.Err())
		}
	}
	if err := w.Close(); err != nil {
		return fail(fmt.Errorf("write data file %d: %w", seq, err))
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("write data file %d: %w", seq, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("write data file %d: %w", seq, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write data file %d: %w", seq, err)
	}
	file := spoolFile{Sequence: seq, From: from, To: to, Name: fileName(b.Serial, seq)}
	dropped, err := sp.place(tmp, file)
	for i := range dropped {
		s.update(func(st *Stats) { st.FilesDropped++ })
		s.emit(Event{Kind: EventFileDropped, SimTime: to, Sequence: dropped[i].FirstSequence, From: dropped[i].From, To: dropped[i].To, Loss: &dropped[i],
			Message: fmt.Sprintf("spool full: dropped file %d (%s to %s)", dropped[i].FirstSequence, dropped[i].From.Format(time.RFC3339), dropped[i].To.Format(time.RFC3339))})
	}
	if err != nil {
		return err
	}
	s.update(func(st *Stats) {
		st.FilesSpooled++
		st.ReadingsGenerated += int64(n)
	})
	s.emit(Event{Kind: EventFileSpooled, SimTime: to, Sequence: seq, From: from, To: to, Readings: n,
		Message: fmt.Sprintf("spooled file %d: %d readings from %s", seq, n, from.Format(time.RFC3339))})
	up.fileReady()
	if len(dropped) > 0 {
		up.fileReady() // new loss records to report
	}
	return nil
}
