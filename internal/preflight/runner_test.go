package preflight

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// eventLog records events; the runner serialises calls, the mutex is for
// the test goroutine reading it meanwhile.
type eventLog struct {
	mu      sync.Mutex
	events  []Event
	started map[string]bool
	// want is signalled once every id in waitFor has started.
	waitFor []string
	ready   chan struct{}
}

func newEventLog(waitFor ...string) *eventLog {
	return &eventLog{started: map[string]bool{}, waitFor: waitFor, ready: make(chan struct{})}
}

func (l *eventLog) record(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	if e.Kind != EventStarted {
		return
	}
	l.started[e.ID] = true
	for _, id := range l.waitFor {
		if !l.started[id] {
			return
		}
	}
	select {
	case <-l.ready:
	default:
		close(l.ready)
	}
}

// index returns the position of the event, or -1.
func (l *eventLog) index(kind EventKind, id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.IndexFunc(l.events, func(e Event) bool { return e.Kind == kind && e.ID == id })
}

func (l *eventLog) finishedIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for _, e := range l.events {
		if e.Kind == EventFinished {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// waitReady waits for the signal, failing the test if the runner never
// starts the checks together.
func (l *eventLog) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-l.ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("checks %v never all started; events so far: %v", l.waitFor, l.finishedIDs())
	}
}

// waitFinished waits until check id has finished: a test that cancels a run expects it done.
func (l *eventLog) waitFinished(t *testing.T, id string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); l.index(EventFinished, id) < 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("check %s never finished; finished so far: %v", id, l.finishedIDs())
		}
	}
}

// gatedPing blocks like a slow ping until gate closes.
func gatedPing(gate <-chan struct{}) PingFunc {
	return func(ctx context.Context, req PingRequest) (PingStats, error) {
		select {
		case <-gate:
			return PingStats{Sent: req.Count, Received: req.Count, RTTs: slices.Repeat([]time.Duration{time.Millisecond}, req.Count)}, nil
		case <-ctx.Done():
			return PingStats{Sent: req.Count}, nil
		}
	}
}

// TestRunIsConcurrent proves concurrency by structure: every independent
// check is held by a gated fixture, and all of them must have started
// before the gate opens. A sequential runner would never get there.
func TestRunIsConcurrent(t *testing.T) {
	gate := make(chan struct{})
	hold := preflighttest.Timing{Gate: gate}
	w := newTLSWorld(t)
	dns := startDNS(t, nil, hold)
	platform := startTLS(t, preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{}), Timing: hold})
	ntpSrv, err := preflighttest.StartNTP(preflighttest.NTPOptions{Timing: hold})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ntpSrv.Close() })

	cfg := testConfig(t, dns)
	cfg.HTTPSPort = platform.Port
	cfg.NTPServer = ntpSrv.Addr
	cfg.CAFile = w.caFile
	cfg.Timeout = 20 * time.Second
	cfg.Ping = gatedPing(gate)
	independent := []string{CheckDNS, CheckICMP, CheckTCPHTTPS, CheckNTP}
	log := newEventLog(independent...)

	done := make(chan Report, 1)
	go func() { done <- Run(context.Background(), cfg, log.record) }()
	log.waitReady(t)
	for _, id := range independent {
		if log.index(EventFinished, id) >= 0 {
			t.Errorf("%s finished while its fixture was held", id)
		}
	}
	if log.index(EventStarted, CheckTLS) >= 0 {
		t.Error("tls started before tcp-https finished")
	}
	close(gate)
	rep := <-done

	for _, r := range rep.Results {
		assertResultInvariants(t, r)
		if r.Status != StatusOK {
			t.Errorf("%s: %s %s", r.ID, r.Status, r.Summary)
		}
	}
	for _, dep := range [][2]string{{CheckTCPHTTPS, CheckTLS}, {CheckTLS, CheckHTTPS}} {
		if fin, start := log.index(EventFinished, dep[0]), log.index(EventStarted, dep[1]); fin < 0 || start < fin {
			t.Errorf("%s started (event %d) before %s finished (event %d)", dep[1], start, dep[0], fin)
		}
	}
}

// TestRunEvents checks the event contract: one started and one finished
// event per check, never two calls at once, none after Run returns.
func TestRunEvents(t *testing.T) {
	closed, err := preflighttest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.HTTPSPort = closed // tls and https are skipped: they still get events
	cfg.Ping = gatedPing(closedChan())
	var inCallback, returned atomic.Bool
	counts := map[string]int{}
	n := 0 // deliberately unsynchronised: -race fails if calls overlap
	rep := Run(context.Background(), cfg, func(e Event) {
		if !inCallback.CompareAndSwap(false, true) {
			t.Error("onEvent called concurrently")
		}
		defer inCallback.Store(false)
		if returned.Load() {
			t.Error("onEvent called after Run returned")
		}
		n++
		counts[string(e.Kind)+" "+e.ID]++
		if e.Kind == EventFinished && (e.Result == nil || e.Result.ID != e.ID) {
			t.Errorf("finished event without its result: %+v", e)
		}
		if e.Title == "" || e.Time.IsZero() {
			t.Errorf("event without title or time: %+v", e)
		}
	})
	returned.Store(true)
	if n != 2*len(rep.Results) {
		t.Errorf("%d events for %d results", n, len(rep.Results))
	}
	for _, r := range rep.Results {
		if counts["started "+r.ID] != 1 || counts["finished "+r.ID] != 1 {
			t.Errorf("%s: %d started, %d finished events", r.ID, counts["started "+r.ID], counts["finished "+r.ID])
		}
	}
	if ids := resultIDs(rep); !slices.Equal(ids, SelectedChecks(cfg)) {
		t.Errorf("results in order %v, want %v", ids, SelectedChecks(cfg))
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func resultIDs(rep Report) []string {
	var ids []string
	for _, r := range rep.Results {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestRunCancel interrupts a run whose checks are all stuck and expects a
// prompt return with "interrupted" for every unfinished check.
func TestRunCancel(t *testing.T) {
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	dns := startDNS(t, nil, preflighttest.Timing{Gate: never})
	stall := startTLS(t, preflighttest.TLSOptions{Mode: preflighttest.TLSStall})
	ntpSrv, err := preflighttest.StartNTP(preflighttest.NTPOptions{Mode: preflighttest.NTPSilent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ntpSrv.Close() })
	cfg := testConfig(t, dns)
	cfg.HTTPSPort = stall.Port
	cfg.NTPServer = ntpSrv.Addr
	cfg.Timeout = time.Minute
	cfg.Ping = gatedPing(never)
	log := newEventLog(CheckDNS, CheckICMP, CheckTCPHTTPS, CheckNTP)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Report, 1)
	go func() { done <- Run(ctx, cfg, log.record) }()
	log.waitReady(t)
	log.waitFinished(t, CheckLocalNetwork) // it needs no network: it ends before the cancel
	cancelled := time.Now()
	cancel()
	var rep Report
	select {
	case rep = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancellation (timeout is 1 minute)")
	}
	t.Logf("Run returned %v after cancel", time.Since(cancelled))

	if !rep.Interrupted {
		t.Error("report not marked interrupted")
	}
	for _, id := range []string{CheckDNS, CheckICMP, CheckTCPHTTPS, CheckTLS, CheckHTTPS, CheckNTP} {
		r, ok := rep.Result(id)
		if !ok {
			t.Errorf("%s missing from the report", id)
			continue
		}
		checkResult(t, r, wantResult{status: StatusError, reason: "interrupted"})
		assertResultInvariants(t, r)
	}
	if r, _ := rep.Result(CheckLocalNetwork); r.Status != StatusOK {
		t.Errorf("local-network = %s, want ok (it finished before the cancel)", r.Status)
	}
	if rep.Counts.Error != 6 || !rep.Failed(false) {
		t.Errorf("counts = %+v", rep.Counts)
	}
	if got := len(log.finishedIDs()); got != len(rep.Results) {
		t.Errorf("%d finished events for %d results", got, len(rep.Results))
	}
}

func TestReportFailed(t *testing.T) {
	tests := []struct {
		name           string
		counts         Counts
		normal, strict bool
	}{
		{"all ok", Counts{OK: 5}, false, false},
		{"skips never fail", Counts{OK: 4, Skip: 2}, false, false},
		{"warnings fail only when strict", Counts{OK: 4, Warn: 1}, false, true},
		{"a failure fails", Counts{OK: 4, Fail: 1}, true, true},
		{"a check that could not run fails", Counts{OK: 4, Error: 1}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Report{Counts: tt.counts}
			if r.Failed(false) != tt.normal || r.Failed(true) != tt.strict {
				t.Errorf("Failed(false)=%v Failed(true)=%v, want %v %v", r.Failed(false), r.Failed(true), tt.normal, tt.strict)
			}
		})
	}
}

func TestRunReportHeader(t *testing.T) {
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.Only = []string{CheckLocalNetwork}
	cfg.Site = "Depot 7"
	cfg.Proxy = "http://user:secret@127.0.0.1:9"
	cfg.Skip = []string{CheckProxy}
	at := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	cfg.Clock = func() time.Time { return at }
	rep := runChecks(t, cfg)
	if rep.SchemaVersion != 1 || rep.Site != "Depot 7" || !rep.Generated.Equal(at) {
		t.Errorf("header = %d %q %v", rep.SchemaVersion, rep.Site, rep.Generated)
	}
	if rep.Targets.Proxy != "http://redacted@127.0.0.1:9" || rep.Targets.Host != preflighttest.Host {
		t.Errorf("targets = %+v", rep.Targets)
	}
	if len(rep.Flows) == 0 || rep.Counts.OK != 1 {
		t.Errorf("flows %v counts %+v", rep.Flows, rep.Counts)
	}
}

// BenchmarkRun runs the current profile against fixtures that each add
// the same delay. The wall time per run stays close to the slowest
// dependency chain (tcp-https -> tls -> https), not the sum of the checks:
// compare wall_ms/op with sum_ms/op.
func BenchmarkRun(b *testing.B) {
	const delay = 25 * time.Millisecond
	p, err := preflighttest.StartPlatform(preflighttest.PlatformOptions{Delay: delay})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	ca, err := p.WriteCAFile(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig(b, p.DNS)
	cfg.HTTPSPort = p.HTTPS.Port
	cfg.NTPServer = p.NTP.Addr
	cfg.CAFile = ca
	cfg.Count = 4
	cfg.Ping = func(ctx context.Context, req PingRequest) (PingStats, error) {
		timer := time.NewTimer(2 * delay) // a slow ping, like a real one
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		return PingStats{Sent: req.Count, Received: req.Count, RTTs: slices.Repeat([]time.Duration{delay / 2}, req.Count)}, nil
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	var wall, sum, chain time.Duration
	b.ResetTimer()
	for b.Loop() {
		rep := Run(context.Background(), cfg, nil)
		wall += rep.Duration
		// pathTime is a check's duration plus its dependencies'.
		pathTime := map[string]time.Duration{}
		var slowest time.Duration
		for _, r := range rep.Results { // display order puts dependencies first
			if r.Status != StatusOK {
				b.Fatalf("%s: %s %s", r.ID, r.Status, r.Summary)
			}
			sum += r.Duration
			info, _ := LookupCheck(r.ID)
			pathTime[r.ID] = r.Duration + pathTime[info.Needs]
			slowest = max(slowest, pathTime[r.ID])
		}
		chain += slowest
	}
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(perOp(wall), "wall_ms/op")
	b.ReportMetric(perOp(chain), "chain_ms/op")
	b.ReportMetric(perOp(sum), "sum_ms/op")
}

// BenchmarkRunLoopback is a whole default-profile run against healthy loopback stand-ins, with
// the real ICMP path (pro-bing) and the default ping count and interval: the design's target is
// under 0.5 s when every target answers on loopback.
func BenchmarkRunLoopback(b *testing.B) {
	p, err := preflighttest.StartPlatform(preflighttest.PlatformOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	ca, err := p.WriteCAFile(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig(b, p.DNS)
	cfg.HTTPSPort = p.HTTPS.Port
	cfg.NTPServer = p.NTP.Addr
	cfg.CAFile = ca
	cfg.Count = DefaultCount
	cfg.PingInterval = 0 // the default
	cfg.Ping = nil       // pro-bing, to 127.0.0.1 only
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep := Run(context.Background(), cfg, nil)
		for _, r := range rep.Results {
			if r.Status != StatusOK && r.Status != StatusSkip {
				b.Fatalf("%s: %s %s", r.ID, r.Status, r.Summary)
			}
		}
	}
}
