package preflight

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
	"golang.org/x/net/dns/dnsmessage"
)

func TestCheckDNS(t *testing.T) {
	silentPort := func(t *testing.T) string {
		// A bound UDP socket that never answers: queries time out.
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		return pc.LocalAddr().String()
	}
	closedPort := func(t *testing.T) string {
		// A released UDP port: the kernel answers port unreachable.
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		return addr
	}
	tests := []struct {
		name   string
		answer preflighttest.DNSAnswer
		server func(t *testing.T) string // overrides the fixture
		edit   func(*Config)
		want   wantResult
		rcodes string
	}{
		{name: "right address", answer: preflighttest.Answer(loopback),
			want: wantResult{status: StatusOK, summary: "platform.test -> 127.0.0.1 in"}, rcodes: "NOERROR"},
		{name: "wrong address is a warning", answer: preflighttest.Answer(netip.MustParseAddr("::1")),
			want: wantResult{status: StatusWarn, summary: "(expected 127.0.0.1)", hint: "split-horizon DNS, a DNS hijack, or out-of-date IP rules"}},
		{name: "no expected address means no comparison", answer: preflighttest.Answer(netip.MustParseAddr("::1")),
			edit: func(c *Config) { c.ExpectIP = "" }, want: wantResult{status: StatusOK, summary: "platform.test -> ::1"}},
		{name: "NXDOMAIN", answer: preflighttest.NXDomain(),
			want: wantResult{status: StatusFail, summary: "does not exist according to 127.0.0.1", hint: "ask IT to let platform.test resolve"}, rcodes: "NXDOMAIN"},
		{name: "empty answer", answer: preflighttest.Answer(),
			want: wantResult{status: StatusFail, summary: "has no address record", hint: "empty answer"}},
		{name: "SERVFAIL", answer: preflighttest.ServFail(),
			want: wantResult{status: StatusFail, summary: "(SERVFAIL)", hint: "cannot get an answer upstream"}, rcodes: "SERVFAIL"},
		{name: "REFUSED", answer: preflighttest.Refused(),
			want: wantResult{status: StatusFail, summary: "(REFUSED)", hint: "does not serve this network"}, rcodes: "REFUSED"},
		{name: "no answer", server: silentPort, edit: func(c *Config) { c.Timeout = 400 * time.Millisecond },
			want: wantResult{status: StatusFail, summary: "no answer from 127.0.0.1", rule: "allow UDP and TCP from <device> to 127.0.0.1 port"}},
		{name: "port unreachable", server: closedPort,
			want: wantResult{status: StatusFail, summary: "rejected the query", rule: "allow UDP and TCP from <device> to 127.0.0.1 port"}},
		{name: "host is an address", edit: func(c *Config) { c.Host = "127.0.0.1" },
			want: wantResult{status: StatusSkip, reason: "host is an IP address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns := startDNS(t, map[string]preflighttest.DNSAnswer{preflighttest.Host: tt.answer}, preflighttest.Timing{})
			cfg := testConfig(t, dns)
			if tt.server != nil {
				cfg.DNSServer = tt.server(t)
			}
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			r := runCheck(t, cfg, CheckDNS)
			checkResult(t, r, tt.want)
			if tt.rcodes != "" && r.Evidence["rcodes"] != tt.rcodes {
				t.Errorf("rcodes evidence = %q, want %q", r.Evidence["rcodes"], tt.rcodes)
			}
			if r.Status == StatusOK {
				if _, ok := r.Metrics["lookup_ms"]; !ok {
					t.Error("no lookup_ms metric")
				}
				if r.Evidence["resolver"] != cfg.DNSServer {
					t.Errorf("resolver evidence = %q, want %q", r.Evidence["resolver"], cfg.DNSServer)
				}
			}
		})
	}
}

// TestCheckDNSHostsFile: a name this laptop's hosts file holds never reaches the DNS server
// given; the check says so rather than passing the server it did not ask.
func TestCheckDNSHostsFile(t *testing.T) {
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil || !strings.Contains(string(hosts), "localhost") {
		t.Skip("no /etc/hosts naming localhost on this machine")
	}
	dns := startDNS(t, nil, preflighttest.Timing{})
	cfg := testConfig(t, dns)
	cfg.Host = "localhost"
	r := runCheck(t, cfg, CheckDNS)
	checkResult(t, r, wantResult{status: StatusWarn, summary: "from this laptop's hosts file: " + dns.Addr + " was not asked",
		hint: "remove localhost from this laptop's hosts file"})
	if r.Evidence["answered_by"] != "hosts file" {
		t.Errorf("answered_by evidence = %q", r.Evidence["answered_by"])
	}
	if n := dns.Received(); n != 0 {
		t.Errorf("the DNS server got %d queries, want none", n)
	}
}

// TestClassifyDNSFailureWithoutWire covers the system resolver on OSes
// where the response codes cannot be observed.
func TestClassifyDNSFailureWithoutWire(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		rcodes []dnsmessage.RCode
		want   dnsFailure
	}{
		{"not found", &net.DNSError{Err: "no such host", IsNotFound: true}, nil, dnsNXDomain},
		{"not found after NOERROR is no data", &net.DNSError{Err: "no such host", IsNotFound: true}, []dnsmessage.RCode{dnsmessage.RCodeSuccess}, dnsNoData},
		{"timeout", &net.DNSError{Err: "i/o timeout", IsTimeout: true}, nil, dnsTimeout},
		{"temporary misbehaving is SERVFAIL", &net.DNSError{Err: "server misbehaving", IsTemporary: true}, nil, dnsServFail},
		{"permanent misbehaving is REFUSED", &net.DNSError{Err: "server misbehaving"}, nil, dnsRefused},
		{"wire REFUSED wins", &net.DNSError{Err: "server misbehaving", IsTemporary: true}, []dnsmessage.RCode{dnsmessage.RCodeRefused}, dnsRefused},
		{"connection refused", &net.DNSError{Err: "read udp 127.0.0.1:1->127.0.0.1:53: connection refused"}, nil, dnsUnreachable},
		{"other error", errors.New("boom"), nil, dnsOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyDNSFailure(tt.err, tt.rcodes); got != tt.want {
				t.Errorf("classifyDNSFailure() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRCodeName(t *testing.T) {
	for code, want := range map[dnsmessage.RCode]string{
		dnsmessage.RCodeSuccess: "NOERROR", dnsmessage.RCodeNameError: "NXDOMAIN", dnsmessage.RCodeServerFailure: "SERVFAIL",
		dnsmessage.RCodeRefused: "REFUSED", dnsmessage.RCodeFormatError: "FORMERR", dnsmessage.RCodeNotImplemented: "NOTIMP", 9: "RCODE" + strconv.Itoa(9),
	} {
		if got := rcodeName(code); got != want {
			t.Errorf("rcodeName(%d) = %q, want %q", code, got, want)
		}
	}
}
