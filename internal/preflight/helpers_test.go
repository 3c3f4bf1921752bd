package preflight

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// loopback is the only address tests talk to.
var loopback = netip.MustParseAddr(preflighttest.Loopback)

// loopbackOnlyDial is the Dial every test config uses: it refuses, and
// fails the test on, anything that is not a loopback address.
func loopbackOnlyDial(t testing.TB) DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("test tried to dial non-loopback address %q", address)
			return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError("non-loopback in test")}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
}

// testConfig is a configuration that can only reach loopback fixtures: a
// DNS fixture resolving platform.test to 127.0.0.1, ping and NTP to
// 127.0.0.1, and the local files read from testdata.
func testConfig(t testing.TB, dns *preflighttest.DNSServer) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Host = preflighttest.Host
	cfg.ExpectIP = preflighttest.Loopback
	cfg.PingTarget = preflighttest.Loopback
	cfg.DNSServer = dns.Addr
	cfg.NTPServer = net.JoinHostPort(preflighttest.Loopback, "1") // replaced by tests that run ntp
	cfg.Timeout = 2 * time.Second
	cfg.Count = 2
	cfg.PingInterval = 10 * time.Millisecond
	cfg.Dial = loopbackOnlyDial(t)
	cfg.Getenv = func(string) string { return "" }
	cfg.RouteTablePath = filepath.Join("testdata", "local", "route")
	cfg.ResolvConfPath = filepath.Join("testdata", "local", "resolv.conf")
	cfg.Ping = func(context.Context, PingRequest) (PingStats, error) {
		t.Error("test ran icmp without choosing a PingFunc")
		return PingStats{}, nil
	}
	return cfg
}

// startDNS starts a DNS fixture with the given records, platform.test ->
// 127.0.0.1 unless records override it.
func startDNS(t testing.TB, records map[string]preflighttest.DNSAnswer, timing preflighttest.Timing) *preflighttest.DNSServer {
	t.Helper()
	all := map[string]preflighttest.DNSAnswer{preflighttest.Host: preflighttest.Answer(loopback)}
	for k, v := range records {
		all[k] = v
	}
	s, err := preflighttest.StartDNS(preflighttest.DNSOptions{Records: all, Timing: timing})
	if err != nil {
		t.Fatalf("start DNS fixture: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func startTLS(t testing.TB, opts preflighttest.TLSOptions) *preflighttest.Server {
	t.Helper()
	s, err := preflighttest.StartTLS(opts)
	if err != nil {
		t.Fatalf("start TLS fixture: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newCA(t testing.TB, name string) *preflighttest.CA {
	t.Helper()
	ca, err := preflighttest.NewCA(name)
	if err != nil {
		t.Fatalf("new CA: %v", err)
	}
	return ca
}

func issue(t testing.TB, ca *preflighttest.CA, leaf preflighttest.Leaf) tls.Certificate {
	t.Helper()
	if leaf.Names == nil {
		leaf.Names = []string{preflighttest.Host}
	}
	cert, err := ca.Issue(leaf)
	if err != nil {
		t.Fatalf("issue certificate: %v", err)
	}
	return cert
}

func caFile(t testing.TB, ca *preflighttest.CA) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// runChecks validates cfg, runs it and checks the invariants every result
// must hold.
func runChecks(t testing.TB, cfg Config) Report {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration is invalid: %v", err)
	}
	rep := Run(context.Background(), cfg, nil)
	for _, r := range rep.Results {
		assertResultInvariants(t, r)
	}
	return rep
}

// runCheck runs a single check and returns its result.
func runCheck(t testing.TB, cfg Config, id string) Result {
	t.Helper()
	cfg.Only = []string{id}
	rep := runChecks(t, cfg)
	r, ok := rep.Result(id)
	if !ok {
		t.Fatalf("no result for %s in %+v", id, rep.Results)
	}
	return r
}

// assertResultInvariants checks the contract: known status, a summary, a
// hint on every warn/fail/error, a reason on every skip/error.
func assertResultInvariants(t testing.TB, r Result) {
	t.Helper()
	switch r.Status {
	case StatusOK, StatusWarn, StatusFail, StatusSkip, StatusError:
	default:
		t.Errorf("%s: unknown status %q", r.ID, r.Status)
	}
	if r.Summary == "" {
		t.Errorf("%s: empty summary", r.ID)
	}
	if (r.Status == StatusWarn || r.Status == StatusFail || r.Status == StatusError) && r.Hint == "" {
		t.Errorf("%s: %s result without a hint: %q", r.ID, r.Status, r.Summary)
	}
	if (r.Status == StatusSkip || r.Status == StatusError) && r.Reason == "" {
		t.Errorf("%s: %s result without a reason", r.ID, r.Status)
	}
	if r.Status == StatusOK && (r.Hint != "" || r.Rule != "") {
		t.Errorf("%s: ok result with hint %q / rule %q", r.ID, r.Hint, r.Rule)
	}
	if strings.Contains(r.Summary, "\n") || strings.Contains(r.Hint, "\n") {
		t.Errorf("%s: summary or hint spans several lines", r.ID)
	}
	if r.ID == "" || r.Title == "" || r.Group == "" {
		t.Errorf("result without id/title/group: %+v", r)
	}
	// A fault of the laptop never sends IT after it.
	if r.Fault == FaultLaptop && (r.Rule != "" || strings.Contains(r.Hint, "IT") || r.Status == StatusFail) {
		t.Errorf("%s: laptop fault with status %s, rule %q and hint %q: IT has nothing to do", r.ID, r.Status, r.Rule, r.Hint)
	}
	assertTranslated(t, r)
}

// assertTranslated holds every text a check writes to the catalogue: the French report must
// not fall back to English for it, and every evidence and metric key has words of its own.
func assertTranslated(t testing.TB, r Result) {
	t.Helper()
	for field, text := range map[string]string{"title": r.Title, "summary": r.Summary, "hint": r.Hint, "reason": r.Reason, "rule": r.Rule, "note": r.Note} {
		if _, known := LangFR.lookup(text); !known {
			t.Errorf("%s: the %s %q has no French in the catalogue (catalogue.go)", r.ID, field, text)
		}
	}
	for k := range r.Evidence {
		if !knownEvidence(k) {
			t.Errorf("%s: evidence key %q has no words in labels.go", r.ID, k)
		}
	}
	for k := range r.Metrics {
		if !knownMetric(k) {
			t.Errorf("%s: metric key %q has no words in labels.go", r.ID, k)
		}
	}
}

// wantResult checks status and that the summary, hint and rule contain the
// given fragments (empty fragments are not checked).
type wantResult struct {
	status  Status
	summary string
	hint    string
	rule    string
	reason  string
	note    string
	fault   string
}

func checkResult(t testing.TB, r Result, want wantResult) {
	t.Helper()
	t.Logf("%s %s: %s | hint: %s | rule: %s | reason: %s | note: %s", r.ID, r.Status, r.Summary, r.Hint, r.Rule, r.Reason, r.Note)
	if r.Status != want.status {
		t.Errorf("status = %s, want %s (summary %q, hint %q)", r.Status, want.status, r.Summary, r.Hint)
	}
	for _, c := range []struct{ field, got, want string }{
		{"summary", r.Summary, want.summary}, {"hint", r.Hint, want.hint},
		{"rule", r.Rule, want.rule}, {"reason", r.Reason, want.reason}, {"note", r.Note, want.note},
	} {
		if c.want != "" && !strings.Contains(c.got, c.want) {
			t.Errorf("%s = %q, want it to contain %q", c.field, c.got, c.want)
		}
	}
	if r.Fault != want.fault {
		t.Errorf("fault = %q, want %q", r.Fault, want.fault)
	}
}
