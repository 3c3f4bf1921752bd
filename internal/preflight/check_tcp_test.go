package preflight

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

func TestCheckTCP(t *testing.T) {
	open, err := preflighttest.StartTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { open.Close() })
	closed, err := preflighttest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	v6 := netip.MustParseAddr("::1")
	// silentDial stands for a firewall that drops SYNs: the connect hangs
	// until the check's deadline.
	silentDial := func(ctx context.Context, network, address string) (net.Conn, error) {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}

	tests := []struct {
		name    string
		port    int
		records map[string]preflighttest.DNSAnswer
		edit    func(*Config)
		want    wantResult
		metrics []string
	}{
		{name: "open by name and by address", port: open.Port,
			want:    wantResult{status: StatusOK, summary: "connected to platform.test:"},
			metrics: []string{"connect_by_name_ms", "connect_by_ip_ms"}},
		{name: "open by name only", port: open.Port, edit: func(c *Config) { c.ExpectIP = "" },
			want: wantResult{status: StatusOK, summary: "(127.0.0.1) in"}, metrics: []string{"connect_by_name_ms"}},
		{name: "refused everywhere is a firewall fault", port: closed,
			want: wantResult{status: StatusFail, summary: "refused", rule: "allow TCP from <device> to 127.0.0.1 (platform.test) port " + strconv.Itoa(closed)}},
		{name: "by address works but the name does not resolve", port: open.Port,
			records: map[string]preflighttest.DNSAnswer{preflighttest.Host: preflighttest.NXDomain()},
			want:    wantResult{status: StatusFail, summary: "platform.test does not resolve", hint: "the problem is DNS"}},
		{name: "by name works but not the expected address", port: open.Port, edit: func(c *Config) { c.ExpectIP = "::1" },
			want: wantResult{status: StatusWarn, summary: "but connection to [::1]:", hint: "rules written by IP may be out of date", rule: "to 127.0.0.1 (platform.test)"}},
		{name: "the name points to a blocked address", port: open.Port,
			records: map[string]preflighttest.DNSAnswer{preflighttest.Host: preflighttest.Answer(v6)},
			want:    wantResult{status: StatusFail, summary: "(::1)", hint: "DNS sends the device to an address that is blocked"}},
		{name: "silent drop", port: open.Port, edit: func(c *Config) { c.Dial, c.Timeout = silentDial, 200*time.Millisecond },
			want: wantResult{status: StatusFail, summary: "packets silently dropped", hint: "a firewall drops this traffic", rule: "allow TCP"}},
		{name: "host given as an address", port: open.Port, edit: func(c *Config) { c.Host = "127.0.0.1" },
			want: wantResult{status: StatusOK, summary: "connected to 127.0.0.1:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns := startDNS(t, tt.records, preflighttest.Timing{})
			cfg := testConfig(t, dns)
			cfg.HTTPSPort = tt.port
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			r := runCheck(t, cfg, CheckTCPHTTPS)
			checkResult(t, r, tt.want)
			for _, m := range tt.metrics {
				if _, ok := r.Metrics[m]; !ok {
					t.Errorf("missing metric %s in %v", m, r.Metrics)
				}
			}
		})
	}
}

func TestCheckTCPHTTPUsesHTTPPort(t *testing.T) {
	open, err := preflighttest.StartTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { open.Close() })
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.HTTPPort = open.Port
	cfg.HTTPSPort = 1 // never used by tcp-http
	r := runCheck(t, cfg, CheckTCPHTTP)
	checkResult(t, r, wantResult{status: StatusOK, summary: ":" + strconv.Itoa(open.Port)})
}
