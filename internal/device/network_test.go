package device

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// staticSettings is a valid static configuration that each case changes.
func staticSettings() NetworkSettings {
	return NetworkSettings{
		Mode:    ModeStatic,
		Address: netip.MustParsePrefix("192.168.10.50/24"),
		Gateway: netip.MustParseAddr("192.168.10.1"),
		DNS:     addrs("192.168.10.1", "9.9.9.9"),
	}
}

func TestValidateAcceptsGoodSettings(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*NetworkSettings)
	}{
		{"static /24", nil},
		{"static /16 with a gateway in another /24", func(n *NetworkSettings) {
			n.Address = netip.MustParsePrefix("10.20.30.40/16")
			n.Gateway = netip.MustParseAddr("10.20.0.1")
			n.DNS = addrs("10.20.0.2")
		}},
		{"static /8", func(n *NetworkSettings) {
			n.Address = netip.MustParsePrefix("10.1.2.3/8")
			n.Gateway = netip.MustParseAddr("10.0.0.1")
			n.DNS = addrs("10.0.0.1")
		}},
		{"static /30", func(n *NetworkSettings) {
			n.Address = netip.MustParsePrefix("192.168.10.2/30")
			n.Gateway = netip.MustParseAddr("192.168.10.1")
		}},
		{"static /31 (RFC 3021): both addresses are hosts", func(n *NetworkSettings) {
			n.Address = netip.MustParsePrefix("192.168.10.0/31")
			n.Gateway = netip.MustParseAddr("192.168.10.1")
		}},
		{"three DNS servers", func(n *NetworkSettings) { n.DNS = addrs("192.168.10.1", "9.9.9.9", "1.1.1.1") }},
		{"proxy with port", func(n *NetworkSettings) { n.Proxy = "http://proxy.site.example:3128" }},
		{"https proxy with credentials", func(n *NetworkSettings) { n.Proxy = "https://user:p%40ss@10.0.0.5:8443/" }},
		{"NTP host name", func(n *NetworkSettings) { n.NTPServer = "pool.ntp.org" }},
		{"NTP address with port", func(n *NetworkSettings) { n.NTPServer = "192.168.10.1:123" }},
		{"NTP host with underscore", func(n *NetworkSettings) { n.NTPServer = "ntp_1.site.local" }},
		{"dhcp alone", func(n *NetworkSettings) { *n = NetworkSettings{Mode: ModeDHCP} }},
		{"dhcp with overrides", func(n *NetworkSettings) {
			*n = NetworkSettings{Mode: ModeDHCP, DNS: addrs("9.9.9.9"), Proxy: "http://10.0.0.5:8080", NTPServer: "time.site.example"}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := staticSettings()
			if tt.edit != nil {
				tt.edit(&n)
			}
			if err := n.Validate(); err != nil {
				t.Fatalf("Validate = %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edit  func(*NetworkSettings)
		field string
		want  string // part of the message
	}{
		{"no mode", func(n *NetworkSettings) { n.Mode = "" }, FieldNetwork, "required"},
		{"unknown mode", func(n *NetworkSettings) { n.Mode = "auto" }, FieldNetwork, "dhcp or static"},
		{"static without address", func(n *NetworkSettings) { n.Address = netip.Prefix{} }, FieldIP, "required for a static address"},
		{"IPv6 address", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("2001:db8::5/64") }, FieldIP, "IPv6 is not supported"},
		{"network address", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("192.168.10.0/24") }, FieldIP,
			"this is the network address of 192.168.10.0/24, not a host: pick an address between .1 and .254"},
		{"broadcast address", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("192.168.10.255/24") }, FieldIP, "broadcast address of 192.168.10.0/24"},
		{"broadcast of a /16", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("10.20.255.255/16") }, FieldIP, "between 10.20.0.1 and 10.20.255.254"},
		{"network address of a /30", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("192.168.10.4/30") }, FieldIP, "between .5 and .6"},
		{"/32", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("192.168.10.50/32") }, FieldIP, "/32"},
		{"mask too wide", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("192.168.10.50/4") }, FieldIP, "wider than any site network"},
		{"link-local", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("169.254.10.50/16") }, FieldIP, "link-local"},
		{"loopback", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("127.0.0.5/8") }, FieldIP, "loopback"},
		{"multicast", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("224.0.0.5/24") }, FieldIP, "multicast"},
		{"unspecified", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("0.0.0.0/24") }, FieldIP, "this network"},
		{"reserved", func(n *NetworkSettings) { n.Address = netip.MustParsePrefix("250.1.1.1/24") }, FieldIP, "reserved"},
		{"no gateway", func(n *NetworkSettings) { n.Gateway = netip.Addr{} }, FieldGateway, "required with a static --ip"},
		{"gateway outside the subnet", func(n *NetworkSettings) { n.Gateway = netip.MustParseAddr("192.168.11.1") }, FieldGateway,
			"outside the device's network 192.168.10.0/24"},
		{"gateway is the host", func(n *NetworkSettings) { n.Gateway = netip.MustParseAddr("192.168.10.50") }, FieldGateway, "device's own address"},
		{"gateway is the network address", func(n *NetworkSettings) { n.Gateway = netip.MustParseAddr("192.168.10.0") }, FieldGateway, "network address"},
		{"gateway is the broadcast address", func(n *NetworkSettings) { n.Gateway = netip.MustParseAddr("192.168.10.255") }, FieldGateway, "broadcast address"},
		{"gateway IPv6", func(n *NetworkSettings) { n.Gateway = netip.MustParseAddr("fe80::1") }, FieldGateway, "IPv6"},
		{"gateway loopback", func(n *NetworkSettings) { n.Gateway = netip.MustParseAddr("127.0.0.1") }, FieldGateway, "loopback"},
		{"gateway outside a /31", func(n *NetworkSettings) {
			n.Address = netip.MustParsePrefix("192.168.10.0/31")
			n.Gateway = netip.MustParseAddr("192.168.10.2")
		}, FieldGateway, "outside"},
		{"static without DNS", func(n *NetworkSettings) { n.DNS = nil }, FieldDNS, "at least one DNS server"},
		{"four DNS servers", func(n *NetworkSettings) { n.DNS = addrs("1.1.1.1", "8.8.8.8", "9.9.9.9", "192.168.10.1") }, FieldDNS, "one to 3"},
		{"DNS is the host", func(n *NetworkSettings) { n.DNS = addrs("192.168.10.50") }, FieldDNS, "device's own address"},
		{"DNS multicast", func(n *NetworkSettings) { n.DNS = addrs("239.1.1.1") }, FieldDNS, "multicast"},
		{"DNS unspecified", func(n *NetworkSettings) { n.DNS = addrs("0.0.0.0") }, FieldDNS, "this network"},
		{"DNS limited broadcast", func(n *NetworkSettings) { n.DNS = addrs("255.255.255.255") }, FieldDNS, "broadcast"},
		{"DNS subnet broadcast", func(n *NetworkSettings) { n.DNS = addrs("192.168.10.255") }, FieldDNS, "broadcast address"},
		{"DNS twice", func(n *NetworkSettings) { n.DNS = addrs("9.9.9.9", "9.9.9.9") }, FieldDNS, "listed twice"},
		{"DNS IPv6", func(n *NetworkSettings) { n.DNS = addrs("2620:fe::fe") }, FieldDNS, "IPv6"},
		{"DNS empty", func(n *NetworkSettings) { n.DNS = []netip.Addr{{}} }, FieldDNS, "empty"},
		{"proxy without port", func(n *NetworkSettings) { n.Proxy = "http://proxy.site.example" }, FieldProxy, "explicit port"},
		{"proxy socks", func(n *NetworkSettings) { n.Proxy = "socks5://proxy:1080" }, FieldProxy, "http:// or https://"},
		{"proxy without scheme", func(n *NetworkSettings) { n.Proxy = "proxy:3128" }, FieldProxy, "http://"},
		{"proxy bad port", func(n *NetworkSettings) { n.Proxy = "http://proxy:99999" }, FieldProxy, "between 1 and 65535"},
		{"proxy with path", func(n *NetworkSettings) { n.Proxy = "http://proxy:3128/pac" }, FieldProxy, "path"},
		{"proxy without host", func(n *NetworkSettings) { n.Proxy = "http://:3128" }, FieldProxy, "no host"},
		{"proxy password without user", func(n *NetworkSettings) { n.Proxy = "http://:secret@proxy:3128" }, FieldProxy, "without a user"},
		{"proxy IPv6", func(n *NetworkSettings) { n.Proxy = "http://[2001:db8::1]:3128" }, FieldProxy, "IPv6"},
		{"NTP URL", func(n *NetworkSettings) { n.NTPServer = "ntp://pool.ntp.org" }, FieldNTP, "not a URL"},
		{"NTP bad port", func(n *NetworkSettings) { n.NTPServer = "pool.ntp.org:0" }, FieldNTP, "between 1 and 65535"},
		{"NTP bad name", func(n *NetworkSettings) { n.NTPServer = "pool ntp org" }, FieldNTP, "not a valid host name"},
		{"NTP mistyped address", func(n *NetworkSettings) { n.NTPServer = "192.168.10.300" }, FieldNTP, "not a valid host name"},
		{"NTP IPv6", func(n *NetworkSettings) { n.NTPServer = "[2001:db8::1]:123" }, FieldNTP, "IPv6"},
		{"NTP multicast", func(n *NetworkSettings) { n.NTPServer = "224.0.1.1" }, FieldNTP, "multicast"},
		{"dhcp with a static address", func(n *NetworkSettings) { n.Mode = ModeDHCP; n.Gateway = netip.Addr{} }, FieldIP, "not used with --dhcp"},
		{"dhcp with a gateway", func(n *NetworkSettings) { n.Mode = ModeDHCP; n.Address = netip.Prefix{} }, FieldGateway, "DHCP gives the gateway"},
		{"dhcp with a bad DNS override", func(n *NetworkSettings) {
			*n = NetworkSettings{Mode: ModeDHCP, DNS: addrs("127.0.0.53")}
		}, FieldDNS, "loopback"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := staticSettings()
			tt.edit(&n)
			err := n.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if !errors.Is(err, ErrInvalidNetworkSettings) {
				t.Errorf("%v does not match ErrInvalidNetworkSettings", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%v holds no *FieldError", err)
			}
			var found bool
			for _, e := range err.(FieldErrors) {
				if e.Field == tt.field && strings.Contains(e.Error(), tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("Validate = %v\nwant a problem of --%s saying %q", err, tt.field, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	n := NetworkSettings{
		Mode:      ModeStatic,
		Address:   netip.MustParsePrefix("192.168.10.0/24"),
		Gateway:   netip.MustParseAddr("10.0.0.1"),
		Proxy:     "http://user:hunter2@proxy",
		NTPServer: "ntp://x",
	}
	err := n.Validate()
	var list FieldErrors
	if !errors.As(err, &list) {
		t.Fatalf("Validate = %v, want FieldErrors", err)
	}
	var fields []string
	for _, e := range list {
		fields = append(fields, e.Field)
	}
	if got := strings.Join(fields, ","); got != "ip,gateway,dns,proxy,ntp-server" {
		t.Errorf("problems of %s, want ip,gateway,dns,proxy,ntp: %v", got, err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the message shows the proxy password: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the message has several lines: %q", err)
	}

	// The gateway is not checked against the network of an address that has none.
	n = staticSettings()
	n.Address = netip.MustParsePrefix("127.0.0.5/8")
	n.Gateway = netip.MustParseAddr("10.0.0.1")
	if err := n.Validate(); err == nil || strings.Contains(err.Error(), "outside") || strings.Contains(err.Error(), "--gateway") {
		t.Errorf("Validate = %v, want only the loopback address reported", err)
	}
}

func TestParseAddressMask(t *testing.T) {
	for _, tt := range []struct {
		ip, mask string
		want     string // the prefix, or "" for an error
		field    string // the field of the error
		problem  string
	}{
		{"192.168.10.50/24", "", "192.168.10.50/24", "", ""},
		{"192.168.10.50", "255.255.255.0", "192.168.10.50/24", "", ""},
		{" 10.1.2.3 ", "255.255.0.0", "10.1.2.3/16", "", ""},
		{"10.1.2.3", "255.255.255.252", "10.1.2.3/30", "", ""},
		{"10.1.2.3", "255.255.255.255", "10.1.2.3/32", "", ""},
		{"10.1.2.3", "24", "10.1.2.3/24", "", ""},
		{"10.1.2.3", "/20", "10.1.2.3/20", "", ""},
		{"10.1.2.3", "0.0.0.0", "10.1.2.3/0", "", ""},
		{"192.168.10.50", "255.0.255.0", "", FieldNetmask, "contiguous"},
		{"192.168.10.50", "255.255.255.1", "", FieldNetmask, "contiguous"},
		{"192.168.10.50", "0.255.255.255", "", FieldNetmask, "contiguous"},
		{"192.168.10.50", "33", "", FieldNetmask, "between 0 and 32"},
		{"192.168.10.50", "255.255.256.0", "", FieldNetmask, "not a mask"},
		{"192.168.10.50", "ffff::", "", FieldNetmask, "not a mask"},
		{"192.168.10.50", "", "", FieldIP, "needs a mask"},
		{"192.168.10.50/24", "255.255.255.0", "", FieldNetmask, "give the mask once"},
		{"192.168.10.50/33", "", "", FieldIP, "prefix length"},
		{"192.168.10", "255.255.255.0", "", FieldIP, "not an IPv4 address"},
		{"", "", "", FieldIP, "empty"},
		{"2001:db8::1/64", "", "", FieldIP, "IPv6"},
		{"2001:db8::1", "64", "", FieldIP, "IPv6"},
		{"::ffff:192.168.10.50", "24", "", FieldIP, "write it as plain IPv4, 192.168.10.50"},
	} {
		t.Run(tt.ip+" mask "+tt.mask, func(t *testing.T) {
			got, err := ParseAddressMask(tt.ip, tt.mask)
			if tt.want != "" {
				if err != nil || got.String() != tt.want {
					t.Fatalf("ParseAddressMask = %v, %v, want %s", got, err, tt.want)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Problem, tt.problem) {
				t.Fatalf("ParseAddressMask = %v, %v, want a --%s error saying %q", got, err, tt.field, tt.problem)
			}
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	n := staticSettings()
	n.Address = netip.MustParsePrefix("192.168.10.0/24")
	want := "--ip 192.168.10.0/24: this is the network address of 192.168.10.0/24, not a host: pick an address between .1 and .254"
	if err := n.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate = %v\nwant %s", err, want)
	}
}

func FuzzParseAddressMask(f *testing.F) {
	for _, seed := range [][2]string{
		{"192.168.10.50/24", ""}, {"192.168.10.50", "255.255.255.0"}, {"10.0.0.1", "24"},
		{"10.0.0.1", "255.0.255.0"}, {"::1", "64"}, {"1.2.3.4/0", ""}, {"", ""}, {"1.2.3.4", "/32"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, ip, mask string) {
		p, err := ParseAddressMask(ip, mask)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Problem == "" {
				t.Fatalf("error %v is not a *FieldError with a problem", err)
			}
			return
		}
		if !p.IsValid() || !p.Addr().Is4() {
			t.Fatalf("ParseAddressMask(%q, %q) = %v, not a valid IPv4 prefix", ip, mask, p)
		}
		again, err := ParseAddressMask(p.String(), "")
		if err != nil || again != p {
			t.Fatalf("round trip of %v: %v, %v", p, again, err)
		}
		n := NetworkSettings{Mode: ModeStatic, Address: p, Gateway: p.Masked().Addr().Next(), DNS: addrs("9.9.9.9")}
		_ = n.Validate() // must not panic on any prefix
	})
}
