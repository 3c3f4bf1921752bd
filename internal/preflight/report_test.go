package preflight

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sampleReport is a fixed report covering the cases the documents render
// differently: a TLS inspection failure, a portal, a DNS warning, a skip,
// legacy flows, proxy variables, and text that must be escaped.
func sampleReport() Report {
	cfg := DefaultConfig()
	cfg.Profile = ProfileLegacy
	cfg.Site = "Lyon warehouse <B2>"
	cfg.DNSServer = "10.1.2.53"
	cfg.HealthPath = DefaultHealthPath
	result := func(id string, status Status, durMS float64, r Result) Result {
		info, _ := LookupCheck(id)
		r.ID, r.Title, r.Group, r.Status = id, info.Title, info.Group, status
		r.Duration = time.Duration(durMS * float64(time.Millisecond))
		r.DurationMS = durMS
		return r
	}
	results := []Result{
		result(CheckLocalNetwork, StatusOK, 0.4, Result{Summary: "from 192.168.10.23 on eth0, gateway 192.168.10.1, DNS 10.1.2.53:53",
			Evidence: map[string]string{"interface": "eth0", "source_ip": "192.168.10.23", "gateway": "192.168.10.1"}}),
		result(CheckDNS, StatusWarn, 12.3, Result{Summary: "smartx.smart-impulse.com -> 10.9.9.9 in 12ms (expected 178.33.106.9)",
			Hint:     "DNS gives another address than the firewall rules use: split-horizon DNS, a DNS hijack, or out-of-date IP rules; ask IT which is right",
			Metrics:  map[string]float64{"lookup_ms": 12.3, "address_count": 1},
			Evidence: map[string]string{"addresses": "10.9.9.9", "resolver": "10.1.2.53:53", "rcodes": "NOERROR"}}),
		result(CheckICMP, StatusSkip, 1.2, Result{Summary: "ICMP not tested: no permission to open an ICMP socket",
			Reason: "this laptop may not send ICMP echo requests (no privilege); nothing was sent, so nothing is known about the network",
			Hint:   icmpPrivilegeHint("linux")}),
		result(CheckTCPHTTPS, StatusOK, 21.7, Result{Summary: "connected to smartx.smart-impulse.com:443 (10.9.9.9) in 21ms and to 178.33.106.9:443 in 20ms",
			Metrics: map[string]float64{"connect_by_name_ms": 21.1, "connect_by_ip_ms": 20.4}}),
		result(CheckTLS, StatusFail, 48, Result{Summary: "TLS inspection detected: the certificate for smartx.smart-impulse.com is issued by Corp Firewall CA (ACME | IT), which the device does not trust",
			Hint:     "ask IT to exempt smartx.smart-impulse.com from TLS inspection (SSL decryption): the device cannot trust an inspection CA",
			Rule:     "exempt smartx.smart-impulse.com (178.33.106.9) port 443 from TLS inspection (SSL decryption)",
			Metrics:  map[string]float64{"handshake_ms": 45.5, "leaf_days_left": 364},
			Evidence: map[string]string{"tls_version": "TLS 1.2", "cipher_suite": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "issuer": "Corp Firewall CA (ACME | IT)", evidenceInspection: "detected"}}),
		result(CheckHTTPS, StatusSkip, 0, Result{Summary: "not run: needs tls, which did not pass (fail)", Reason: "needs tls, which did not pass (fail)", Hint: "fix tls first"}),
		result(CheckTCPHTTP, StatusOK, 19, Result{Summary: "connected to smartx.smart-impulse.com:80 (10.9.9.9) in 19ms"}),
		result(CheckHTTP, StatusFail, 33.3, Result{Summary: `redirected (302) to http://portal.site.test/login?a=1&b=<2>: captive portal or filtering proxy`,
			Hint:     "a captive portal or filtering proxy intercepts the platform's traffic: ask IT to let smartx.smart-impulse.com through without authentication or filtering",
			Rule:     "allow TCP from <device> to 178.33.106.9 (smartx.smart-impulse.com) port 80",
			Evidence: map[string]string{"location": "http://portal.site.test/login?a=1&b=<2>", "page_title": "<script>alert('x')</script>"}}),
		result(CheckNTP, StatusFail, 5000, Result{Summary: "no answer from time.google.com (216.239.35.0:123) after 3 attempts: UDP 123 blocked",
			Hint: "the firewall drops NTP: ask IT for the rule below", Rule: "allow UDP from <device> to time.google.com port 123",
			Metrics: map[string]float64{"attempts": 3}}),
	}
	rep := Report{
		SchemaVersion: SchemaVersion,
		Site:          cfg.Site,
		Generated:     time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC),
		Targets:       cfg.targets(),
		Local: LocalNetwork{Interface: "eth0", SourceIP: "192.168.10.23", Gateway: "192.168.10.1",
			Resolvers: []string{"10.1.2.53:53"}, ResolverSource: "dns-server",
			ProxyEnv: map[string]string{"HTTPS_PROXY": "http://redacted@proxy.site.test:8080"}},
		Flows:   Rules(cfg),
		Results: results,
	}
	for _, r := range results {
		rep.Counts.add(r.Status)
	}
	return rep
}

var sampleMeta = ReportMeta{Version: "1.4.0", Laptop: "installer-laptop", OS: "linux/amd64"}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; run go test ./internal/preflight -run %s -update and review the diff", path, t.Name())
	}
}

func TestWriteMarkdownGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleReport(), sampleMeta); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.md.golden", buf.Bytes())
}

func TestWriteHTMLGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sampleReport(), sampleMeta); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.html.golden", buf.Bytes())
}

func TestWriteHTMLIsSelfContainedAndEscaped(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sampleReport(), sampleMeta); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"<script", "src=", "<link", "href=", "@import", "url("} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML report contains %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;",                                          // a hostile page title, escaped
		"Lyon warehouse &lt;B2&gt;",                               // the site name, escaped
		"Corp Firewall CA (ACME | IT)",                            // the issuer named in the exemption request
		"exempt smartx.smart-impulse.com (178.33.106.9) port 443", // the rule
		"Request: exempt the platform from TLS inspection",
		"Subnet mask", "DHCP", "Static", "smartx 1.4.0", "installer-laptop",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
}

func TestWriteMarkdownContent(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleReport(), sampleMeta); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"1. `exempt smartx.smart-impulse.com (178.33.106.9) port 443 from TLS inspection (SSL decryption)` (found by: tls)",
		"`allow UDP from <device> to time.google.com port 123`",
		"issued by Corp Firewall CA (ACME \\| IT)",
		"&lt;script&gt;",
		"| Subnet mask | |",
		"Addressing: [ ] DHCP  [ ] Static",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown report lacks %q", want)
		}
	}
	// Every row of the results table has exactly 5 unescaped pipes.
	inTable := false
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "| Check | Status |") {
			inTable = true
			continue
		}
		if inTable && line == "" {
			break
		}
		if inTable && !strings.HasPrefix(line, "|---") {
			if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 5 {
				t.Errorf("table row has %d cell separators: %s", n, line)
			}
		}
	}
}

func TestWriteMarkdownNothingToChange(t *testing.T) {
	rep := Report{Generated: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Results: []Result{{ID: CheckDNS, Title: "DNS resolution", Status: StatusOK, Summary: "fine"}}, Counts: Counts{OK: 1}}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, rep, ReportMeta{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Nothing: no check asked for a firewall change.", "The network lets the Smart X reach everything it needs.", "(site not named)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritersReportWriteErrors(t *testing.T) {
	if err := WriteMarkdown(failingWriter{}, sampleReport(), sampleMeta); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteMarkdown error = %v", err)
	}
	if err := WriteHTML(failingWriter{}, sampleReport(), sampleMeta); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteHTML error = %v", err)
	}
}
