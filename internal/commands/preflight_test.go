package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
	"github.com/smart-impulse/smartx/internal/ui"
)

// sampleReport is a run with one result of each kind; durations are fixed so the rendering is
// stable.
func sampleReport() preflight.Report {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	results := []preflight.Result{
		{ID: "local-network", Group: "Local", Status: "ok", Summary: "from 192.168.10.23 on eth0, gateway 192.168.10.1, DNS 10.1.2.53:53", Duration: ms(0.4),
			Note: "this laptop has proxy variables set; the checks ignore them"},
		{ID: "device-address", Group: "Device address", Status: "ok", Summary: "nothing answers at 192.168.10.50: the address is free", Duration: ms(1201),
			Evidence: map[string]string{"arp": "no answer", "ping": "no reply to 2 requests"}},
		{ID: "dns", Group: "Name resolution", Status: "warn", Summary: "smartx.smart-impulse.com -> 10.9.9.9 in 12ms (expected 178.33.106.9)",
			Hint: "DNS gives another address than the firewall rules use: ask IT which is right", Duration: ms(12.3),
			Metrics: map[string]float64{"lookup_ms": 12.3}, Evidence: map[string]string{"resolver": "10.1.2.53:53", "addresses": "10.9.9.9"}},
		{ID: "icmp", Group: "Reachability", Status: "skip", Summary: "ICMP not tested: no permission to open an ICMP socket",
			Reason: "this laptop may not send ICMP echo requests", Hint: "run with sudo", Duration: ms(1.2)},
		{ID: "tcp-https", Group: "Reachability", Status: "fail", Summary: "connection to 178.33.106.9:443 refused",
			Hint: "a firewall rejects the connection: ask IT for the rule below",
			Rule: "allow TCP from <device> to 178.33.106.9 (smartx.smart-impulse.com) port 443", Duration: ms(21.7)},
		{ID: "tls", Group: "Platform (HTTPS)", Status: "skip", Reason: "not run: needs tcp-https, which did not pass (fail)"},
		{ID: "ntp", Group: "Time", Status: "error", Summary: "interrupted", Duration: ms(5000)},
	}
	r := preflight.Report{
		SchemaVersion: 1, Site: "Lyon warehouse",
		Targets: preflight.Targets{Host: "smartx.smart-impulse.com", ExpectIP: "178.33.106.9", HTTPSPort: 443, Profile: "current"},
		Device: &preflight.DeviceInfo{Source: "sx-00042.json", Serial: "SX-00042", Mode: "static", Address: "192.168.10.50/24",
			Gateway: "192.168.10.1", Settings: []string{"host", "https-port", "dns-server"}},
		Results:  results,
		Duration: ms(5012),
	}
	for _, res := range results {
		switch res.Status {
		case "ok":
			r.Counts.OK++
		case "warn":
			r.Counts.Warn++
		case "fail":
			r.Counts.Fail++
		case "skip":
			r.Counts.Skip++
		case "error":
			r.Counts.Error++
		}
	}
	return r
}

func TestRenderPreflightGolden(t *testing.T) {
	tests := []struct {
		name    string
		verbose bool
		color   bool
	}{
		{"preflight-table.golden", false, false},
		{"preflight-table-verbose.golden", true, false},
		{"preflight-table-color.golden", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := renderPreflight(&buf, ui.NewStyles(&buf, tt.color), sampleReport(), tt.verbose); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

// TestPreflightConfigPrecedence checks defaults < site file < flags, and that a relative ca-file
// in a site file is found beside it.
func TestPreflightConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte("host: from-file.test\nntp-server: ntp.file.test\ncount: 7\nca-file: ca.pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ca, err := preflighttest.NewCA("Test CA")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteFile(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c preflight.Config)
	}{
		{"defaults", nil, func(t *testing.T, c preflight.Config) {
			if c.Host != preflight.DefaultHost || c.NTPServer != preflight.DefaultNTPServer || c.ExpectIP != preflight.DefaultExpectIP {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{"site file", []string{"--config", site}, func(t *testing.T, c preflight.Config) {
			if c.Host != "from-file.test" || c.Count != 7 || c.NTPServer != "ntp.file.test" {
				t.Errorf("site file not applied: %+v", c)
			}
			if c.CAFile != filepath.Join(dir, "ca.pem") {
				t.Errorf("relative ca-file = %q, want it beside the site file", c.CAFile)
			}
		}},
		{"flags win", []string{"--config", site, "--host", "flag.test", "--count", "2"}, func(t *testing.T, c preflight.Config) {
			if c.Host != "flag.test" || c.Count != 2 || c.NTPServer != "ntp.file.test" {
				t.Errorf("flags did not override: %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _, _ := ui.Test()
			f := NewFactory(io)
			o := &preflightOptions{}
			cmd := &cobra.Command{Use: "preflight"}
			bindPreflightTargets(cmd.Flags(), o)
			cmd.Flags().IntVar(&o.cfg.Count, "count", 4, "")
			if err := cmd.Flags().Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := resolvePreflightConfig(f, cmd.Flags(), o)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

// TestWatchLines: what a person sees of a watch, piped (no live line, no bell).
func TestWatchLines(t *testing.T) {
	io, _, out, _ := ui.Test()
	clock := time.Date(2026, 3, 24, 14, 32, 5, 0, time.Local)
	f := &Factory{IO: io, Now: func() time.Time { return clock }}
	cfg := preflight.DefaultConfig()
	w := newWatchLines(f, cfg)
	w.start(cfg, time.Second)
	first := preflight.Report{Results: []preflight.Result{{ID: "tcp-https", Group: "Reachability", Status: preflight.StatusFail, Summary: "connection refused"}},
		Counts: preflight.Counts{Fail: 1}}
	w.run(1, first, []preflight.Change{{ID: "tcp-https", To: preflight.StatusFail, Summary: "connection refused"}})
	second := preflight.Report{Results: []preflight.Result{{ID: "tcp-https", Status: preflight.StatusOK}}, Counts: preflight.Counts{OK: 1}}
	w.run(2, second, []preflight.Change{{ID: "tcp-https", From: preflight.StatusFail, To: preflight.StatusOK, Summary: "connected"}})
	w.end(preflight.WatchResult{Last: second, Runs: 2, Passed: true})
	got := out.String()
	for _, want := range []string{
		"✗ fail   tcp-https  connection refused",
		"watching: the checks run again until every one passes (Ctrl-C to stop)\n",
		"tcp-https: ✗ fail -> ✓ ok at 14:32:05\n",
		"✓ every check passes at 14:32:05, after 2 runs (0 ms)\n",
	} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if bytes.Contains([]byte(got), []byte("\a")) {
		t.Error("a bell rang on a pipe")
	}

	out.Reset()
	w = newWatchLines(f, cfg)
	w.end(preflight.WatchResult{})
	if got := out.String(); got != "✗ stopped at 14:32:05 before the first run finished\n" {
		t.Errorf("stopped during the first run: %q", got)
	}
	out.Reset()
	w.end(preflight.WatchResult{Last: first, Runs: 3})
	if got := out.String(); got != "✗ stopped at 14:32:05 after 3 runs: 1 failing (tcp-https)\n" {
		t.Errorf("stopped with failures: %q", got)
	}
}
