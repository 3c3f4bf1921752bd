package preflight

import (
	"bytes"
	"errors"
	"flag"
	"io"
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
			Note:     "this laptop has proxy variables set; the checks ignore them",
			Evidence: map[string]string{"interface": "eth0", "source_ip": "192.168.10.23", "gateway": "192.168.10.1", "env_HTTPS_PROXY": "http://redacted@proxy.site.test:8080"}}),
		result(CheckDeviceSubnet, StatusOK, 0.2, Result{Summary: "this laptop is on 192.168.10.0/24 (192.168.10.23/24 on eth0): the device's address 192.168.10.50/24 and gateway 192.168.10.1 fit it",
			Evidence: map[string]string{"device_address": "192.168.10.50/24", "device_gateway": "192.168.10.1", "interface": "eth0", "laptop_address": "192.168.10.23/24", "laptop_gateway": "192.168.10.1"}}),
		result(CheckDeviceGW, StatusOK, 3.1, Result{Summary: "the gateway 192.168.10.1 answers (ARP from 02:00:5e:10:00:01, ping in 400µs)",
			Metrics:  map[string]float64{"rtt_ms": 0.4},
			Evidence: map[string]string{"arp": "answered by 02:00:5e:10:00:01", "ping": "2/2 replies", "target": "192.168.10.1"}}),
		result(CheckDeviceAddr, StatusFail, 3.3, Result{Summary: "192.168.10.50 is already in use: ARP from 02:00:5e:10:00:32",
			Hint:     "another machine holds the device's address: ask IT for another address",
			Evidence: map[string]string{"arp": "answered by 02:00:5e:10:00:32", "ping": "no reply to 2 requests", "target": "192.168.10.50"}}),
		result(CheckDNS, StatusWarn, 12.3, Result{Summary: "smartx.smart-impulse.com -> 10.9.9.9 in 12ms (expected 178.33.106.9)",
			Hint:     "DNS gives another address than the firewall rules use: split-horizon DNS, a DNS hijack, or out-of-date IP rules; ask IT which is right",
			Metrics:  map[string]float64{"lookup_ms": 12.3, "address_count": 1},
			Evidence: map[string]string{"addresses": "10.9.9.9", "resolver": "10.1.2.53:53", "rcodes": "NOERROR"}}),
		result(CheckICMP, StatusOK, 412, Result{Summary: "4/4 replies from 8.8.8.8, rtt min/avg/max 9.8/10.4/11.2 ms, jitter 0.5 ms",
			Note:     "unprivileged ICMP is not allowed on this laptop; the raw socket was used",
			Metrics:  map[string]float64{"rtt_min_ms": 9.8, "rtt_avg_ms": 10.4, "rtt_max_ms": 11.2, "jitter_ms": 0.5, "loss_percent": 0, "packets_sent": 4, "packets_received": 4},
			Evidence: map[string]string{"mode": "privileged (raw socket)", "target": "8.8.8.8", "unprivileged_error": "cannot open an ICMP socket: socket: permission denied"}}),
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
		Serial:        "SX-00042",
		Installer:     "Marie Curie, +33 6 12 34 56 78",
		Generated:     time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC),
		Run:           RunInfo{SmartxVersion: "1.4.0", Hostname: "installer-laptop", OS: "linux/amd64"},
		Device: &DeviceInfo{Source: "sx-00042.json", Serial: "SX-00042", Mode: DeviceModeStatic, Address: "192.168.10.50/24",
			Gateway: "192.168.10.1", DNS: []string{"10.1.2.53"}, Settings: []string{"host", "https-port", "dns-server", "serial"}},
		Targets: cfg.targets(),
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

// TestReportGolden renders the sample run in both languages and both formats.
func TestReportGolden(t *testing.T) {
	for _, lang := range Langs() {
		for _, format := range []struct {
			ext   string
			write func(io.Writer, Report, ReportOptions) error
		}{{"md", WriteMarkdown}, {"html", WriteHTML}} {
			name := "report." + format.ext + ".golden"
			if lang != LangEN {
				name = "report." + string(lang) + "." + format.ext + ".golden"
			}
			t.Run(name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := format.write(&buf, sampleReport(), ReportOptions{Lang: lang}); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, name, buf.Bytes())
			})
		}
	}
}

func TestWriteHTMLIsSelfContainedAndEscaped(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sampleReport(), ReportOptions{}); err != nil {
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
		"SX-00042", "Marie Curie", "from sx-00042.json: the platform&#39;s address",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
}

func TestWriteMarkdownContent(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleReport(), ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"1. `exempt smartx.smart-impulse.com (178.33.106.9) port 443 from TLS inspection (SSL decryption)` (found by: tls)",
		"`allow UDP from <device> to time.google.com port 123`",
		"issued by Corp Firewall CA (ACME \\| IT)",
		"&lt;script>",
		"| Subnet mask | |",
		"Addressing: [ ] DHCP  [ ] Static",
		"smartx.smart-impulse.com -> 10.9.9.9 in 12ms",            // an arrow stays an arrow
		"> Note: this laptop has proxy variables set",             // a note is a quote, not a problem
		"- average round trip: 10.4 ms",                           // evidence in words, with its unit
		"| Device serial | SX-00042 (from the device's bundle) |", // what came from the bundle
		"| Installer | Marie Curie, +33 6 12 34 56 78 |",
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
	if err := WriteMarkdown(&buf, rep, ReportOptions{}); err != nil {
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
	if err := WriteMarkdown(failingWriter{}, sampleReport(), ReportOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteMarkdown error = %v", err)
	}
	if err := WriteHTML(failingWriter{}, sampleReport(), ReportOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteHTML error = %v", err)
	}
}
