package preflight

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// routeLine renders a /proc/net/route line the way the kernel does on this
// machine (the address in network order printed as a native integer).
func routeLine(iface, dest, gw string, flags, metric int) string {
	hex := func(s string) string {
		a := netip.MustParseAddr(s).As4()
		return fmt.Sprintf("%08X", binary.NativeEndian.Uint32(a[:]))
	}
	return fmt.Sprintf("%s\t%s\t%s\t%04X\t0\t0\t%d\t%s\t0\t0\t0", iface, hex(dest), hex(gw), flags, metric, hex("0.0.0.0"))
}

func TestParseRouteTable(t *testing.T) {
	header := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
	tests := []struct {
		name      string
		lines     []string
		wantGW    string
		wantIface string
	}{
		{"single default route", []string{routeLine("eth0", "0.0.0.0", "192.168.1.1", 3, 100)}, "192.168.1.1", "eth0"},
		{"lowest metric wins", []string{
			routeLine("wlan0", "0.0.0.0", "10.10.1.1", 3, 600),
			routeLine("eth0", "0.0.0.0", "192.168.1.1", 3, 100),
		}, "192.168.1.1", "eth0"},
		{"route that is down is ignored", []string{routeLine("eth0", "0.0.0.0", "192.168.1.1", 2, 100)}, "", ""},
		{"no default route", []string{routeLine("eth0", "192.168.1.0", "0.0.0.0", 1, 100)}, "", ""},
		{"garbage", []string{"eth0 zz"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := header + "\n" + strings.Join(tt.lines, "\n") + "\n"
			gw, iface, ok := parseRouteTable([]byte(data))
			if tt.wantGW == "" {
				if ok {
					t.Errorf("got gateway %s, want none", gw)
				}
				return
			}
			if !ok || gw.String() != tt.wantGW || iface != tt.wantIface {
				t.Errorf("got %s on %s (ok %v), want %s on %s", gw, iface, ok, tt.wantGW, tt.wantIface)
			}
		})
	}
}

func TestParseResolvConf(t *testing.T) {
	got := parseResolvConf(readTestdata(t, "local", "resolv.conf"))
	want := []string{"192.0.2.53", "2001:db8::53"}
	if !slices.Equal(got, want) {
		t.Errorf("parseResolvConf() = %q, want %q", got, want)
	}
}

func TestCheckLocalNetwork(t *testing.T) {
	dns := startDNS(t, nil, preflighttest.Timing{})
	tests := []struct {
		name  string
		edit  func(*Config)
		check func(t *testing.T, r Result, rep Report)
	}{
		{"facts toward the expected address", func(*Config) {}, func(t *testing.T, r Result, rep Report) {
			checkResult(t, r, wantResult{status: StatusOK, summary: "from 127.0.0.1"})
			if rep.Local.SourceIP != "127.0.0.1" || rep.Local.Resolvers[0] != dns.Addr || rep.Local.ResolverSource != "dns-server" {
				t.Errorf("local facts = %+v", rep.Local)
			}
			if rep.Local.Interface == unknown {
				t.Errorf("interface of 127.0.0.1 not found")
			}
		}},
		{"facts toward the resolved name", func(c *Config) { c.ExpectIP = "" }, func(t *testing.T, r Result, rep Report) {
			if rep.Local.SourceIP != "127.0.0.1" {
				t.Errorf("source = %s", rep.Local.SourceIP)
			}
		}},
		{"system resolvers are read from resolv.conf", func(c *Config) { c.DNSServer = ""; c.Only = []string{CheckLocalNetwork} }, nil},
		{"proxy variables are shown redacted", func(c *Config) {
			env := map[string]string{"HTTPS_PROXY": "http://me:hunter2@proxy.site.test:8080", "no_proxy": "localhost"}
			c.Getenv = func(k string) string { return env[k] }
		}, func(t *testing.T, r Result, rep Report) {
			if got := rep.Local.ProxyEnv["HTTPS_PROXY"]; got != "http://redacted@proxy.site.test:8080" {
				t.Errorf("HTTPS_PROXY = %q", got)
			}
			if rep.Local.ProxyEnv["no_proxy"] != "localhost" {
				t.Errorf("no_proxy = %q", rep.Local.ProxyEnv["no_proxy"])
			}
			if strings.Contains(fmt.Sprint(r.Evidence, rep.Local), "hunter2") {
				t.Error("proxy password leaked")
			}
			checkResult(t, r, wantResult{status: StatusOK, note: "proxy variables set"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, dns)
			tt.edit(&cfg)
			if cfg.DNSServer == "" {
				// Only gather the facts: no check may resolve through the
				// system resolver in a test.
				facts := gatherLocalNetwork(t.Context(), newProbeEnv(cfg.withDefaults()))
				if !slices.Equal(facts.Resolvers, []string{"192.0.2.53", "2001:db8::53"}) || facts.ResolverSource == "dns-server" {
					t.Errorf("resolvers = %q from %s", facts.Resolvers, facts.ResolverSource)
				}
				return
			}
			cfg.Only = []string{CheckLocalNetwork}
			rep := runChecks(t, cfg)
			r, _ := rep.Result(CheckLocalNetwork)
			if tt.check != nil {
				tt.check(t, r, rep)
			}
		})
	}
}

func TestCheckLocalNetworkCannotDetermineAnything(t *testing.T) {
	env := newProbeEnv(DefaultConfig().withDefaults())
	env.localFacts = LocalNetwork{Interface: unknown, SourceIP: unknown, Gateway: unknown}
	close(env.local)
	r := checkLocalNetwork(t.Context(), env)
	r.ID, r.Title, r.Group = CheckLocalNetwork, "Local network", GroupLocal
	assertResultInvariants(t, r)
	checkResult(t, r, wantResult{status: StatusError, reason: "no source address, gateway or resolver", hint: "connected to the site's network"})
}

// FuzzParseRouteTable checks the route table parser never panics and only
// returns IPv4 gateways.
func FuzzParseRouteTable(f *testing.F) {
	f.Add(readTestdata(f, "local", "route"))
	f.Add([]byte("Iface\tDestination\n" + routeLine("eth0", "0.0.0.0", "192.168.1.1", 3, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if gw, _, ok := parseRouteTable(data); ok && !gw.Is4() {
			t.Errorf("gateway %v is not IPv4", gw)
		}
	})
}

// FuzzParseResolvConf checks the resolv.conf parser never panics and never
// returns an empty server.
func FuzzParseResolvConf(f *testing.F) {
	f.Add(readTestdata(f, "local", "resolv.conf"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range parseResolvConf(data) {
			if s == "" {
				t.Error("empty nameserver")
			}
		}
	})
}

// pickDefaultRoute is what Linux and Windows both use to choose among
// default routes; the Windows metrics are route plus interface metric.
func TestPickDefaultRoute(t *testing.T) {
	gw := netip.MustParseAddr
	tests := []struct {
		name   string
		routes []defaultRoute
		want   string
	}{
		{"single", []defaultRoute{{Gateway: gw("192.168.1.1"), Iface: "Ethernet", Metric: 25}}, "192.168.1.1 Ethernet"},
		{"lowest metric wins (wired before Wi-Fi)", []defaultRoute{
			{Gateway: gw("10.0.0.1"), Iface: "Wi-Fi", Metric: 35 + 0},
			{Gateway: gw("192.168.1.1"), Iface: "Ethernet", Metric: 25 + 0},
		}, "192.168.1.1 Ethernet"},
		{"first of equals", []defaultRoute{
			{Gateway: gw("10.0.0.1"), Iface: "a", Metric: 10},
			{Gateway: gw("10.0.0.2"), Iface: "b", Metric: 10},
		}, "10.0.0.1 a"},
		{"on-link default (no gateway) is skipped", []defaultRoute{
			{Gateway: gw("0.0.0.0"), Iface: "vpn", Metric: 1},
			{Gateway: gw("192.168.1.1"), Iface: "Ethernet", Metric: 50},
		}, "192.168.1.1 Ethernet"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := pickDefaultRoute(tt.routes)
			got := ""
			if err == nil {
				got = r.Gateway.String() + " " + r.Iface
			}
			if got != tt.want {
				t.Errorf("pickDefaultRoute = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
