package preflight

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"time"
)

// checkFunc runs one check under ctx (already bounded by the per-check
// timeout) and returns its outcome; ID, Title, Group and Duration are filled
// in by the runner.
type checkFunc func(ctx context.Context, env *probeEnv) Result

// checkFuncs maps ids to implementations. It is only ever read.
var checkFuncs = map[string]checkFunc{
	CheckLocalNetwork: checkLocalNetwork,
	CheckDeviceSubnet: checkDeviceSubnet,
	CheckDeviceGW:     checkDeviceGateway,
	CheckDeviceAddr:   checkDeviceAddress,
	CheckDNS:          checkDNS,
	CheckICMP:         checkICMP,
	CheckTCPHTTPS:     checkTCPHTTPS,
	CheckTLS:          checkTLS,
	CheckHTTPS:        checkHTTPS,
	CheckTCPHTTP:      checkTCPHTTP,
	CheckHTTP:         checkHTTP,
	CheckNTP:          checkNTP,
	CheckProxy:        checkProxy,
}

// probeEnv is what every check shares during one run.
type probeEnv struct {
	cfg      Config
	resolver *net.Resolver

	trustOnce sync.Once
	trust     trustStores

	// local is closed once localFacts is set.
	local      chan struct{}
	localFacts LocalNetwork
}

// trustStores are the two root sets a chain is verified against.
type trustStores struct {
	device *x509.CertPool // what the device trusts
	laptop *x509.CertPool // what this laptop trusts
	err    error
}

func newProbeEnv(cfg Config) *probeEnv {
	return &probeEnv{
		cfg:      cfg,
		resolver: newResolver(cfg.DNSServer, nil, cfg.DialUDP),
		local:    make(chan struct{}),
	}
}

// trustStores loads the laptop's roots and the ca-file once per run.
func (e *probeEnv) trustStores() trustStores {
	e.trustOnce.Do(func() {
		laptop := e.cfg.SystemRoots
		if laptop == nil {
			pool, err := x509.SystemCertPool()
			if err != nil {
				e.trust.err = fmt.Errorf("load this laptop's system roots: %w", err)
				return
			}
			laptop = pool
		}
		var extra []*x509.Certificate
		if e.cfg.CAFile != "" {
			certs, err := loadCAFile(e.cfg.CAFile)
			if err != nil {
				e.trust.err = fmt.Errorf("ca-file %s: %w", e.cfg.CAFile, err)
				return
			}
			extra = certs
		}
		if e.cfg.CAPEM != "" {
			certs, err := parseCAPEM([]byte(e.cfg.CAPEM))
			if err != nil {
				e.trust.err = fmt.Errorf("the device's CA certificates: %w", err)
				return
			}
			extra = append(extra, certs...)
		}
		device := x509.NewCertPool()
		if !e.cfg.DeviceRootsOnly {
			device = laptop.Clone()
		}
		for _, c := range extra {
			device.AddCert(c)
		}
		e.trust = trustStores{device: device, laptop: laptop}
	})
	return e.trust
}

// eventSink serialises the callback and is the single record of each
// check's final result, so a check finishing while Run gives up on it can
// never be reported twice.
type eventSink struct {
	mu      sync.Mutex
	fn      func(Event)
	clock   func() time.Time
	results map[string]Result
	closed  bool
	start   time.Time // of the run, so an interrupted check says how long it ran
}

func (s *eventSink) started(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.fn == nil {
		return
	}
	info, _ := LookupCheck(id)
	s.fn(Event{Kind: EventStarted, ID: id, Title: info.Title, Time: s.clock()})
}

// finished records r unless a result for the check is already recorded or
// the run is over, and reports whether it was recorded.
func (s *eventSink) finished(r Result) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, dup := s.results[r.ID]; dup {
		return false
	}
	s.results[r.ID] = r
	if s.fn != nil {
		rc := r
		s.fn(Event{Kind: EventFinished, ID: r.ID, Title: r.Title, Time: s.clock(), Result: &rc})
	}
	return true
}

// close ends the run: every check without a result gets the interrupted
// result (and its finished event), and later events are dropped.
func (s *eventSink) close(ids []string) map[string]Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.results[id]; ok {
			continue
		}
		r := interruptedResult(id, time.Since(s.start))
		s.results[id] = r
		if s.fn != nil && !s.closed {
			rc := r
			s.fn(Event{Kind: EventFinished, ID: id, Title: r.Title, Time: s.clock(), Result: &rc})
		}
	}
	s.closed = true
	return s.results
}

func interruptedResult(id string, ran time.Duration) Result {
	info, _ := LookupCheck(id)
	return Result{
		ID: id, Title: info.Title, Group: info.Group, Status: StatusError,
		Summary:  "interrupted before it finished",
		Hint:     "run the checks again and let them finish",
		Reason:   "interrupted",
		Duration: ran, DurationMS: ms(ran),
	}
}

// Run runs the selected checks concurrently and returns the report. Each
// check has its own deadline (cfg.Timeout) starting when it starts; tls
// waits for tcp-https, https for tls and http for tcp-http, and is skipped
// (naming its dependency) when that did not pass. When the dependency is not
// selected the check runs without waiting. Checks not selected (profile,
// only, skip) are absent from the report.
//
// onEvent, when not nil, gets one started and one finished event per
// selected check, as they happen. Calls are serialised (never concurrent)
// and none happen after Run returns, so it need not be thread-safe.
//
// Cancelling ctx makes Run return promptly with what finished; unfinished
// checks come back with status error and reason "interrupted". Run expects
// a configuration that passed Validate; it does not validate it again.
func Run(ctx context.Context, cfg Config, onEvent func(Event)) Report {
	cfg = cfg.withDefaults()
	start := time.Now()
	env := newProbeEnv(cfg)
	ids := SelectedChecks(cfg)
	selected := make(map[string]bool, len(ids))
	for _, id := range ids {
		selected[id] = true
	}
	sink := &eventSink{fn: onEvent, clock: cfg.Clock, results: make(map[string]Result, len(ids)), start: start}

	// Local facts feed both the local-network check and the report header.
	go func() {
		lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		env.localFacts = gatherLocalNetwork(lctx, env)
		close(env.local)
	}()

	done := make(map[string]chan struct{}, len(ids))
	final := make(map[string]*Result, len(ids))
	for _, id := range ids {
		done[id] = make(chan struct{})
		final[id] = new(Result)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			defer close(done[id])
			r, ok := runOne(ctx, env, id, selected, done, final, sink)
			if ok {
				*final[id] = r
			} else {
				*final[id] = interruptedResult(id, time.Since(start))
			}
		})
	}

	all := make(chan struct{})
	go func() {
		wg.Wait()
		close(all)
	}()
	interrupted := false
	select {
	case <-all:
	case <-ctx.Done():
		interrupted = true
	}
	results := sink.close(ids)

	report := Report{
		SchemaVersion: SchemaVersion,
		Site:          cfg.Site,
		Serial:        cfg.Serial,
		Installer:     cfg.Installer,
		Device:        cfg.Device.info(cfg.BundleSettings),
		Generated:     cfg.Clock(),
		Targets:       cfg.targets(),
		Flows:         Rules(cfg),
		Interrupted:   interrupted,
	}
	select {
	case <-env.local:
		report.Local = env.localFacts
	case <-ctx.Done():
	}
	for _, id := range ids {
		r := results[id]
		report.Results = append(report.Results, r)
		report.Counts.add(r.Status)
	}
	report.Duration = time.Since(start)
	report.DurationMS = ms(report.Duration)
	return report
}

// runOne waits for the check's dependency, runs it and records its result.
// It returns false when the run was cancelled before the check could finish.
func runOne(ctx context.Context, env *probeEnv, id string, selected map[string]bool,
	done map[string]chan struct{}, final map[string]*Result, sink *eventSink) (Result, bool) {
	info, _ := LookupCheck(id)
	base := Result{ID: id, Title: info.Title, Group: info.Group}

	skip := func(reason, hint string) (Result, bool) {
		r := base
		r.Status, r.Reason, r.Summary, r.Hint = StatusSkip, reason, "not run: "+reason, hint
		sink.started(id)
		sink.finished(r)
		return r, true
	}
	if info.DirectOnly && env.cfg.Proxy != "" {
		return skip("not needed with a proxy", "")
	}
	if id == CheckProxy && env.cfg.Proxy == "" {
		return skip("no proxy configured (set proxy to test one)", "")
	}
	if info.Needs != "" && selected[info.Needs] {
		select {
		case <-done[info.Needs]:
		case <-ctx.Done():
			return Result{}, false
		}
		dep := *final[info.Needs]
		if dep.Status == StatusError && dep.Reason == "interrupted" {
			return Result{}, false
		}
		if !dep.Status.passes() {
			return skip(fmt.Sprintf("needs %s, which did not pass (%s)", info.Needs, dep.Status),
				"fix "+info.Needs+" first")
		}
	}

	sink.started(id)
	cctx, cancel := context.WithTimeout(ctx, env.cfg.Timeout)
	defer cancel()
	t0 := time.Now()
	r := checkFuncs[id](cctx, env)
	r.ID, r.Title, r.Group = id, info.Title, info.Group
	r.Duration = time.Since(t0)
	r.DurationMS = ms(r.Duration)
	if ctx.Err() != nil {
		// The run was cancelled: whatever the check saw is an artefact of
		// the cancellation, not a measurement.
		return Result{}, false
	}
	if !sink.finished(r) {
		return Result{}, false
	}
	return r, true
}
