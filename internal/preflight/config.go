package preflight

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Profile selects which device generation the checks are for.
type Profile string

// Profiles.
const (
	// ProfileCurrent checks what a current Smart X needs.
	ProfileCurrent Profile = "current"
	// ProfileLegacy adds the port-80 checks needed by Smart X delivered
	// before September 2024.
	ProfileLegacy Profile = "legacy"
	// ProfileAll runs every check, including proxy (skipped when no proxy
	// is configured).
	ProfileAll Profile = "all"
)

// Profiles returns the valid profiles.
func Profiles() []Profile { return []Profile{ProfileCurrent, ProfileLegacy, ProfileAll} }

// Defaults from the vendor's public statement of what the device needs.
const (
	DefaultHost         = "smartx.smart-impulse.com"
	DefaultExpectIP     = "178.33.106.9"
	DefaultHTTPSPort    = 443
	DefaultHTTPPort     = 80
	DefaultPingTarget   = "8.8.8.8"
	DefaultNTPServer    = "time.google.com"
	DefaultTimeout      = 5 * time.Second
	DefaultCount        = 4
	DefaultHealthPath   = "/v1/health"
	DefaultPingInterval = 100 * time.Millisecond
	ntpDefaultPort      = 123
	dnsDefaultPort      = 53
)

// DialFunc opens a TCP connection to an address that is already an
// IP:port (names are resolved before it is called, through the run's
// resolver). Tests inject one to simulate silent drops and the like.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Config holds everything a run needs. The exported fields up to Profile are
// the CLI interface (flag and site-file names in their doc comments); the
// ones after are injection points for tests and embedders.
type Config struct {
	// Host is the platform's name (host).
	Host string
	// ExpectIP is the platform address the firewall rules use (expect-ip);
	// empty disables the comparison and the by-IP connects.
	ExpectIP string
	// HTTPSPort is the platform's HTTPS port (https-port).
	HTTPSPort int
	// HTTPPort is the platform's legacy HTTP port (http-port).
	HTTPPort int
	// PingTarget is the ICMP echo target (ping-target).
	PingTarget string
	// NTPServer is host[:port] of the time server (ntp-server), port 123 by
	// default.
	NTPServer string
	// DNSServer is host[:port] of the site's DNS server (dns-server), port
	// 53 by default; empty uses the system resolver.
	DNSServer string
	// Proxy is the http:// or https:// URL of the proxy the device will use
	// (proxy); empty means direct. Userinfo is sent as Basic credentials.
	Proxy string
	// CAFile is a PEM bundle of extra roots the device trusts (ca-file).
	CAFile string
	// DeviceRootsOnly makes the device trust only CAFile, not this laptop's
	// system roots (device-roots-only).
	DeviceRootsOnly bool
	// ExpectIssuer is the issuer common name or organisation the platform
	// certificate must have (expect-issuer); empty disables the check.
	ExpectIssuer string
	// Timeout bounds each check (timeout).
	Timeout time.Duration
	// Count is the number of ICMP echo requests (count).
	Count int
	// Only restricts the run to these check ids (only).
	Only []string
	// Skip removes these check ids from the run (skip).
	Skip []string
	// Strict makes warnings fail the command (strict); see Report.Failed.
	Strict bool
	// Site names the site in the report (site).
	Site string
	// Serial is the serial of the device the checks are for (serial), for the report.
	Serial string
	// Installer names who runs the checks and how to reach them (installer), for the report.
	Installer string
	// Profile is current, legacy or all (profile).
	Profile Profile

	// Device holds the device's own settings (from its provisioning bundle, --bundle); the
	// static-address checks run when it has a static address. Apply it with
	// DeviceSettings.Apply, which also sets the targets.
	Device *DeviceSettings
	// BundleSettings names the settings taken from the device's bundle, for the report.
	BundleSettings []string
	// CAPEM holds PEM certificates the device trusts, given inline (a bundle's CA), in
	// addition to CAFile.
	CAPEM string

	// SystemRoots stands for this laptop's system root pool; nil loads
	// x509.SystemCertPool().
	SystemRoots *x509.CertPool
	// Clock gives the current time for the report and for certificate
	// validity; nil uses time.Now.
	Clock func() time.Time
	// HealthPath is the platform's health endpoint; empty uses /v1/health.
	HealthPath string
	// PingInterval is the gap between echo requests; zero uses 100 ms.
	PingInterval time.Duration
	// Ping sends the echo requests; nil uses pro-bing.
	Ping PingFunc
	// Dial opens TCP connections to resolved addresses; nil uses net.Dialer.
	Dial DialFunc
	// DialUDP opens the UDP sockets of the DNS and NTP queries; nil uses
	// net.Dialer. Tests inject the socket errors a laptop raises itself.
	DialUDP DialFunc
	// RouteProbe asks this laptop's routing table for a route toward addr
	// without sending anything. It tells an "unreachable" raised by the
	// laptop itself (no route: its fault) from one a router sent back (the
	// network's). nil uses a UDP connect, which sends no packet.
	RouteProbe func(ctx context.Context, addr netip.AddrPort) error
	// Getenv reads this laptop's environment (proxy variables); nil uses
	// os.Getenv.
	Getenv func(string) string
	// RouteTablePath is the Linux route table; empty uses /proc/net/route.
	RouteTablePath string
	// ResolvConfPath is the unix resolver configuration; empty uses
	// /etc/resolv.conf.
	ResolvConfPath string
	// Interfaces lists this laptop's interfaces and addresses; nil asks the OS.
	Interfaces InterfacesFunc
	// Neighbor asks the link who holds an address (ARP); nil uses the OS's way, where there
	// is one.
	Neighbor NeighborFunc
}

// DefaultConfig returns the configuration for a current device talking to
// the production platform.
func DefaultConfig() Config {
	return Config{
		Host:       DefaultHost,
		ExpectIP:   DefaultExpectIP,
		HTTPSPort:  DefaultHTTPSPort,
		HTTPPort:   DefaultHTTPPort,
		PingTarget: DefaultPingTarget,
		NTPServer:  DefaultNTPServer,
		Timeout:    DefaultTimeout,
		Count:      DefaultCount,
		Profile:    ProfileCurrent,
	}
}

// ErrInvalidConfig is wrapped by every ConfigError, so callers can tell a
// configuration mistake (exit code 2, say) from anything else.
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrUnknownCheck is wrapped by the ConfigError of an unknown check id.
var ErrUnknownCheck = errors.New("unknown check id")

// ConfigError is one invalid setting. Key is the kebab-case setting name
// shared by the flags and the site file.
type ConfigError struct {
	// Key is the setting's kebab-case name, e.g. "https-port".
	Key string
	// Value is the offending value (empty when the value is missing).
	Value string
	// Problem says what is wrong and what is expected.
	Problem string
	// Err is an underlying cause (ErrUnknownCheck, a file error...), if any.
	Err error
}

// Error implements error.
func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Key, e.Problem)
	}
	return fmt.Sprintf("%s %q: %s", e.Key, e.Value, e.Problem)
}

// Unwrap lets errors.Is find ErrInvalidConfig and the cause.
func (e *ConfigError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidConfig, e.Err}
	}
	return []error{ErrInvalidConfig}
}

// Validate returns every problem with the configuration at once (joined
// *ConfigError values), or nil. It reads CAFile to check it holds
// certificates; it does no network I/O.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, value, problem string, cause error) {
		errs = append(errs, &ConfigError{Key: key, Value: value, Problem: problem, Err: cause})
	}

	if c.Host == "" {
		bad("host", "", "must not be empty (the platform's name, e.g. "+DefaultHost+")", nil)
	} else if !validHostname(c.Host) {
		bad("host", c.Host, "is not a valid host name or IP address", nil)
	}
	if c.ExpectIP != "" {
		if _, err := netip.ParseAddr(c.ExpectIP); err != nil {
			bad("expect-ip", c.ExpectIP, "is not an IP address (leave empty to skip the comparison)", nil)
		}
	}
	for _, p := range []struct {
		key  string
		port int
	}{{"https-port", c.HTTPSPort}, {"http-port", c.HTTPPort}} {
		if p.port < 1 || p.port > 65535 {
			bad(p.key, strconv.Itoa(p.port), "must be between 1 and 65535", nil)
		}
	}
	if c.PingTarget == "" {
		bad("ping-target", "", "must not be empty (e.g. "+DefaultPingTarget+")", nil)
	} else if !validHostname(c.PingTarget) {
		bad("ping-target", c.PingTarget, "is not a valid host name or IP address", nil)
	}
	if _, _, err := splitHostPortDefault(c.NTPServer, ntpDefaultPort); err != nil {
		bad("ntp-server", c.NTPServer, err.Error(), nil)
	}
	if c.DNSServer != "" {
		if _, _, err := splitHostPortDefault(c.DNSServer, dnsDefaultPort); err != nil {
			bad("dns-server", c.DNSServer, err.Error(), nil)
		}
	}
	if c.Proxy != "" {
		if _, err := parseProxyURL(c.Proxy); err != nil {
			bad("proxy", redactURL(c.Proxy), err.Error(), nil)
		}
	}
	if c.CAPEM != "" {
		if _, err := parseCAPEM([]byte(c.CAPEM)); err != nil {
			bad("ca", "", "the bundle's CA certificates: "+err.Error(), err)
		}
	}
	if c.CAFile != "" {
		if _, err := loadCAFile(c.CAFile); err != nil {
			bad("ca-file", c.CAFile, err.Error(), err)
		}
	} else if c.DeviceRootsOnly && c.CAPEM == "" {
		bad("device-roots-only", "", "needs ca-file: the device would trust no certificate at all", nil)
	}
	if c.Timeout <= 0 {
		bad("timeout", c.Timeout.String(), "must be positive (e.g. 5s)", nil)
	}
	if c.Count < 1 || c.Count > 1000 {
		bad("count", strconv.Itoa(c.Count), "must be between 1 and 1000", nil)
	}
	if !slices.Contains(Profiles(), c.Profile) {
		bad("profile", string(c.Profile), "must be one of current, legacy, all", nil)
	}
	for _, key := range []string{"only", "skip"} {
		ids := c.Only
		if key == "skip" {
			ids = c.Skip
		}
		for _, id := range ids {
			if _, ok := LookupCheck(id); !ok {
				bad(key, id, "unknown check id; valid ids: "+strings.Join(CheckIDs(), ", "), ErrUnknownCheck)
			}
		}
	}
	if c.HealthPath != "" && !strings.HasPrefix(c.HealthPath, "/") {
		bad("health-path", c.HealthPath, "must start with /", nil)
	}
	if c.PingInterval < 0 {
		bad("ping-interval", c.PingInterval.String(), "must not be negative", nil)
	}
	return errors.Join(errs...)
}

// validHostname accepts IP literals and DNS names made of letters, digits,
// hyphens, underscores and dots.
func validHostname(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			ok := r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
			if !ok {
				return false
			}
		}
	}
	return true
}

// splitHostPortDefault parses host or host:port (IPv6 in brackets when a
// port is given) and applies the default port.
func splitHostPortDefault(s string, defaultPort int) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("must not be empty")
	}
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a bare name, IPv4 or IPv6 literal (with or without brackets).
		host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if !validHostname(host) {
			return "", 0, errors.New("want host or host:port")
		}
		return host, defaultPort, nil
	}
	if !validHostname(host) {
		return "", 0, errors.New("want host or host:port")
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, errors.New("port must be between 1 and 65535")
	}
	return host, port, nil
}

// proxyTarget is a parsed proxy URL.
type proxyTarget struct {
	Host     string
	Port     int
	TLS      bool
	User     string
	Password string
	HasAuth  bool
}

// parseProxyURL accepts http:// and https:// proxy URLs with a host and an
// optional port (default 80 or 443, as Go and curl do) and userinfo.
func parseProxyURL(s string) (proxyTarget, error) {
	u, err := url.Parse(s)
	if err != nil {
		return proxyTarget{}, errors.New("is not a URL (want http://host:port)")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return proxyTarget{}, errors.New("scheme must be http or https (e.g. http://proxy.example:3128)")
	}
	if u.Hostname() == "" {
		return proxyTarget{}, errors.New("has no host (e.g. http://proxy.example:3128)")
	}
	p := proxyTarget{Host: u.Hostname(), TLS: u.Scheme == "https", Port: 80}
	if p.TLS {
		p.Port = 443
	}
	if ps := u.Port(); ps != "" {
		port, err := strconv.Atoi(ps)
		if err != nil || port < 1 || port > 65535 {
			return proxyTarget{}, errors.New("port must be between 1 and 65535")
		}
		p.Port = port
	}
	if u.User != nil {
		p.HasAuth = true
		p.User = u.User.Username()
		p.Password, _ = u.User.Password()
	}
	return p, nil
}

// loadCAFile reads a PEM bundle and returns its certificates; a file with
// no certificate is an error because it would silently trust nothing.
func loadCAFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ca-file: %w", err)
	}
	return parseCAPEM(data)
}

// parseCAPEM returns the certificates of a PEM bundle; none is an error.
func parseCAPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	return certs, nil
}

// redactURL hides the userinfo of a URL-like string (proxy settings), keeping
// scheme and host so the report still says which proxy was used.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		if u.User == nil {
			return s
		}
		u.User = nil
		rest := strings.TrimPrefix(u.String(), u.Scheme+"://")
		return u.Scheme + "://redacted@" + rest
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "redacted@" + s[i+1:]
	}
	return s
}

// withDefaults fills the non-CLI fields left at their zero value.
func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.HealthPath == "" {
		c.HealthPath = DefaultHealthPath
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Profile == "" {
		c.Profile = ProfileCurrent
	}
	return c
}

// targets describes the configuration as tested, for the report.
func (c Config) targets() Targets {
	t := Targets{
		Host: c.Host, ExpectIP: c.ExpectIP, HTTPSPort: c.HTTPSPort, HTTPPort: c.HTTPPort,
		PingTarget: c.PingTarget, NTPServer: c.NTPServer, DNSServer: c.DNSServer,
		CAFile: c.CAFile, DeviceRootsOnly: c.DeviceRootsOnly, ExpectIssuer: c.ExpectIssuer,
		Profile: c.Profile, TimeoutMS: ms(c.Timeout), Count: c.Count, HealthPath: c.HealthPath,
	}
	if c.Proxy != "" {
		t.Proxy = redactURL(c.Proxy)
	}
	return t
}
