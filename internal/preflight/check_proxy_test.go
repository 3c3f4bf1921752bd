package preflight

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

func TestCheckProxy(t *testing.T) {
	w := newTLSWorld(t)
	platform := startTLS(t, preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{})})
	intercepted := startTLS(t, preflighttest.TLSOptions{Cert: issue(t, w.interceptor, preflighttest.Leaf{})})
	maintenance := startTLS(t, preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{}),
		Handler: preflighttest.HealthHandlerStatus(503, "maintenance")})
	closed, err := preflighttest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	const user, password = "smartx", "pa55-word"
	tests := []struct {
		name     string
		opts     preflighttest.ProxyOptions
		platform *preflighttest.Server
		userinfo *url.Userinfo
		noProxy  bool // proxy URL points to a closed port
		edit     func(*Config)
		want     wantResult
		wantAuth bool
	}{
		{name: "tunnel to the platform", opts: preflighttest.ProxyOptions{}, platform: platform,
			want: wantResult{status: StatusOK, summary: "through http://127.0.0.1:"}},
		{name: "authentication required, none given", opts: preflighttest.ProxyOptions{Mode: preflighttest.ProxyAuthRequired, User: user, Password: password},
			platform: platform, want: wantResult{status: StatusFail, summary: "requires authentication (407)", hint: "give the device proxy credentials", rule: "without authentication"}},
		{name: "credentials sent as Basic", opts: preflighttest.ProxyOptions{Mode: preflighttest.ProxyAuthRequired, User: user, Password: password},
			platform: platform, userinfo: url.UserPassword(user, password), want: wantResult{status: StatusOK}, wantAuth: true},
		{name: "wrong credentials", opts: preflighttest.ProxyOptions{Mode: preflighttest.ProxyAuthRequired, User: user, Password: password},
			platform: platform, userinfo: url.UserPassword(user, "nope"), want: wantResult{status: StatusFail, summary: "rejected the credentials (407)"}, wantAuth: true},
		{name: "policy forbids", opts: preflighttest.ProxyOptions{Mode: preflighttest.ProxyForbidden}, platform: platform,
			want: wantResult{status: StatusFail, summary: "policy forbids platform.test:", hint: "allow CONNECT", rule: "allow CONNECT from <device> through proxy"}},
		{name: "proxy unreachable", noProxy: true, platform: platform,
			want: wantResult{status: StatusFail, summary: "proxy 127.0.0.1:" + strconv.Itoa(closed) + " refused", hint: "check the proxy address"}},
		{name: "platform error through the proxy", opts: preflighttest.ProxyOptions{}, platform: maintenance,
			want: wantResult{status: StatusWarn, summary: "answered 503", hint: "not a network problem"}},
		{name: "inspection through the proxy", opts: preflighttest.ProxyOptions{}, platform: intercepted,
			edit: func(c *Config) { c.DeviceRootsOnly = true; c.SystemRoots = w.interceptor.Pool() },
			want: wantResult{status: StatusFail, summary: "through the proxy: TLS inspection detected", rule: "exempt platform.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, err := preflighttest.StartProxy(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { proxy.Close() })
			u := url.URL{Scheme: "http", Host: proxy.Addr, User: tt.userinfo}
			if tt.noProxy {
				u.Host = "127.0.0.1:" + strconv.Itoa(closed)
			}
			cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
			cfg.Proxy = u.String()
			cfg.HTTPSPort = tt.platform.Port
			cfg.CAFile = w.caFile
			cfg.SystemRoots = x509.NewCertPool()
			cfg.Only = []string{CheckTCPHTTPS, CheckTLS, CheckHTTPS, CheckProxy}
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			rep := runChecks(t, cfg)
			r, _ := rep.Result(CheckProxy)
			checkResult(t, r, tt.want)

			reqs := proxy.Requests()
			if !tt.noProxy && (len(reqs) != 1 || reqs[0].Target != "platform.test:"+strconv.Itoa(tt.platform.Port)) {
				t.Errorf("proxy requests = %+v, want one CONNECT to platform.test", reqs)
			}
			if tt.wantAuth && (len(reqs) == 0 || reqs[0].Authorization == "") {
				t.Error("no Proxy-Authorization sent")
			}
			// Direct checks are not needed with a proxy.
			for _, id := range []string{CheckTCPHTTPS, CheckTLS, CheckHTTPS} {
				res, _ := rep.Result(id)
				checkResult(t, res, wantResult{status: StatusSkip, reason: "not needed with a proxy"})
			}
			out, _ := json.Marshal(rep)
			if bytes.Contains(out, []byte(password)) || bytes.Contains(out, []byte("nope")) {
				t.Error("the report contains the proxy password")
			}
		})
	}
}

// TestCheckProxyOverTLS uses an https:// proxy URL: TLS to the proxy
// (verified with the device's trust), then CONNECT and TLS inside.
func TestCheckProxyOverTLS(t *testing.T) {
	w := newTLSWorld(t)
	platform := startTLS(t, preflighttest.TLSOptions{Cert: issue(t, w.platform, preflighttest.Leaf{})})
	proxyCert := issue(t, w.platform, preflighttest.Leaf{Names: []string{"127.0.0.1"}})
	proxy, err := preflighttest.StartProxy(preflighttest.ProxyOptions{TLSCert: &proxyCert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.Proxy = "https://" + proxy.Addr
	cfg.HTTPSPort = platform.Port
	cfg.CAFile = w.caFile
	cfg.SystemRoots = x509.NewCertPool()
	cfg.Only = []string{CheckProxy}
	checkResult(t, runCheck(t, cfg, CheckProxy), wantResult{status: StatusOK, summary: "through https://127.0.0.1:"})

	cfg.CAFile = caFile(t, w.interceptor) // the device would not trust the proxy
	checkResult(t, runCheck(t, cfg, CheckProxy), wantResult{status: StatusFail, summary: "TLS to the proxy", hint: "trust the proxy's certificate"})
}

func TestCheckProxySkippedWithoutProxy(t *testing.T) {
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.Profile = ProfileAll
	cfg.Only = nil
	cfg.Skip = []string{CheckLocalNetwork, CheckDeviceSubnet, CheckDeviceGW, CheckDeviceAddr, CheckDNS, CheckICMP, CheckTCPHTTPS, CheckTLS, CheckHTTPS, CheckTCPHTTP, CheckHTTP, CheckNTP}
	rep := runChecks(t, cfg)
	r, ok := rep.Result(CheckProxy)
	if !ok || len(rep.Results) != 1 {
		t.Fatalf("results = %+v", rep.Results)
	}
	checkResult(t, r, wantResult{status: StatusSkip, reason: "no proxy configured"})
}
