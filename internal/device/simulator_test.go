package device

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// simulation is one simulator under test with its events.
type simulation struct {
	sim    *Simulator
	events *eventLog
}

// newSimulation configures a simulator against platform p: one simulated hour per second of
// the fast clock (a millisecond of real time), starting at testStart.
func newSimulation(t *testing.T, p *fakePlatform, dir string, clock Clock, edit func(*Config)) simulation {
	t.Helper()
	log := &eventLog{}
	cfg := Config{
		Bundle: p.bundle, SpoolDir: dir, Start: testStart, Speed: 3600, Clock: clock,
		DrainTimeout: 10 * time.Hour, MinBackoff: time.Second, MaxBackoff: 10 * time.Second,
		OnEvent: log.add,
	}
	if edit != nil {
		edit(&cfg)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return simulation{sim: sim, events: log}
}

// run runs the simulation with a safety deadline.
func (s simulation) run(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	err := s.sim.Run(ctx)
	if err != nil {
		s.events.dump(t)
	}
	if ctx.Err() != nil && t.Context().Err() == nil {
		t.Fatalf("the simulation did not finish within the safety deadline: %+v", s.sim.Stats())
	}
	return err
}

func readState(t *testing.T, dir string) spoolState {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if err != nil {
		t.Fatal(err)
	}
	var st spoolState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// spoolEntries lists the names in a spool directory (or its rejected/ folder).
func spoolEntries(t *testing.T, dir string) (data, temp []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), tempPrefix):
			temp = append(temp, e.Name())
		case strings.HasSuffix(e.Name(), dataFileExt):
			data = append(data, e.Name())
		}
	}
	return data, temp
}

func seqRange(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

func TestThirtyDayOutageLosesNothing(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	dir := t.TempDir()
	// 30 days of outage then 12 hours of service: the spool never exceeds its 31 days,
	// however far the uploads lag behind.
	const files = 30*24 + 12
	s := newSimulation(t, p, dir, clock, func(c *Config) {
		c.Duration = files * time.Hour
		c.Speed = 2 * 3600
		c.Outages = []Outage{{Start: testStart, Duration: 30 * 24 * time.Hour}}
	})
	if err := s.run(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := s.sim.Stats()
	if st.FilesSpooled != files || st.FilesUploaded != files || st.FilesPending != 0 || st.FilesDropped != 0 || st.FilesRejected != 0 {
		t.Fatalf("stats %+v, want %d files spooled and uploaded, none pending, dropped or rejected", st, files)
	}
	if got := p.sequences(); !slices.Equal(got, seqRange(1, files)) {
		t.Fatalf("the platform holds sequences %v..., want 1..%d", got[:min(len(got), 5)], files)
	}
	p.wantReadings(t, st, testStart, testStart.Add(files*time.Hour))
	if int64(len(p.allReadings())) != st.ReadingsGenerated {
		t.Errorf("ReadingsGenerated = %d, the platform holds %d", st.ReadingsGenerated, len(p.allReadings()))
	}
	// Nothing was sent during the outage: the first request came after it.
	for _, r := range p.requestLog() {
		if r.status != http.StatusCreated {
			t.Errorf("request %+v: want every file accepted at the first attempt", r)
		}
	}
	if d := s.events.of(EventDisconnected); len(d) == 0 || !errors.Is(d[0].Err, ErrNetworkDown) {
		t.Errorf("disconnected events %+v, want one for the outage", d)
	}
	if !st.SimulatedNow.Equal(testStart.Add(files * time.Hour)) {
		t.Errorf("SimulatedNow = %v, want the end of the run", st.SimulatedNow)
	}
	if data, temp := spoolEntries(t, dir); len(data)+len(temp) != 0 {
		t.Errorf("spool still holds %v %v", data, temp)
	}
}

func TestRestartContinuesTheSequence(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	dir := t.TempDir()

	// First run: the network is down; stop it after 20 files.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := newSimulation(t, p, dir, clock, func(c *Config) {
		c.Outages = []Outage{{Start: testStart, Duration: 1000 * time.Hour}}
	})
	first.events.hook = func(e Event) {
		if e.Kind == EventFileSpooled && e.Sequence == 20 {
			cancel()
		}
	}
	if err := first.sim.Run(ctx); err != nil {
		t.Fatalf("first run: %v", err)
	}
	stopped := readState(t, dir)
	if stopped.NextSequence < 21 {
		t.Fatalf("first run stopped at sequence %d, want at least 21", stopped.NextSequence)
	}
	if len(p.sequences()) != 0 {
		t.Fatal("files were uploaded during the outage")
	}

	// Second run: resumes where the first stopped, uploads everything.
	second := newSimulation(t, p, dir, clock, func(c *Config) {
		c.Start = testStart.Add(1000 * time.Hour) // ignored: the spool has a state
		c.Duration = 10 * time.Hour
	})
	if err := second.run(t); err != nil {
		t.Fatalf("second run: %v", err)
	}
	end := stopped.NextPeriodStart.Add(10 * time.Hour)
	if want := seqRange(1, stopped.NextSequence+9); !slices.Equal(p.sequences(), want) {
		t.Fatalf("the platform holds sequences %v, want %v", p.sequences(), want)
	}
	st := second.sim.Stats()
	if !st.Origin.Equal(testStart) {
		t.Errorf("origin %v, want %v", st.Origin, testStart)
	}
	p.wantReadings(t, st, testStart, end)
	if resumed := second.events.of(EventResumed); len(resumed) != 1 || !strings.Contains(resumed[0].Message, "resumed") {
		t.Errorf("resumed events %+v", resumed)
	}
}

func TestCrashWhileWritingLeavesNoGap(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	dir := t.TempDir()
	// Five files stay in the spool: the network is down until after the end.
	first := newSimulation(t, p, dir, clock, func(c *Config) {
		c.Duration = 5 * time.Hour
		c.DrainTimeout = time.Minute
		c.Outages = []Outage{{Start: testStart, Duration: 100 * time.Hour}}
	})
	if err := first.run(t); !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("first run: %v, want ErrDrainTimeout", err)
	}

	// A crash while placing file 6: its temporary file is left behind and the state was
	// saved ahead of the files, with file 6 in flight.
	st := readState(t, dir)
	if st.NextSequence != 6 {
		t.Fatalf("next sequence %d, want 6", st.NextSequence)
	}
	partial := filepath.Join(dir, tempPrefix+fileName(testSerial, 6)+"-1234")
	if err := os.WriteFile(partial, []byte("SXDATA\r\n\x01 half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	from := st.NextPeriodStart
	st.InFlight = &placingFile{Sequence: 6, From: from, To: from.Add(time.Hour)}
	st.NextSequence, st.NextPeriodStart = 7, from.Add(time.Hour)
	data, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, stateFileName), data, 0o600); err != nil {
		t.Fatal(err)
	}

	second := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = 3 * time.Hour })
	if err := second.run(t); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the partial file is still there: %v", err)
	}
	// File 6 was never visible, so nobody saw its number: its period comes again under it, and
	// the platform sees no gap (a gap would be reported as a missing file).
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(p.sequences(), want) {
		t.Fatalf("the platform holds sequences %v, want %v", p.sequences(), want)
	}
	p.wantReadings(t, second.sim.Stats(), testStart, testStart.Add(8*time.Hour))
	if msg := second.events.of(EventResumed)[0].Message; !strings.Contains(msg, "removed 1 partial") || !strings.Contains(msg, "generated again") {
		t.Errorf("resumed message %q does not say what was repaired", msg)
	}
}

func TestStateAheadOfTheFiles(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	dir := t.TempDir()
	first := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = 2 * time.Hour })
	if err := first.run(t); err != nil {
		t.Fatal(err)
	}
	// The state says sequences up to 9 were used (files uploaded and deleted since).
	st := readState(t, dir)
	st.NextSequence = 10
	data, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, stateFileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	second := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = 2 * time.Hour })
	if err := second.run(t); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 2, 10, 11}; !slices.Equal(p.sequences(), want) {
		t.Fatalf("the platform holds sequences %v, want %v", p.sequences(), want)
	}
	p.wantReadings(t, second.sim.Stats(), testStart, testStart.Add(4*time.Hour))
}

func TestFullSpoolDropsTheOldestAndReportsTheLoss(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	// The first loss report fails: it must be retried until acknowledged.
	p.faultFor = func(seq uint64, attempt int) *fault {
		if seq == 0 && attempt == 1 {
			return &fault{status: http.StatusServiceUnavailable, code: "internal"}
		}
		return nil
	}
	dir := t.TempDir()
	// 20 files written during the outage with room for 10: files 1 to 10 are dropped. The
	// link comes back after the last file (a file written at the very instant the link comes
	// back could race with the first uploads, as on a real device).
	s := newSimulation(t, p, dir, clock, func(c *Config) {
		c.Duration = 20*time.Hour + 30*time.Minute
		c.SpoolCap = 10 * time.Hour
		c.Outages = []Outage{{Start: testStart, Duration: 20*time.Hour + 30*time.Minute}}
	})
	if err := s.run(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []lossRecord{{
		FirstSequence: 1, LastSequence: 10, Files: 10, Reason: "spool_full",
		From: testStart.Format(time.RFC3339), To: testStart.Add(10 * time.Hour).Format(time.RFC3339),
	}}
	if got := p.lossRecords(); !slices.Equal(got, want) {
		t.Fatalf("losses on the platform %+v, want %+v", got, want)
	}
	if got := p.sequences(); !slices.Equal(got, seqRange(11, 20)) {
		t.Fatalf("the platform holds sequences %v, want 11..20", got)
	}
	p.wantReadings(t, s.sim.Stats(), testStart.Add(10*time.Hour), testStart.Add(20*time.Hour))
	st := s.sim.Stats()
	if st.FilesDropped != 10 || st.LossesPending != 0 || len(s.events.of(EventFileDropped)) != 10 || len(s.events.of(EventLossesReported)) != 1 {
		t.Errorf("stats %+v, %d drop events, %d loss report events", st, len(s.events.of(EventFileDropped)), len(s.events.of(EventLossesReported)))
	}
	if len(readState(t, dir).Losses) != 0 {
		t.Error("the acknowledged losses are still in the state")
	}
}

func TestLossesSurviveARestart(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	dir := t.TempDir()
	first := newSimulation(t, p, dir, clock, func(c *Config) {
		c.Duration = 6 * time.Hour
		c.SpoolCap = 4 * time.Hour
		c.DrainTimeout = time.Minute
		c.Outages = []Outage{{Start: testStart, Duration: 100 * time.Hour}}
	})
	if err := first.run(t); !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("first run: %v, want ErrDrainTimeout", err)
	}
	if losses := readState(t, dir).Losses; len(losses) != 1 || losses[0].Files != 2 {
		t.Fatalf("state losses %+v, want files 1-2", losses)
	}
	// The cap is a setting of the run: with the default month, nothing more is dropped
	// whatever the pace of the uploads.
	second := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = time.Hour })
	if err := second.run(t); err != nil {
		t.Fatal(err)
	}
	if got := p.lossRecords(); len(got) != 1 || got[0].FirstSequence != 1 || got[0].LastSequence != 2 {
		t.Fatalf("losses on the platform %+v, want 1-2", got)
	}
	if got := p.sequences(); !slices.Equal(got, seqRange(3, 7)) {
		t.Fatalf("the platform holds sequences %v, want 3..7", got)
	}
}

func TestRefusedCredentialStopsUploadsButNotSpooling(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	p.bundle.UploadCredential = "sxd_revoked-credential-000000"
	dir := t.TempDir()
	s := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = 5 * time.Hour })
	err := s.run(t)
	if !errors.Is(err, ErrCredentialRefused) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Run = %v, want ErrCredentialRefused naming the 401", err)
	}
	st := s.sim.Stats()
	if !st.UploadsStopped || st.FilesSpooled != 5 || st.FilesPending != 5 || !errors.Is(st.LastError, ErrCredentialRefused) {
		t.Fatalf("stats %+v, want uploads stopped and 5 files spooled and pending", st)
	}
	if n := len(p.requestLog()); n != 1 {
		t.Errorf("%d requests after a 401, want 1", n)
	}
	if data, _ := spoolEntries(t, dir); len(data) != 5 {
		t.Errorf("spool holds %v, want 5 files", data)
	}
}

func TestRejectedFileMovesToRejected(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		code   string
	}{
		{"corrupt file (422)", http.StatusUnprocessableEntity, "file_rejected"},
		{"sequence conflict (409)", http.StatusConflict, "sequence_conflict"},
		{"file too big (413)", http.StatusRequestEntityTooLarge, "payload_too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFastClock()
			p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
			p.faultFor = func(seq uint64, attempt int) *fault {
				if seq == 2 {
					return &fault{status: tt.status, code: tt.code}
				}
				return nil
			}
			dir := t.TempDir()
			s := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = 4 * time.Hour })
			if err := s.run(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if want := []uint64{1, 3, 4}; !slices.Equal(p.sequences(), want) {
				t.Fatalf("the platform holds %v, want %v", p.sequences(), want)
			}
			rejected, _ := spoolEntries(t, filepath.Join(dir, rejectedDirName))
			if want := []string{fileName(testSerial, 2)}; !slices.Equal(rejected, want) {
				t.Fatalf("rejected/ holds %v, want %v", rejected, want)
			}
			if st := s.sim.Stats(); st.FilesRejected != 1 || st.FilesUploaded != 3 {
				t.Errorf("stats %+v, want 1 rejected and 3 uploaded", st)
			}
			errs := s.events.errorsOf(EventFileRejected)
			if len(errs) != 1 || !errors.Is(errs[0], ErrFileRejected) || !strings.Contains(errs[0].Error(), tt.code) {
				t.Errorf("rejection events %v, want one naming %s", errs, tt.code)
			}
			if n := p.attempts[2]; n != 1 {
				t.Errorf("the rejected file was sent %d times, want once", n)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		name     string
		fault    fault
		min, max time.Duration // expected wait before the second attempt
	}{
		{"429 with Retry-After seconds", fault{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: "7"}, 7 * time.Second, 8 * time.Second},
		{"503 with Retry-After seconds", fault{status: http.StatusServiceUnavailable, code: "internal", retryAfter: "30"}, 30 * time.Second, 31 * time.Second},
		{"502 without Retry-After", fault{status: http.StatusBadGateway}, 500 * time.Millisecond, 1500 * time.Millisecond},
		{"404, an unexpected answer", fault{status: http.StatusNotFound, code: "not_found"}, 500 * time.Millisecond, 1500 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFastClock()
			p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
			p.faultFor = func(seq uint64, attempt int) *fault {
				if attempt == 1 {
					return &tt.fault
				}
				return nil
			}
			s := newSimulation(t, p, t.TempDir(), clock, func(c *Config) { c.Duration = time.Hour })
			if err := s.run(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			log := p.requestLog()
			if len(log) != 2 || log[0].status != tt.fault.status || log[1].status != http.StatusCreated {
				t.Fatalf("requests %+v, want the fault then a success", log)
			}
			// The gap is measured on the fast clock, where a scheduling delay of a real
			// millisecond is a second: only the lower bound is exact.
			if gap := log[1].at.Sub(log[0].at); gap < tt.min {
				t.Errorf("second attempt %v after the first, want at least %v", gap, tt.min)
			}
			failed := s.events.of(EventUploadFailed)
			if len(failed) != 1 || failed[0].Wait < tt.min || failed[0].Wait > tt.max || !errors.Is(failed[0].Err, ErrServerBusy) {
				t.Errorf("upload failed events %+v, want one waiting %v to %v", failed, tt.min, tt.max)
			}
		})
	}
}

func TestBackoffIsCappedExponential(t *testing.T) {
	s := &Simulator{cfg: Config{MinBackoff: time.Second, MaxBackoff: 60 * time.Second}, random: &lockedReader{r: zeroReader{}}}
	u := &uploader{s: s}
	for _, tt := range []struct {
		failures   int
		retryAfter time.Duration
		want       time.Duration // with zero jitter: the lower half
	}{
		{1, 0, 500 * time.Millisecond},
		{2, 0, time.Second},
		{3, 0, 2 * time.Second},
		{6, 0, 16 * time.Second},
		{7, 0, 30 * time.Second}, // 64 s capped at 60 s, jitter in its upper half
		{50, 0, 30 * time.Second},
		{1, 10 * time.Second, 10 * time.Second},
		{1, 5 * time.Hour, time.Hour},
	} {
		t.Run(fmt.Sprintf("failure %d retry-after %v", tt.failures, tt.retryAfter), func(t *testing.T) {
			if got := u.backoff(tt.failures, tt.retryAfter); got != tt.want {
				t.Errorf("backoff = %v, want %v", got, tt.want)
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestLostAcknowledgementIsADuplicate(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	var calls atomic.Int32
	s := newSimulation(t, p, t.TempDir(), clock, func(c *Config) {
		c.Duration = 2 * time.Hour
		c.Transport = func(base *http.Transport) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := base.RoundTrip(r)
				if err == nil && calls.Add(1) == 1 {
					resp.Body.Close() // the platform committed, the answer is lost
					return nil, errors.New("connection reset by peer")
				}
				return resp, err
			})
		}
	})
	if err := s.run(t); err != nil {
		t.Fatal(err)
	}
	st := s.sim.Stats()
	if st.FilesUploaded != 2 || st.FilesDuplicate != 1 || st.FilesPending != 0 {
		t.Fatalf("stats %+v, want 2 uploaded, 1 of them a duplicate", st)
	}
	if !slices.Equal(p.sequences(), []uint64{1, 2}) {
		t.Fatalf("the platform holds %v", p.sequences())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTLS(t *testing.T) {
	platformCA := newTestCA(t, "platform CA")
	otherCA := newTestCA(t, "another CA")
	for _, tt := range []struct {
		name     string
		server   *tls.Config
		bundleCA string
		wantErr  string // empty: the upload succeeds
	}{
		{"pinned CA", &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{platformCA.server}}, platformCA.certPEM, ""},
		{"TLS 1.3 only server", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{platformCA.server}}, platformCA.certPEM, ""},
		{"server of another CA", &tls.Config{Certificates: []tls.Certificate{otherCA.server}}, platformCA.certPEM, "not signed by the certificate authority pinned in the bundle"},
		{"no CA in the bundle: system roots", &tls.Config{Certificates: []tls.Certificate{platformCA.server}}, "", "not signed by an authority the system trusts"},
		{"TLS 1.1 server", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, Certificates: []tls.Certificate{platformCA.server}}, platformCA.certPEM, "TLS 1.2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFastClock()
			p := newFakePlatformTLS(t, tt.server, tt.bundleCA, clock)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			s := newSimulation(t, p, t.TempDir(), clock, func(c *Config) { c.Duration = time.Hour })
			s.events.hook = func(e Event) {
				if e.Kind == EventUploadFailed {
					cancel() // one refused handshake says it all
				}
			}
			err := s.sim.Run(ctx)
			st := s.sim.Stats()
			if tt.wantErr == "" {
				if err != nil || st.FilesUploaded != 1 {
					t.Fatalf("Run = %v, stats %+v: want the file uploaded", err, st)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			t.Logf("last error: %v", st.LastError)
			if !errors.Is(st.LastError, ErrServerNotTrusted) || !strings.Contains(st.LastError.Error(), tt.wantErr) {
				t.Fatalf("last error %v, want ErrServerNotTrusted saying %q", st.LastError, tt.wantErr)
			}
			if len(p.sequences()) != 0 || st.FilesPending != 1 {
				t.Fatalf("the file went through (%v) or left the spool (%d pending)", p.sequences(), st.FilesPending)
			}
		})
	}
}

func TestCancellationLeavesAConsistentSpool(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := newSimulation(t, p, dir, clock, func(c *Config) {
		c.Speed = 1e6 // far faster than files can be written
		c.Outages = []Outage{{Start: testStart, Duration: 10000 * time.Hour}}
	})
	s.events.hook = func(e Event) {
		if e.Kind == EventFileSpooled && e.Sequence == 50 {
			cancel()
		}
	}
	start := time.Now()
	if err := s.sim.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil after cancellation", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Run took %v", d)
	}
	data, temp := spoolEntries(t, dir)
	st := readState(t, dir)
	if len(temp) != 0 || st.InFlight != nil {
		t.Fatalf("temporary files %v, in flight %+v after a clean stop", temp, st.InFlight)
	}
	if uint64(len(data)) != st.NextSequence-1 {
		t.Fatalf("%d files but next sequence %d", len(data), st.NextSequence)
	}
	if want := testStart.Add(time.Duration(len(data)) * time.Hour); !st.NextPeriodStart.Equal(want) {
		t.Fatalf("next period %v, want %v", st.NextPeriodStart, want)
	}
	if err := s.sim.Run(t.Context()); err == nil {
		t.Error("a second Run on the same Simulator was accepted")
	}
}

func TestSpoolGuards(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)

	t.Run("a spool in use is refused", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		first := newSimulation(t, p, dir, clock, func(c *Config) { c.Speed = 1 })
		resumed := make(chan struct{})
		first.events.hook = func(e Event) {
			if e.Kind == EventResumed {
				close(resumed)
			}
		}
		done := make(chan error, 1)
		go func() { done <- first.sim.Run(ctx) }()
		<-resumed
		second := newSimulation(t, p, dir, clock, nil)
		if err := second.sim.Run(t.Context()); !errors.Is(err, ErrSpoolInUse) {
			t.Errorf("second simulator on the same spool: %v, want ErrSpoolInUse", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a spool of another device is refused", func(t *testing.T) {
		dir := t.TempDir()
		first := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = time.Hour; c.DrainTimeout = time.Second })
		first.run(t)
		other := *p.bundle
		other.Serial = "SX-00043"
		second := newSimulation(t, p, dir, clock, func(c *Config) { c.Bundle = &other })
		if err := second.sim.Run(t.Context()); !errors.Is(err, ErrSpoolMismatch) || !strings.Contains(err.Error(), "SX-00043") {
			t.Errorf("Run = %v, want ErrSpoolMismatch naming the serials", err)
		}
	})

	t.Run("another interval on an existing spool is refused", func(t *testing.T) {
		dir := t.TempDir()
		first := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = time.Hour })
		if err := first.run(t); err != nil {
			t.Fatal(err)
		}
		second := newSimulation(t, p, dir, clock, func(c *Config) { c.Interval = 10 * time.Second })
		if err := second.sim.Run(t.Context()); !errors.Is(err, ErrSpoolMismatch) {
			t.Errorf("Run = %v, want ErrSpoolMismatch", err)
		}
	})

	t.Run("an unreadable spooled file is set aside", func(t *testing.T) {
		dir := t.TempDir()
		first := newSimulation(t, p, dir, clock, func(c *Config) {
			c.Duration = 2 * time.Hour
			c.DrainTimeout = time.Second
			c.Outages = []Outage{{Start: testStart, Duration: 100 * time.Hour}}
		})
		first.run(t)
		if err := os.WriteFile(filepath.Join(dir, fileName(testSerial, 1)), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := len(p.sequences())
		second := newSimulation(t, p, dir, clock, func(c *Config) { c.Duration = time.Hour })
		if err := second.run(t); err != nil {
			t.Fatal(err)
		}
		rejected, _ := spoolEntries(t, filepath.Join(dir, rejectedDirName))
		if !slices.Equal(rejected, []string{fileName(testSerial, 1)}) {
			t.Errorf("rejected/ holds %v", rejected)
		}
		if got := len(p.sequences()) - before; got != 2 {
			t.Errorf("%d files uploaded, want 2 (the readable one and the new one)", got)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	b := testBundle("https://127.0.0.1:1", "")
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no bundle", func(c *Config) { c.Bundle = nil }, "bundle"},
		{"no spool", func(c *Config) { c.SpoolDir = "" }, "spool"},
		{"interval under a second", func(c *Config) { c.Interval = 500 * time.Millisecond }, "interval"},
		{"period of a second", func(c *Config) { c.FilePeriod = time.Second }, "file period"},
		{"period shorter than the interval", func(c *Config) { c.Interval = time.Hour; c.FilePeriod = 30 * time.Minute }, "shorter than the sampling interval"},
		{"negative speed", func(c *Config) { c.Speed = -1 }, "speed"},
		{"spool cap under a period", func(c *Config) { c.SpoolCap = time.Minute }, "spool cap"},
		{"outage without duration", func(c *Config) { c.Outages = []Outage{{Start: testStart}} }, "outage"},
		{"outage before the run", func(c *Config) { c.Outages = []Outage{{After: -time.Hour, Duration: time.Hour}} }, "outage"},
		{"invalid bundle", func(c *Config) { bad := *b; bad.DeviceKey = "00"; c.Bundle = &bad }, "device_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Bundle: b, SpoolDir: t.TempDir()}
			tt.edit(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

func TestParseOutage(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Outage
		wantErr bool
	}{
		{"2025-01-07T08:00:00Z+30d", Outage{Start: time.Date(2025, 1, 7, 8, 0, 0, 0, time.UTC), Duration: 30 * 24 * time.Hour}, false},
		{"2025-01-07T08:00:00+01:00+2h", Outage{Start: time.Date(2025, 1, 7, 7, 0, 0, 0, time.UTC), Duration: 2 * time.Hour}, false},
		{"+1d+12h", Outage{After: 24 * time.Hour, Duration: 12 * time.Hour}, false},
		{"+1d12h+2d", Outage{After: 36 * time.Hour, Duration: 48 * time.Hour}, false},
		{"2025-01-07+1w", Outage{Start: time.Date(2025, 1, 7, 0, 0, 0, 0, time.UTC), Duration: 7 * 24 * time.Hour}, false},
		{"2025-01-07T08:00+1h", Outage{Start: time.Date(2025, 1, 7, 8, 0, 0, 0, time.UTC), Duration: time.Hour}, false},
		{"2025-01-07", Outage{}, true},
		{"2025-01-07+", Outage{}, true},
		{"+1d+0h", Outage{}, true},
		{"+1d+3x", Outage{}, true},
		{"yesterday+oops", Outage{}, true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOutage(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseOutage(%q) = %v, %v", tt.in, got, err)
			}
			if err == nil && (!got.Start.Equal(tt.want.Start) || got.After != tt.want.After || got.Duration != tt.want.Duration) {
				t.Errorf("ParseOutage(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDefaultSeedDependsOnTheSerial(t *testing.T) {
	again := DefaultSeed
	if DefaultSeed("SX-00042") == DefaultSeed("SX-00043") || DefaultSeed("SX-00042") != again("SX-00042") || DefaultSeed("") == 0 {
		t.Error("DefaultSeed is not a stable function of the serial")
	}
}

// connectProxy is an HTTP proxy on 127.0.0.1 that tunnels CONNECT requests to loopback
// addresses only, after checking the proxy credentials.
type connectProxy struct {
	tunnels atomic.Int32
	refused atomic.Int32
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if r.Method != http.MethodConnect || err != nil || host != "127.0.0.1" {
		http.Error(w, "this test proxy only tunnels to 127.0.0.1", http.StatusForbidden)
		return
	}
	if user, pass, ok := parseProxyAuth(r.Header.Get("Proxy-Authorization")); !ok || user != "installer" || pass != "s3cret" {
		p.refused.Add(1)
		w.Header().Set("Proxy-Authenticate", `Basic realm="site"`)
		http.Error(w, "proxy credentials required", http.StatusProxyAuthRequired)
		return
	}
	upstream, err := net.DialTimeout("tcp", r.Host, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer upstream.Close()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	p.tunnels.Add(1)
	conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	done := make(chan struct{}, 2)
	go func() { io.Copy(upstream, buf); done <- struct{}{} }()
	go func() { io.Copy(conn, upstream); done <- struct{}{} }()
	<-done
}

func parseProxyAuth(h string) (user, pass string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {h}}}
	return r.BasicAuth()
}

func TestUploadsGoThroughTheBundleProxy(t *testing.T) {
	clock := newFastClock()
	p := newFakePlatform(t, newTestCA(t, "platform CA"), clock)
	proxy := &connectProxy{}
	proxySrv := httptest.NewServer(proxy)
	defer proxySrv.Close()
	for _, tt := range []struct {
		name     string
		userinfo string
		wantOK   bool
	}{
		{"with the site's proxy credentials", "installer:s3cret@", true},
		{"with wrong proxy credentials", "installer:wrong@", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := *p.bundle
			b.Network.Proxy = "http://" + tt.userinfo + strings.TrimPrefix(proxySrv.URL, "http://")
			before := len(p.sequences())
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			s := newSimulation(t, p, t.TempDir(), clock, func(c *Config) { c.Bundle = &b; c.Duration = time.Hour })
			s.events.hook = func(e Event) {
				if e.Kind == EventUploadFailed {
					cancel()
				}
			}
			if err := s.sim.Run(ctx); err != nil {
				t.Fatal(err)
			}
			uploaded := len(p.sequences()) - before
			if tt.wantOK != (uploaded == 1) {
				t.Fatalf("%d files uploaded, last error %v", uploaded, s.sim.Stats().LastError)
			}
			if !tt.wantOK && !strings.Contains(s.sim.Stats().LastError.Error(), "Proxy Authentication Required") {
				t.Errorf("last error %v does not say the proxy refused", s.sim.Stats().LastError)
			}
		})
	}
	if proxy.tunnels.Load() != 1 || proxy.refused.Load() == 0 {
		t.Errorf("%d tunnels, %d refusals: the uploads did not go through the proxy", proxy.tunnels.Load(), proxy.refused.Load())
	}
}

// A bundle with fallback servers: when the server in use cannot be reached, or answers that it
// cannot serve, the device goes on with the next at once, without a backoff, and stays there.
func TestFallbackServers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close() // nothing listens there any more: connections are refused

	for _, tt := range []struct {
		name    string
		primary func(t *testing.T, ca testCA, clock Clock) string
		want    error
	}{
		{"primary unreachable", func(*testing.T, testCA, Clock) string { return closed }, ErrServerUnreachable},
		{"primary answers 503", func(t *testing.T, ca testCA, clock Clock) string {
			down := newFakePlatform(t, ca, clock)
			down.faultFor = func(uint64, int) *fault { return &fault{status: http.StatusServiceUnavailable, code: "internal"} }
			return down.srv.URL
		}, ErrServerBusy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFastClock()
			ca := newTestCA(t, "platform CA")
			p := newFakePlatform(t, ca, clock)
			b := *p.bundle
			b.ServerURL, b.FallbackServerURLs = tt.primary(t, ca, clock), []string{p.srv.URL}
			if err := b.Validate(); err != nil {
				t.Fatal(err)
			}
			s := newSimulation(t, p, t.TempDir(), clock, func(c *Config) { c.Duration = 3 * time.Hour; c.Bundle = &b })
			if err := s.run(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := p.sequences(); !slices.Equal(got, seqRange(1, 3)) {
				t.Fatalf("the fallback stored %v, want 1-3", got)
			}
			failed := s.events.of(EventUploadFailed)
			if len(failed) != 1 || !errors.Is(failed[0].Err, tt.want) || failed[0].Wait != 0 || !strings.HasSuffix(failed[0].Message, "; trying "+p.srv.URL) {
				t.Errorf("upload failed events %+v, want one, moving on to %s without a wait", failed, p.srv.URL)
			}
			connected := s.events.of(EventConnected)
			if len(connected) == 0 || connected[0].Message != "connected to "+p.srv.URL {
				t.Errorf("connected events %+v, want the fallback's", connected)
			}
		})
	}
}

func TestBundleFallbackServersAreChecked(t *testing.T) {
	b := testBundle("https://platform.example", "")
	for _, tt := range []struct {
		urls []string
		want string
	}{
		{[]string{"http://replica.example"}, "fallback_server_urls: 1: "},
		{[]string{"https://replica.example", "https://platform.example"}, "fallback_server_urls: 2: https://platform.example is already in the bundle"},
		{slices.Repeat([]string{"https://r.example"}, MaxFallbackServers+1), "at most 8"},
	} {
		b.FallbackServerURLs = tt.urls
		if err := b.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("fallbacks %v: %v, want %q", tt.urls, err, tt.want)
		}
	}
	b.FallbackServerURLs = []string{"https://replica-a.example", "https://replica-b.example:8443/smartx"}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := b.Servers(); !slices.Equal(got, []string{"https://platform.example", "https://replica-a.example", "https://replica-b.example:8443/smartx"}) {
		t.Errorf("Servers() = %v", got)
	}
}
