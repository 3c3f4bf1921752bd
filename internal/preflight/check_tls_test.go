package preflight

import (
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// tlsWorld is the certificate landscape of the TLS tests: the platform's
// CA (which the device trusts through ca-file) and a TLS-inspection CA
// (which only this laptop trusts).
type tlsWorld struct {
	platform    *preflighttest.CA
	interceptor *preflighttest.CA
	caFile      string
}

func newTLSWorld(t *testing.T) tlsWorld {
	w := tlsWorld{platform: newCA(t, "Platform Test CA"), interceptor: newCA(t, "Corp Inspection CA")}
	w.caFile = caFile(t, w.platform)
	return w
}

func TestCheckTLS(t *testing.T) {
	w := newTLSWorld(t)
	now := time.Now()
	good := issue(t, w.platform, preflighttest.Leaf{})
	tests := []struct {
		name string
		opts preflighttest.TLSOptions
		edit func(*Config)
		want wantResult
		// inspection is true when the report must carry the exemption request.
		inspection bool
	}{
		{name: "platform certificate trusted through ca-file", opts: preflighttest.TLSOptions{Cert: good},
			want: wantResult{status: StatusOK, summary: "TLS 1.2 with"}},
		{name: "expected issuer matches", opts: preflighttest.TLSOptions{Cert: good},
			edit: func(c *Config) { c.ExpectIssuer = "platform test ca" }, want: wantResult{status: StatusOK}},
		{name: "certificate about to expire", opts: preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{NotAfter: now.Add(10 * 24 * time.Hour)})},
			want: wantResult{status: StatusWarn, summary: "expires in 9 days", hint: "Smart Impulse support"}},
		{name: "expired certificate", opts: preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{NotBefore: now.AddDate(0, 0, -90), NotAfter: now.AddDate(0, 0, -1)})},
			want: wantResult{status: StatusFail, summary: "expired on"}},
		{name: "certificate for another host", opts: preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{Names: []string{"other.test"}})},
			want: wantResult{status: StatusFail, summary: "is for other.test, not platform.test", hint: "something answers in place of the platform"}},
		{name: "unknown authority", opts: preflighttest.TLSOptions{Cert: good}, edit: func(c *Config) { c.CAFile = "" },
			want: wantResult{status: StatusFail, summary: "issued by Platform Test CA (Preflight Test), which the device does not trust",
				rule: "exempt platform.test (127.0.0.1) port"}},
		{name: "inspection CA the device does not have", opts: preflighttest.TLSOptions{Cert: issue(t, w.interceptor, preflighttest.Leaf{})},
			edit: func(c *Config) { c.DeviceRootsOnly = true; c.SystemRoots = w.interceptor.Pool() },
			want: wantResult{status: StatusFail, summary: "TLS inspection detected: the certificate for platform.test is issued by Corp Inspection CA",
				hint: "ask IT to exempt platform.test from TLS inspection", rule: "exempt platform.test (127.0.0.1) port"},
			inspection: true},
		{name: "inspection the device would still accept", opts: preflighttest.TLSOptions{Cert: issue(t, w.interceptor, preflighttest.Leaf{})},
			edit: func(c *Config) { c.SystemRoots = w.interceptor.Pool(); c.ExpectIssuer = "Platform Test CA" },
			want: wantResult{status: StatusWarn, summary: "issued by Corp Inspection CA (Preflight Test), not Platform Test CA; the device would still accept it",
				rule: "exempt platform.test"},
			inspection: true},
		{name: "server refuses TLS 1.2", opts: preflighttest.TLSOptions{Mode: preflighttest.TLS11Only, Cert: good},
			want: wantResult{status: StatusFail, summary: "the server refuses TLS 1.2"}},
		{name: "plain HTTP on the TLS port", opts: preflighttest.TLSOptions{Mode: preflighttest.TLSPlainHTTP},
			want: wantResult{status: StatusFail, summary: "plain HTTP answered on platform.test:", hint: "answers in clear text"}},
		{name: "reset after ClientHello", opts: preflighttest.TLSOptions{Mode: preflighttest.TLSResetAfterHello},
			want: wantResult{status: StatusFail, summary: "connection cut right after the TLS ClientHello", hint: "SNI"}},
		{name: "stalled handshake", opts: preflighttest.TLSOptions{Mode: preflighttest.TLSStall},
			edit: func(c *Config) { c.Timeout = 300 * time.Millisecond },
			want: wantResult{status: StatusFail, summary: "TLS handshake stalled", hint: "holds the connection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startTLS(t, tt.opts)
			cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
			cfg.HTTPSPort = srv.Port
			cfg.CAFile = w.caFile
			cfg.SystemRoots = x509.NewCertPool() // this laptop trusts nothing by default
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			r := runCheck(t, cfg, CheckTLS)
			checkResult(t, r, tt.want)
			if got := r.Evidence[evidenceInspection] != ""; got != tt.inspection {
				t.Errorf("inspection evidence = %v, want %v", got, tt.inspection)
			}
			if r.Status == StatusOK || r.Status == StatusWarn {
				if r.Evidence["tls_version"] != "TLS 1.2" || r.Evidence["cipher_suite"] == "" || r.Evidence["chain"] == "" {
					t.Errorf("evidence = %v", r.Evidence)
				}
				if _, ok := r.Metrics["handshake_ms"]; !ok {
					t.Error("no handshake_ms metric")
				}
			}
		})
	}
}

func TestCheckTLSNeedsTCP(t *testing.T) {
	closed, err := preflighttest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.HTTPSPort = closed
	cfg.Only = []string{CheckTCPHTTPS, CheckTLS, CheckHTTPS}
	rep := runChecks(t, cfg)
	tlsResult, _ := rep.Result(CheckTLS)
	checkResult(t, tlsResult, wantResult{status: StatusSkip, reason: "needs tcp-https, which did not pass (fail)"})
	httpsResult, _ := rep.Result(CheckHTTPS)
	checkResult(t, httpsResult, wantResult{status: StatusSkip, reason: "needs tls, which did not pass (skip)"})
}

func TestIsProtocolVersionRefusal(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"remote alert text", &net.OpError{Op: "remote error", Err: errors.New("tls: protocol version not supported")}, true},
		{"old server answering 1.1", errors.New("tls: server selected unsupported protocol version 302"), true},
		{"other alert", &net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isProtocolVersionRefusal(tt.err); got != tt.want {
				t.Errorf("isProtocolVersionRefusal() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCheckTLSFallsBackToExpectedAddress measures the path even when the
// name does not resolve (the dns check reports that).
func TestCheckTLSFallsBackToExpectedAddress(t *testing.T) {
	w := newTLSWorld(t)
	srv := startTLS(t, preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{})})
	cfg := testConfig(t, startDNS(t, map[string]preflighttest.DNSAnswer{preflighttest.Host: preflighttest.NXDomain()}, preflighttest.Timing{}))
	cfg.HTTPSPort = srv.Port
	cfg.CAFile = w.caFile
	r := runCheck(t, cfg, CheckTLS)
	checkResult(t, r, wantResult{status: StatusOK})
	if r.Evidence["address"] != "127.0.0.1 (expect-ip: the name did not resolve)" {
		t.Errorf("address evidence = %q", r.Evidence["address"])
	}
}

// TestTrustStoreUnavailable covers the error status: the ca-file vanished
// between validation and the run, so nothing can be verified.
func TestTrustStoreUnavailable(t *testing.T) {
	w := newTLSWorld(t)
	srv := startTLS(t, preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{})})
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.HTTPSPort = srv.Port
	cfg.CAFile = w.caFile
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.CAFile += ".gone"
	cfg.Only = []string{CheckTLS, CheckHTTPS}
	rep := Run(t.Context(), cfg, nil)
	for _, id := range cfg.Only {
		r, _ := rep.Result(id)
		assertResultInvariants(t, r)
		if id == CheckTLS {
			checkResult(t, r, wantResult{status: StatusError, reason: "ca-file"})
		}
	}
}
