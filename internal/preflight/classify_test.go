//go:build unix || windows

package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// The errno names (errnoRefused...) are each OS's own values, so these tests
// check the table of the OS they run on.

func dialErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

func TestClassifyNetError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failureKind
	}{
		{"refused", dialErr(errnoRefused), failRefused},
		{"kernel timeout", dialErr(errnoTimedOut), failTimeout},
		{"host unreachable", dialErr(errnoHostUnreach), failHostUnreachable},
		{"network unreachable", dialErr(errnoNetUnreach), failNetUnreachable},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", errnoReset)}, failReset},
		{"context deadline is a silent drop", &net.OpError{Op: "dial", Err: context.DeadlineExceeded}, failTimeout},
		{"i/o deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), failTimeout},
		{"name not resolved", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, failNameNotResolved},
		{"closed", fmt.Errorf("read: %w", io.EOF), failClosed},
		{"other", errors.New("boom"), failOther},
		{"nil", nil, failOther},

		// Faults of this laptop.
		{"laptop firewall", dialErr(errnoAccess), failPermission},
		{"interface down", dialErr(errnoNetDown), failNoRoute},
		{"no address of the family", dialErr(errnoAddrNotAvail), failNoRoute},
		{"address family switched off", &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", errnoAddrFamily)}, failLocal},
		{"no buffers", &net.OpError{Op: "write", Err: os.NewSyscallError("sendto", errnoNoBufs)}, failLocal},
		{"socket creation, unknown errno", &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.Errno(1<<20))}, failLocal},
		{"listen", &net.OpError{Op: "listen", Err: errors.New("boom")}, failLocal},
		{"udp connect without a route", onLaptop(dialErr(errnoNetUnreach)), failNoRoute},
		{"udp connect, host unreachable", onLaptop(dialErr(errnoHostUnreach)), failNoRoute},
		{"udp connect refused by the firewall", onLaptop(dialErr(errnoAccess)), failPermission},
		{"first send, unknown cause", onLaptop(errors.New("wine says no")), failLocal},
		{"a deadline stays a deadline", onLaptop(context.DeadlineExceeded), failTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyNetError(tt.err); got != tt.want {
				t.Errorf("classifyNetError(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestConnectFailureMessages(t *testing.T) {
	tests := []struct {
		errno   syscall.Errno
		summary string
		it      bool // whether the hint sends IT after it
	}{
		{errnoRefused, "refused", true},
		{errnoHostUnreach, "host unreachable", true},
		{errnoNetUnreach, "network unreachable", true},
		{errnoAccess, "this laptop blocked the connection to platform:443", false},
		{errnoNetDown, "this laptop has no route for the connection to platform:443", false},
	}
	for _, tt := range tests {
		t.Run(tt.summary, func(t *testing.T) {
			s, hint := connectFailure(dialErr(tt.errno), "platform:443")
			if !strings.Contains(s, tt.summary) || hint == "" {
				t.Errorf("connectFailure() = %q, %q; want summary containing %q and a hint", s, hint, tt.summary)
			}
			if got := strings.Contains(hint, "ask IT"); got != tt.it {
				t.Errorf("hint %q: sends IT after it = %v, want %v", hint, got, tt.it)
			}
		})
	}
}

// Every wording of a laptop fault, on every OS, says it is the laptop's and
// gives IT nothing to do.
func TestLaptopFailureWording(t *testing.T) {
	cause := errors.New("An attempt was made to access a socket in a way forbidden by its access permissions.")
	for _, goos := range []string{"linux", "darwin", "windows", "freebsd"} {
		for _, kind := range []failureKind{failPermission, failNoRoute, failLocal} {
			summary, hint := laptopFailure(kind, cause, "the NTP query to 192.0.2.1:123", goos)
			t.Run(fmt.Sprintf("%s/%d", goos, kind), func(t *testing.T) {
				if !strings.HasPrefix(summary, "this laptop") {
					t.Errorf("summary %q does not say it is the laptop's", summary)
				}
				if strings.Contains(summary, "permissions.)") || strings.Contains(summary, ".;") {
					t.Errorf("summary %q embeds the Windows message with its period", summary)
				}
				if strings.Contains(hint, "IT") || hint == "" {
					t.Errorf("hint %q: want a hint about the laptop, never IT", hint)
				}
				if kind == failPermission && (goos == "windows") != strings.Contains(hint, "Windows Defender Firewall") {
					t.Errorf("%s hint %q names the wrong firewall", goos, hint)
				}
			})
		}
	}
}

func TestAttributeUnreachable(t *testing.T) {
	target := netip.MustParseAddrPort("192.0.2.10:443")
	noRoute := func(context.Context, netip.AddrPort) error { return dialErr(errnoNetUnreach) }
	routed := func(context.Context, netip.AddrPort) error { return nil }
	tests := []struct {
		name  string
		err   error
		probe func(context.Context, netip.AddrPort) error
		want  failureKind
	}{
		{"the laptop has no route", dialErr(errnoNetUnreach), noRoute, failNoRoute},
		{"the laptop has no route (host unreachable)", dialErr(errnoHostUnreach), noRoute, failNoRoute},
		{"a router sent back net unreachable", dialErr(errnoNetUnreach), routed, failNetUnreachable},
		{"a router sent back host unreachable", dialErr(errnoHostUnreach), routed, failHostUnreachable},
		{"refused is never probed", dialErr(errnoRefused), noRoute, failRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &probeEnv{cfg: Config{RouteProbe: tt.probe}}
			got := classifyNetError(env.attributeUnreachable(context.Background(), tt.err, target))
			if got != tt.want {
				t.Errorf("kind = %d, want %d", got, tt.want)
			}
		})
	}
}

// socketErrorDial stands for a laptop that cannot open a UDP socket (the
// issue's case: nothing was ever sent).
func socketErrorDial(errno syscall.Errno) DialFunc {
	return func(_ context.Context, network, _ string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("socket", errno)}
	}
}

// The checks report what the laptop raised itself as its fault, with no
// rule for IT, whatever the protocol.
func TestLaptopFaultsPerCheck(t *testing.T) {
	dns := startDNS(t, nil, preflighttest.Timing{})
	noRoute := func(context.Context, netip.AddrPort) error { return dialErr(errnoNetUnreach) }
	tcpErr := func(errno syscall.Errno) DialFunc {
		return func(context.Context, string, string) (net.Conn, error) { return nil, dialErr(errno) }
	}
	tests := []struct {
		name  string
		check string
		edit  func(*Config)
		want  wantResult
	}{
		{"ntp socket", CheckNTP, func(c *Config) { c.DialUDP = socketErrorDial(errnoAddrFamily) },
			wantResult{status: StatusError, summary: "this laptop's network stack failed on the NTP query to 127.0.0.1:1", fault: FaultLaptop}},
		{"ntp blocked by the laptop's firewall", CheckNTP, func(c *Config) { c.DialUDP = socketErrorDial(errnoAccess) },
			wantResult{status: StatusError, summary: "this laptop blocked the NTP query", fault: FaultLaptop}},
		{"dns socket", CheckDNS, func(c *Config) { c.DialUDP = socketErrorDial(errnoAddrFamily) },
			wantResult{status: StatusError, summary: "this laptop's network stack failed on DNS queries to " + dns.Addr, fault: FaultLaptop}},
		{"dns without a route", CheckDNS, func(c *Config) { c.DialUDP = socketErrorDial(errnoNetUnreach) },
			wantResult{status: StatusError, summary: "this laptop has no route for DNS queries", hint: "connect this laptop", fault: FaultLaptop}},
		{"tcp without a route on the laptop", CheckTCPHTTPS, func(c *Config) { c.Dial, c.RouteProbe = tcpErr(errnoNetUnreach), noRoute },
			wantResult{status: StatusError, summary: "this laptop has no route for the connection to", fault: FaultLaptop}},
		{"tcp unreachable from a router", CheckTCPHTTPS, func(c *Config) {
			c.Dial = tcpErr(errnoNetUnreach)
			c.RouteProbe = func(context.Context, netip.AddrPort) error { return nil }
		}, wantResult{status: StatusFail, summary: "network unreachable", hint: "ask IT", rule: "allow TCP"}},
		{"tcp blocked by the laptop's firewall", CheckTCPHTTPS, func(c *Config) { c.Dial = tcpErr(errnoAccess) },
			wantResult{status: StatusError, summary: "this laptop blocked the connection to", fault: FaultLaptop}},
		{"tls blocked by the laptop's firewall", CheckTLS, func(c *Config) { c.Dial, c.Only = tcpErr(errnoAccess), []string{CheckTLS} },
			wantResult{status: StatusError, summary: "this laptop blocked the connection to platform.test:", fault: FaultLaptop}},
		{"http blocked by the laptop's firewall", CheckHTTP, func(c *Config) { c.Dial = tcpErr(errnoAccess) },
			wantResult{status: StatusError, summary: "this laptop blocked the connection to platform.test:", fault: FaultLaptop}},
		{"proxy blocked by the laptop's firewall", CheckProxy, func(c *Config) { c.Dial, c.Proxy = tcpErr(errnoAccess), "http://127.0.0.1:3128" },
			wantResult{status: StatusError, summary: "this laptop blocked the connection to the proxy 127.0.0.1:3128", fault: FaultLaptop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, dns)
			tt.edit(&cfg)
			checkResult(t, runCheck(t, cfg, tt.check), tt.want)
		})
	}
}

// A laptop with no route toward the platform is not connected: local-network says so.
func TestLocalNetworkWithoutRoute(t *testing.T) {
	env := &probeEnv{local: make(chan struct{}), localFacts: LocalNetwork{Interface: unknown, SourceIP: unknown, Gateway: unknown,
		GatewayError: errNoDefaultRoute.Error(), sourceErr: onLaptop(dialErr(errnoNetUnreach)), sourceTarget: "192.0.2.10"}}
	close(env.local)
	r := checkLocalNetwork(context.Background(), env)
	r.ID, r.Title, r.Group = CheckLocalNetwork, "Local network", GroupLocal
	assertResultInvariants(t, r)
	checkResult(t, r, wantResult{status: StatusError, summary: "this laptop has no route for traffic to 192.0.2.10", hint: "connect this laptop", fault: FaultLaptop})
}
