package preflight

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// countingHandler counts requests, to prove none reached a server the
// device would not trust.
func countingHandler(n *atomic.Int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		next.ServeHTTP(w, r)
	})
}

func TestCheckHTTPS(t *testing.T) {
	w := newTLSWorld(t)
	good := issue(t, w.platform, preflighttest.Leaf{})
	tests := []struct {
		name    string
		cert    *preflighttest.CA
		handler http.Handler
		want    wantResult
	}{
		{"healthy platform", w.platform, preflighttest.HealthHandler(),
			wantResult{status: StatusOK, summary: `GET /v1/health answered 200 {"status":"ok"}`}},
		{"captive portal redirect", w.platform, preflighttest.RedirectHandler(http.StatusFound, "http://portal.site.test/login?from=smartx"),
			wantResult{status: StatusFail, summary: "redirected (302) to http://portal.site.test/login?from=smartx: captive portal or filtering proxy", hint: "captive portal or filtering proxy"}},
		{"block page", w.platform, preflighttest.BlockPageHandler(http.StatusOK, "Access denied by Corp Web Filter"),
			wantResult{status: StatusFail, summary: `an HTML page titled "Access denied by Corp Web Filter"`, rule: "allow TCP"}},
		{"forbidden", w.platform, preflighttest.HealthHandlerStatus(http.StatusForbidden, "denied"),
			wantResult{status: StatusFail, summary: "access denied (403 Forbidden)"}},
		{"platform error", w.platform, preflighttest.HealthHandlerStatus(http.StatusServiceUnavailable, "maintenance"),
			wantResult{status: StatusWarn, summary: "answered 503 Service Unavailable", hint: "not a network problem"}},
		{"platform degraded", w.platform, preflighttest.HealthHandlerStatus(http.StatusOK, "degraded"),
			wantResult{status: StatusWarn, summary: `reports status "degraded"`}},
		{"redirect on the same host", w.platform, preflighttest.RedirectHandler(http.StatusMovedPermanently, "/v2/health"),
			wantResult{status: StatusWarn, summary: "unexpected redirect (301)"}},
		{"untrusted certificate gets no request", w.interceptor, preflighttest.HealthHandler(),
			wantResult{status: StatusFail, summary: "no TLS connection the device would accept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int64
			cert := good
			if tt.cert != w.platform {
				cert = issue(t, tt.cert, preflighttest.Leaf{})
			}
			srv := startTLS(t, preflighttest.TLSOptions{Cert: cert, Handler: countingHandler(&hits, tt.handler)})
			cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
			cfg.HTTPSPort = srv.Port
			cfg.CAFile = w.caFile
			cfg.SystemRoots = x509.NewCertPool()
			r := runCheck(t, cfg, CheckHTTPS)
			checkResult(t, r, tt.want)
			if tt.cert != w.platform && hits.Load() != 0 {
				t.Errorf("%d requests reached a server the device does not trust", hits.Load())
			}
		})
	}
}

func TestCheckHTTP(t *testing.T) {
	tests := []struct {
		name    string
		handler func(port int) http.Handler
		want    wantResult
	}{
		{"healthy platform", func(int) http.Handler { return preflighttest.HealthHandler() },
			wantResult{status: StatusOK, summary: "answered 200"}},
		{"redirect to HTTPS on the same host is fine", func(int) http.Handler {
			return preflighttest.RedirectHandler(http.StatusMovedPermanently, "https://platform.test/v1/health")
		}, wantResult{status: StatusOK, summary: "redirects to HTTPS on the same host"}},
		{"transparent proxy", func(int) http.Handler { return preflighttest.TransparentProxyHandler(preflighttest.HealthHandler()) },
			wantResult{status: StatusWarn, summary: "through a transparent proxy (Via: 1.1 proxy.site.test", hint: "transparent proxy sits on port"}},
		{"portal on another host", func(int) http.Handler {
			return preflighttest.RedirectHandler(http.StatusFound, "http://portal.site.test/login")
		}, wantResult{status: StatusFail, summary: "redirected (302) to http://portal.site.test/login", rule: "allow TCP from <device> to 127.0.0.1 (platform.test) port"}},
		{"block page", func(int) http.Handler { return preflighttest.BlockPageHandler(http.StatusForbidden, "Blocked") },
			wantResult{status: StatusFail, summary: `titled "Blocked"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := preflighttest.StartHTTP(tt.handler(0), preflighttest.Timing{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
			cfg.HTTPPort = srv.Port
			cfg.Only = []string{CheckTCPHTTP, CheckHTTP}
			rep := runChecks(t, cfg)
			r, _ := rep.Result(CheckHTTP)
			checkResult(t, r, tt.want)
			if !strings.Contains(r.Evidence["url"], "http://platform.test:"+strconv.Itoa(srv.Port)) {
				t.Errorf("url evidence = %q", r.Evidence["url"])
			}
		})
	}
}

func TestEvaluateHealthEdgeCases(t *testing.T) {
	cfg := DefaultConfig()
	u, _ := url.Parse("https://smartx.smart-impulse.com/v1/health")
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		plain  bool
		want   wantResult
	}{
		{"proxy wants authentication", http.StatusProxyAuthRequired, http.Header{}, "", true,
			wantResult{status: StatusFail, summary: "asks for authentication (407)"}},
		{"squid error page", http.StatusServiceUnavailable, http.Header{"X-Squid-Error": {"ERR_CONNECT_FAIL 111"}, "Content-Type": {"text/html"}},
			"<html><title>ERROR: The requested URL could not be retrieved</title></html>", true,
			wantResult{status: StatusFail, summary: "The requested URL could not be retrieved"}},
		{"not JSON", http.StatusOK, http.Header{"Content-Type": {"text/plain"}}, "hello", false,
			wantResult{status: StatusWarn, summary: "not the platform's JSON (text/plain)"}},
		{"redirect without location", http.StatusFound, http.Header{}, "", false,
			wantResult{status: StatusWarn, summary: "without a Location"}},
		{"html without content type", http.StatusOK, http.Header{}, "<!DOCTYPE html><html><head><title>Wi-Fi login</title>", false,
			wantResult{status: StatusFail, summary: `"Wi-Fi login"`}},
		{"via on https is evidence only", http.StatusOK, http.Header{"Via": {"1.1 cdn"}, "Content-Type": {"application/json"}}, `{"status":"ok"}`, false,
			wantResult{status: StatusOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Result
			rep := healthReply{url: u, status: tt.status, header: tt.header, body: []byte(tt.body)}
			if loc := tt.header.Get("Location"); loc != "" {
				rep.location, _ = u.Parse(loc)
			}
			evaluateHealth(rep, cfg, tt.plain, &r)
			checkResult(t, r, tt.want)
		})
	}
}

func TestPageTitle(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := map[string]string{
		"<title>  Access\n denied </title>": "Access denied",
		"<TITLE lang=en>Portal</TITLE>":     "Portal",
		"no title":                          "",
		"<title>" + long + "</title>":       long[:117] + "...",
	}
	for in, want := range tests {
		if got := pageTitle([]byte(in)); got != want {
			t.Errorf("pageTitle(%q) = %q, want %q", in, got, want)
		}
	}
}
