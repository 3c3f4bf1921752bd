package preflight

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Network modes of a device, as its provisioning bundle names them.
const (
	DeviceModeDHCP   = "dhcp"
	DeviceModeStatic = "static"
)

// DeviceSettings are a device's own network settings, as its provisioning bundle holds them.
// With them the checks test what the device will see (its DNS server, proxy, NTP server,
// platform URL and CA) rather than what this laptop got from the network, and a static
// address is checked on the segment. The caller reads and validates the bundle; this package
// only uses the settings.
type DeviceSettings struct {
	// Source names where the settings come from (the bundle's file name), for the report.
	Source string
	// Serial and DeviceID identify the device.
	Serial   string
	DeviceID string
	// SiteName is the site the device was provisioned for.
	SiteName string
	// ServerURL is the platform's base URL, https://host[:port][/prefix].
	ServerURL string
	// CACertificates is the PEM of the authorities the device trusts; empty means it trusts
	// the system roots (a platform with a public certificate).
	CACertificates string
	// Mode is DeviceModeDHCP or DeviceModeStatic.
	Mode string
	// Address is the static address with its prefix length; Gateway its router.
	Address netip.Prefix
	Gateway netip.Addr
	// DNS lists the device's DNS servers (the first is tested).
	DNS []netip.Addr
	// Proxy is the proxy URL the device uses, if any.
	Proxy string
	// NTPServer is the device's time server, host[:port], if not the default.
	NTPServer string
}

// Static reports whether the device has a static address to check on the segment.
func (d *DeviceSettings) Static() bool {
	return d != nil && d.Mode == DeviceModeStatic && d.Address.IsValid()
}

// Setting names reported in DeviceInfo.Settings: the flag names they stand for.
const (
	settingHost      = "host"
	settingHTTPSPort = "https-port"
	settingCA        = "ca"
	settingDNSServer = "dns-server"
	settingProxy     = "proxy"
	settingNTPServer = "ntp-server"
	settingSite      = "site"
	settingSerial    = "serial"
)

// Apply puts the device's settings into cfg (over the defaults and the site file; the flags
// given on the command line come after) and records in cfg.BundleSettings the names of the
// settings it set, which the report lists as coming from the bundle. The platform address the firewall rules name
// (expect-ip) is kept only when the host stays the same or is the production platform.
func (d DeviceSettings) Apply(cfg *Config) error {
	var set []string
	u, err := url.Parse(d.ServerURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return fmt.Errorf("server_url %q is not an https://host[:port] URL", d.ServerURL)
	}
	host := u.Hostname()
	if host != cfg.Host {
		cfg.ExpectIP = ""
		if host == DefaultHost {
			cfg.ExpectIP = DefaultExpectIP
		}
	}
	cfg.Host = host
	set = append(set, settingHost)
	cfg.HTTPSPort = DefaultHTTPSPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("server_url %q has an invalid port", d.ServerURL)
		}
		cfg.HTTPSPort = n
	}
	set = append(set, settingHTTPSPort)
	if prefix := strings.TrimSuffix(u.Path, "/"); prefix != "" {
		cfg.HealthPath = prefix + DefaultHealthPath
	}
	if d.CACertificates != "" {
		cfg.CAPEM = d.CACertificates
		cfg.CAFile = ""
		cfg.DeviceRootsOnly = true
		set = append(set, settingCA)
	}
	if len(d.DNS) > 0 {
		cfg.DNSServer = d.DNS[0].String()
		set = append(set, settingDNSServer)
	}
	if d.Proxy != "" {
		cfg.Proxy = d.Proxy
		set = append(set, settingProxy)
	}
	if d.NTPServer != "" {
		cfg.NTPServer = d.NTPServer
		set = append(set, settingNTPServer)
	}
	if d.SiteName != "" && cfg.Site == "" {
		cfg.Site = d.SiteName
		set = append(set, settingSite)
	}
	if d.Serial != "" && cfg.Serial == "" {
		cfg.Serial = d.Serial
		set = append(set, settingSerial)
	}
	dev := d
	cfg.Device = &dev
	cfg.BundleSettings = set
	return nil
}

// DeviceInfo is what the report says of the device whose settings were used.
type DeviceInfo struct {
	// Source is the bundle's file name.
	Source string `json:"source"`
	// Serial and DeviceID identify the device.
	Serial   string `json:"serial,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
	// Mode is dhcp or static.
	Mode string `json:"mode"`
	// Address, Gateway and DNS are the device's static settings (DNS also in DHCP mode when
	// the bundle overrides them).
	Address string   `json:"address,omitempty"`
	Gateway string   `json:"gateway,omitempty"`
	DNS     []string `json:"dns,omitempty"`
	// Proxy is the device's proxy, credentials redacted.
	Proxy string `json:"proxy,omitempty"`
	// NTPServer is the device's time server, if not the default.
	NTPServer string `json:"ntp_server,omitempty"`
	// Settings names the settings taken from the bundle and not overridden on the command
	// line: host, https-port, ca, dns-server, proxy, ntp-server, site, serial.
	Settings []string `json:"settings"`
}

// info is the report's view of the settings.
func (d *DeviceSettings) info(settings []string) *DeviceInfo {
	if d == nil {
		return nil
	}
	in := &DeviceInfo{Source: d.Source, Serial: d.Serial, DeviceID: d.DeviceID, Mode: d.Mode,
		NTPServer: d.NTPServer, Settings: append([]string{}, settings...)}
	if d.Address.IsValid() {
		in.Address = d.Address.String()
	}
	if d.Gateway.IsValid() {
		in.Gateway = d.Gateway.String()
	}
	for _, a := range d.DNS {
		in.DNS = append(in.DNS, a.String())
	}
	if d.Proxy != "" {
		in.Proxy = redactURL(d.Proxy)
	}
	return in
}
