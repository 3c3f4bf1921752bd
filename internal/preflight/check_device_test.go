package preflight

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// segmentFakes stands in for the laptop's interfaces and the link: who answers ARP and ping
// for which address. The route table of testdata/local says the laptop's gateway on eth0 is
// 192.168.1.1.
type segmentFakes struct {
	laptop  []LocalInterface
	arp     map[string]string // address -> hardware address that answers
	ping    map[string]bool   // address -> answers ping
	noARP   bool              // this OS cannot ask the link
	noICMP  bool              // this laptop may not ping
	probes  atomic.Int32      // ARP and ping probes made
	offLink atomic.Bool       // a probe went to an address not on the laptop's networks
}

func (f *segmentFakes) onLaptopNetwork(a netip.Addr) bool {
	for _, ifc := range f.laptop {
		for _, p := range ifc.Prefixes {
			if p.Masked().Contains(a) {
				return true
			}
		}
	}
	return false
}

func (f *segmentFakes) apply(cfg *Config) {
	cfg.Interfaces = func() ([]LocalInterface, error) { return f.laptop, nil }
	cfg.Neighbor = func(ctx context.Context, a netip.Addr) (string, error) {
		f.probes.Add(1)
		if !f.onLaptopNetwork(a) {
			f.offLink.Store(true)
		}
		if f.noARP {
			return "", ErrNoNeighborProbe
		}
		return f.arp[a.String()], nil
	}
	cfg.Ping = func(ctx context.Context, req PingRequest) (PingStats, error) {
		f.probes.Add(1)
		if !f.onLaptopNetwork(req.Target) {
			f.offLink.Store(true)
		}
		if f.noICMP {
			return PingStats{}, ErrNoICMPSocket
		}
		if f.ping[req.Target.String()] {
			return PingStats{Sent: req.Count, Received: req.Count, RTTs: []time.Duration{300 * time.Microsecond, 400 * time.Microsecond}}, nil
		}
		return PingStats{Sent: req.Count}, nil
	}
}

func staticDevice(address, gateway string) *DeviceSettings {
	return &DeviceSettings{Source: "sx-00042.json", Serial: "SX-00042", Mode: DeviceModeStatic,
		Address: netip.MustParsePrefix(address), Gateway: netip.MustParseAddr(gateway),
		ServerURL: "https://127.0.0.1:8443"}
}

func TestDeviceAddressChecks(t *testing.T) {
	eth0 := func(prefix string) []LocalInterface {
		return []LocalInterface{
			{Name: "lo", Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
			{Name: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix(prefix), netip.MustParsePrefix("fe80::1/64")}},
		}
	}
	const gwMAC, otherMAC = "02:00:00:00:00:01", "02:00:00:00:00:99"
	tests := []struct {
		name                  string
		device                *DeviceSettings
		fakes                 *segmentFakes
		subnet, gateway, addr wantResult
		noProbe               bool
	}{
		{name: "free address on the right network",
			device:  staticDevice("192.168.1.50/24", "192.168.1.1"),
			fakes:   &segmentFakes{laptop: eth0("192.168.1.23/24"), arp: map[string]string{"192.168.1.1": gwMAC}, ping: map[string]bool{"192.168.1.1": true}},
			subnet:  wantResult{status: StatusOK, summary: "this laptop is on 192.168.1.0/24 (192.168.1.23/24 on eth0)"},
			gateway: wantResult{status: StatusOK, summary: "the gateway 192.168.1.1 answers (ARP from " + gwMAC + ", ping in"},
			addr:    wantResult{status: StatusOK, summary: "nothing answers at 192.168.1.50: the address is free"}},
		{name: "address taken answers ARP",
			device:  staticDevice("192.168.1.50/24", "192.168.1.1"),
			fakes:   &segmentFakes{laptop: eth0("192.168.1.23/24"), arp: map[string]string{"192.168.1.1": gwMAC, "192.168.1.50": otherMAC}},
			subnet:  wantResult{status: StatusOK},
			gateway: wantResult{status: StatusOK, summary: "ARP from " + gwMAC},
			addr:    wantResult{status: StatusFail, summary: "192.168.1.50 is already in use: ARP from " + otherMAC, hint: "ask IT for another address"}},
		{name: "address taken answers ping only",
			device:  staticDevice("192.168.1.50/24", "192.168.1.1"),
			fakes:   &segmentFakes{laptop: eth0("192.168.1.23/24"), arp: map[string]string{"192.168.1.1": gwMAC}, ping: map[string]bool{"192.168.1.50": true}},
			subnet:  wantResult{status: StatusOK},
			gateway: wantResult{status: StatusOK},
			addr:    wantResult{status: StatusFail, summary: "is already in use: ping in"}},
		{name: "laptop on another network: nothing is sent",
			device: staticDevice("10.20.0.50/24", "10.20.0.1"),
			fakes:  &segmentFakes{laptop: eth0("192.168.1.23/24")},
			subnet: wantResult{status: StatusWarn, summary: "this laptop is not on the device's network 10.20.0.0/24 (its addresses: eth0 192.168.1.23/24)",
				hint: "plug the laptop where the device will be"},
			gateway: wantResult{status: StatusSkip, reason: "this laptop is not on the device's network 10.20.0.0/24: nothing was sent"},
			addr:    wantResult{status: StatusSkip, reason: "nothing was sent"},
			noProbe: true},
		{name: "mask and gateway disagree with the network",
			device: staticDevice("192.168.1.50/25", "192.168.1.126"),
			fakes:  &segmentFakes{laptop: eth0("192.168.1.23/24"), arp: map[string]string{}},
			subnet: wantResult{status: StatusWarn, summary: "the device's mask is /25 (255.255.255.128), this network's is /24 (255.255.255.0); this laptop's gateway here is 192.168.1.1, the device's 192.168.1.126",
				hint: "check the device's mask and gateway with IT"},
			gateway: wantResult{status: StatusFail, summary: "nothing answers at the gateway 192.168.1.126 (no ARP reply, no ping reply)", hint: "check it with IT"},
			addr:    wantResult{status: StatusOK}},
		{name: "the laptop holds the device's address",
			device:  staticDevice("192.168.1.23/24", "192.168.1.1"),
			fakes:   &segmentFakes{laptop: eth0("192.168.1.23/24"), arp: map[string]string{"192.168.1.1": gwMAC}},
			subnet:  wantResult{status: StatusFail, summary: "this laptop itself uses 192.168.1.23", hint: "ask IT for another address for the device"},
			gateway: wantResult{status: StatusOK},
			addr:    wantResult{status: StatusFail, summary: "this laptop itself uses 192.168.1.23, on eth0"}},
		{name: "no ARP on this OS: ping alone, said so",
			device:  staticDevice("192.168.1.50/24", "192.168.1.1"),
			fakes:   &segmentFakes{laptop: eth0("192.168.1.23/24"), noARP: true, ping: map[string]bool{"192.168.1.1": true}},
			subnet:  wantResult{status: StatusOK},
			gateway: wantResult{status: StatusOK, summary: "answers (ping in", note: "ARP is not checked on"},
			addr:    wantResult{status: StatusOK, note: "a machine may ignore ping"}},
		{name: "no ARP and a gateway that ignores ping is a warning",
			device:  staticDevice("192.168.1.50/24", "192.168.1.1"),
			fakes:   &segmentFakes{laptop: eth0("192.168.1.23/24"), noARP: true},
			subnet:  wantResult{status: StatusOK},
			gateway: wantResult{status: StatusWarn, summary: "does not answer ping; ARP is not checked on", hint: "routers often ignore ping"},
			addr:    wantResult{status: StatusOK}},
		{name: "neither ARP nor ping: skipped with the fix",
			device:  staticDevice("192.168.1.50/24", "192.168.1.1"),
			fakes:   &segmentFakes{laptop: eth0("192.168.1.23/24"), noARP: true, noICMP: true},
			subnet:  wantResult{status: StatusOK},
			gateway: wantResult{status: StatusSkip, reason: "neither ARP nor ping could be used"},
			addr:    wantResult{status: StatusSkip, reason: "neither ARP nor ping could be used"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns := startDNS(t, nil, preflighttest.Timing{})
			cfg := testConfig(t, dns)
			cfg.Device = tt.device
			tt.fakes.apply(&cfg)
			cfg.Only = nil
			cfg.Skip = []string{CheckDNS, CheckICMP, CheckTCPHTTPS, CheckTLS, CheckHTTPS, CheckNTP}
			rep := runChecks(t, cfg)
			for id, want := range map[string]wantResult{CheckDeviceSubnet: tt.subnet, CheckDeviceGW: tt.gateway, CheckDeviceAddr: tt.addr} {
				r, ok := rep.Result(id)
				if !ok {
					t.Fatalf("no %s result: a static device brings the address checks", id)
				}
				checkResult(t, r, want)
			}
			if tt.fakes.offLink.Load() {
				t.Error("a probe went to an address off this laptop's networks")
			}
			if tt.noProbe && tt.fakes.probes.Load() != 0 {
				t.Errorf("%d probes sent, want none", tt.fakes.probes.Load())
			}
			if rep.Device == nil || rep.Device.Address != tt.device.Address.String() {
				t.Errorf("report device = %+v", rep.Device)
			}
		})
	}
}

func TestDeviceChecksSelection(t *testing.T) {
	cfg := DefaultConfig()
	if ids := strings.Join(SelectedChecks(cfg), ","); strings.Contains(ids, "device-") {
		t.Errorf("without a device the address checks run: %s", ids)
	}
	cfg.Device = &DeviceSettings{Mode: DeviceModeDHCP}
	if ids := strings.Join(SelectedChecks(cfg), ","); strings.Contains(ids, "device-") {
		t.Errorf("a DHCP device brings the address checks: %s", ids)
	}
	cfg.Device = staticDevice("192.168.1.50/24", "192.168.1.1")
	if ids := strings.Join(SelectedChecks(cfg), ","); !strings.HasPrefix(ids, "local-network,device-subnet,device-gateway,device-address,dns") {
		t.Errorf("a static device runs %s", ids)
	}
}

func TestDeviceChecksWithoutStaticAddress(t *testing.T) {
	dns := startDNS(t, nil, preflighttest.Timing{})
	cfg := testConfig(t, dns)
	r := runCheck(t, cfg, CheckDeviceAddr)
	checkResult(t, r, wantResult{status: StatusSkip, reason: "no static address to check"})
}

func TestParseARPTable(t *testing.T) {
	table := `IP address       HW type     Flags       HW address            Mask     Device
192.0.2.1        0x1         0x2         02:00:00:00:00:01     *        veth0
192.0.2.10       0x1         0x0         00:00:00:00:00:00     *        veth0
192.0.2.11       0x1         0x6         02:00:00:00:00:11     *        veth0
`
	for addr, want := range map[string]string{"192.0.2.1": "02:00:00:00:00:01", "192.0.2.10": "", "192.0.2.11": "02:00:00:00:00:11", "192.0.2.99": ""} {
		got, ok := parseARPTable([]byte(table), netip.MustParseAddr(addr))
		if got != want || ok != (want != "") {
			t.Errorf("parseARPTable(%s) = %q, %v; want %q", addr, got, ok, want)
		}
	}
	if _, ok := parseARPTable(nil, netip.MustParseAddr("192.0.2.1")); ok {
		t.Error("an empty table has an entry")
	}
}

func TestDeviceSettingsApply(t *testing.T) {
	d := DeviceSettings{Source: "sx.json", Serial: "SX-00042", SiteName: "Lyon", ServerURL: "https://platform.example:8443/api",
		CACertificates: "PEM", Mode: DeviceModeDHCP, DNS: []netip.Addr{netip.MustParseAddr("10.0.0.53"), netip.MustParseAddr("10.0.0.54")},
		Proxy: "http://proxy:3128", NTPServer: "ntp.example"}
	cfg := DefaultConfig()
	cfg.CAFile = "laptop.pem"
	if err := d.Apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "platform.example" || cfg.HTTPSPort != 8443 || cfg.ExpectIP != "" || cfg.HealthPath != "/api/v1/health" ||
		cfg.CAPEM != "PEM" || cfg.CAFile != "" || !cfg.DeviceRootsOnly || cfg.DNSServer != "10.0.0.53" || cfg.Proxy != "http://proxy:3128" ||
		cfg.NTPServer != "ntp.example" || cfg.Site != "Lyon" || cfg.Serial != "SX-00042" {
		t.Errorf("config after Apply = %+v", cfg)
	}
	if got := strings.Join(cfg.BundleSettings, ","); got != "host,https-port,ca,dns-server,proxy,ntp-server,site,serial" {
		t.Errorf("BundleSettings = %s", got)
	}

	prod := DeviceSettings{ServerURL: "https://" + DefaultHost, Mode: DeviceModeDHCP}
	cfg = DefaultConfig()
	cfg.Site = "given"
	if err := prod.Apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.ExpectIP != DefaultExpectIP || cfg.HTTPSPort != 443 || cfg.Site != "given" || cfg.DeviceRootsOnly {
		t.Errorf("production bundle config = %+v", cfg)
	}
	if err := (DeviceSettings{ServerURL: "ftp://x"}).Apply(&cfg); err == nil {
		t.Error("an ftp server URL was accepted")
	}
}
