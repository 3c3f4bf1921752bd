package device

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// NetworkMode says how the device gets its address.
type NetworkMode string

// The network modes.
const (
	// ModeDHCP: the site's DHCP server gives the address, gateway and DNS servers.
	ModeDHCP NetworkMode = "dhcp"
	// ModeStatic: the installer sets the address, gateway and DNS servers.
	ModeStatic NetworkMode = "static"
)

// Names of the network settings in FieldError.Field. They are the flag names of
// `smartx device provision` (without the dashes), so a message points at what to retype.
const (
	FieldNetwork = "network" // the mode: dhcp or static
	FieldIP      = "ip"      // the device's address with its prefix length
	FieldNetmask = "netmask" // a dotted mask given apart from the address
	FieldGateway = "gateway"
	FieldDNS     = "dns"
	FieldProxy   = "proxy"
	FieldNTP     = "ntp-server"
)

// MaxDNSServers is how many DNS servers a Smart X takes.
const MaxDNSServers = 3

// minPrefixBits is the widest mask accepted: a /8 is the largest private network (10.0.0.0/8);
// anything wider is a typing mistake, not a site network.
const minPrefixBits = 8

// ErrInvalidNetworkSettings is matched (errors.Is) by every FieldError.
var ErrInvalidNetworkSettings = errors.New("invalid network settings")

// NetworkSettings are the network settings of a device, as the installer gives them.
type NetworkSettings struct {
	// Mode is ModeDHCP or ModeStatic.
	Mode NetworkMode `json:"mode"`
	// Address is the device's address with the prefix length of its network, e.g.
	// 192.168.10.50/24 (static mode only).
	Address netip.Prefix `json:"address,omitzero"`
	// Gateway is the router on the device's network (static mode only).
	Gateway netip.Addr `json:"gateway,omitzero"`
	// DNS lists one to three DNS servers (required in static mode, overrides in DHCP mode).
	DNS []netip.Addr `json:"dns,omitempty"`
	// Proxy is an HTTP proxy URL with an explicit port, e.g. http://user:pass@proxy:3128.
	Proxy string `json:"proxy,omitempty"`
	// NTPServer is a host name or IPv4 address with an optional port.
	NTPServer string `json:"ntp_server,omitempty"`
}

// UnmarshalJSON reads the settings as a bundle stores them, naming the field of a value that
// does not parse (the validation rules are Validate's). Unknown fields are refused.
func (n *NetworkSettings) UnmarshalJSON(data []byte) error {
	var raw struct {
		Mode      NetworkMode `json:"mode"`
		Address   string      `json:"address"`
		Gateway   string      `json:"gateway"`
		DNS       []string    `json:"dns"`
		Proxy     string      `json:"proxy"`
		NTPServer string      `json:"ntp_server"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	out := NetworkSettings{Mode: raw.Mode, Proxy: raw.Proxy, NTPServer: raw.NTPServer}
	if raw.Address != "" {
		p, err := netip.ParsePrefix(raw.Address)
		if err != nil {
			return fmt.Errorf("network.address %q is not an address with a prefix length, e.g. 192.168.10.50/24", raw.Address)
		}
		out.Address = p
	}
	if raw.Gateway != "" {
		a, err := netip.ParseAddr(raw.Gateway)
		if err != nil {
			return fmt.Errorf("network.gateway %q is not an IP address", raw.Gateway)
		}
		out.Gateway = a
	}
	for _, s := range raw.DNS {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("network.dns %q is not an IP address", s)
		}
		out.DNS = append(out.DNS, a)
	}
	*n = out
	return nil
}

// FieldError is one problem with one network setting.
type FieldError struct {
	// Field is the setting's flag name (FieldIP...).
	Field string
	// Value is the offending value as given (a proxy password is hidden), empty when the
	// value is missing.
	Value string
	// Problem says what is wrong and how to fix it.
	Problem string
}

// Error implements error: "--ip 192.168.10.0/24: this is the network address...".
func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("--%s: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("--%s %s: %s", e.Field, e.Value, e.Problem)
}

// Is makes errors.Is(err, ErrInvalidNetworkSettings) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidNetworkSettings }

// FieldErrors is every problem of a NetworkSettings, in field order.
type FieldErrors []*FieldError

// Error implements error: the problems on one line, separated by semicolons.
func (l FieldErrors) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes each FieldError to errors.Is and errors.As.
func (l FieldErrors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Validate returns every problem of the settings at once as FieldErrors, or nil.
func (n NetworkSettings) Validate() error {
	v := &validation{}
	switch n.Mode {
	case ModeStatic:
		v.static(n)
	case ModeDHCP:
		if n.Address.IsValid() {
			v.bad(FieldIP, n.Address.String(), "a static address is not used with --dhcp: remove --ip, or remove --dhcp")
		}
		if n.Gateway.IsValid() {
			v.bad(FieldGateway, n.Gateway.String(), "DHCP gives the gateway: remove --gateway, or give a static --ip instead of --dhcp")
		}
		v.dns(n.DNS, netip.Prefix{}, false)
	case "":
		v.bad(FieldNetwork, "", "required: --dhcp (the site's DHCP server gives the address) or a static --ip")
	default:
		v.bad(FieldNetwork, string(n.Mode), "must be dhcp or static")
	}
	if n.Proxy != "" {
		if err := checkProxyURL(n.Proxy); err != nil {
			v.bad(FieldProxy, redactURL(n.Proxy), err.Error())
		}
	}
	if n.NTPServer != "" {
		if err := checkHostPort(n.NTPServer); err != nil {
			v.bad(FieldNTP, n.NTPServer, err.Error())
		}
	}
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

// validation collects the problems of one Validate call.
type validation struct{ errs FieldErrors }

func (v *validation) bad(field, value, problem string) {
	v.errs = append(v.errs, &FieldError{Field: field, Value: value, Problem: problem})
}

// static checks the address, gateway and DNS servers of static mode.
func (v *validation) static(n NetworkSettings) {
	subnet := netip.Prefix{} // valid once the address is usable for subnet checks
	switch p := n.Address; {
	case !p.IsValid():
		v.bad(FieldIP, "", "required for a static address: give the address and the mask, e.g. 192.168.10.50/24")
	case !p.Addr().Is4():
		v.bad(FieldIP, p.String(), ipv6Problem)
	default:
		if problem := hostProblem(p); problem != "" {
			v.bad(FieldIP, p.String(), problem)
		}
		// A host address badly chosen inside a sound network (its network or broadcast
		// address) still says which network the gateway must be on.
		if specialAddrProblem(p.Addr(), "") == "" && p.Bits() >= minPrefixBits && p.Bits() < 32 {
			subnet = p
		}
	}
	v.gateway(n.Gateway, subnet)
	if len(n.DNS) == 0 {
		v.bad(FieldDNS, "", "at least one DNS server is required with a static --ip, e.g. the site's DNS server or its router 192.168.10.1")
	}
	v.dns(n.DNS, subnet, true)
}

const ipv6Problem = "IPv6 is not supported: Smart X networks are IPv4; give an IPv4 address"

// hostProblem says why p cannot be the device's own address, or "".
func hostProblem(p netip.Prefix) string {
	a := p.Addr()
	if problem := specialAddrProblem(a, "the device's address"); problem != "" {
		return problem
	}
	if p.Bits() < minPrefixBits {
		return fmt.Sprintf("mask /%d is wider than any site network: use the site's mask, e.g. /24 (255.255.255.0)", p.Bits())
	}
	if p.Bits() == 32 {
		return "a /32 mask leaves no room for a gateway on the device's network: use the site's mask, e.g. /24 (255.255.255.0)"
	}
	if p.Bits() <= 30 {
		network, broadcast := subnetBounds(p)
		switch a {
		case network:
			return fmt.Sprintf("this is the network address of %s, not a host: pick an address between %s", p.Masked(), hostRange(p))
		case broadcast:
			return fmt.Sprintf("this is the broadcast address of %s, not a host: pick an address between %s", p.Masked(), hostRange(p))
		}
	}
	return ""
}

// specialAddrProblem rejects IPv4 addresses that no device, gateway or server can have; role
// names what the address was given as.
func specialAddrProblem(a netip.Addr, role string) string {
	switch {
	case a.IsUnspecified() || a.As4()[0] == 0:
		return fmt.Sprintf("0.x.x.x means \"this network\" and cannot be %s", role)
	case a.IsLoopback():
		return fmt.Sprintf("a loopback address (127.x.x.x) stays inside one machine and cannot be %s", role)
	case a.IsLinkLocalUnicast():
		return fmt.Sprintf("a link-local address (169.254.0.0/16) is what a device picks by itself when DHCP fails; it cannot be %s: use an address of the site's network, or --dhcp", role)
	case a.IsMulticast():
		return fmt.Sprintf("a multicast address (224.0.0.0/4) cannot be %s", role)
	case a.As4()[0] >= 240:
		return fmt.Sprintf("addresses from 240.0.0.0 up (including the broadcast 255.255.255.255) are reserved and cannot be %s", role)
	}
	return ""
}

// gateway checks the static gateway against the device's subnet (invalid when the address is
// missing or wrong, so that only the gateway's own problems are reported).
func (v *validation) gateway(g netip.Addr, subnet netip.Prefix) {
	switch {
	case !g.IsValid():
		v.bad(FieldGateway, "", "required with a static --ip: the router's address on the device's network, e.g. 192.168.10.1")
		return
	case !g.Is4():
		v.bad(FieldGateway, g.String(), ipv6Problem)
		return
	}
	if problem := specialAddrProblem(g, "a gateway"); problem != "" {
		v.bad(FieldGateway, g.String(), problem)
		return
	}
	if !subnet.IsValid() {
		return
	}
	host := subnet.Addr()
	switch {
	case !subnet.Contains(g):
		v.bad(FieldGateway, g.String(), fmt.Sprintf("is outside the device's network %s: the gateway must be on the same network (e.g. %s), or check the mask", subnet.Masked(), suggestGateway(subnet)))
	case g == host:
		v.bad(FieldGateway, g.String(), "is the device's own address: give the router's address")
	case subnet.Bits() <= 30:
		network, broadcast := subnetBounds(subnet)
		if g == network || g == broadcast {
			what := "network"
			if g == broadcast {
				what = "broadcast"
			}
			v.bad(FieldGateway, g.String(), fmt.Sprintf("this is the %s address of %s, not a router: pick an address between %s", what, subnet.Masked(), hostRange(subnet)))
		}
	}
}

// dns checks the DNS servers; subnet is the device's network in static mode (or invalid).
func (v *validation) dns(servers []netip.Addr, subnet netip.Prefix, static bool) {
	if len(servers) > MaxDNSServers {
		v.bad(FieldDNS, joinAddrs(servers), fmt.Sprintf("%d DNS servers given, a Smart X takes one to %d: keep the site's primary and secondary", len(servers), MaxDNSServers))
	}
	seen := make(map[netip.Addr]bool, len(servers))
	for _, s := range servers {
		switch {
		case !s.IsValid():
			v.bad(FieldDNS, "", "an empty DNS server address: give IPv4 addresses such as 192.168.10.1")
			continue
		case !s.Is4():
			v.bad(FieldDNS, s.String(), ipv6Problem)
			continue
		case seen[s]:
			v.bad(FieldDNS, s.String(), "listed twice: give each DNS server once")
			continue
		}
		seen[s] = true
		if problem := specialAddrProblem(s, "a DNS server"); problem != "" {
			v.bad(FieldDNS, s.String(), problem)
			continue
		}
		if !static || !subnet.IsValid() {
			continue
		}
		if s == subnet.Addr() {
			v.bad(FieldDNS, s.String(), "is the device's own address, which runs no DNS server: give the site's DNS server")
			continue
		}
		if subnet.Bits() <= 30 {
			network, broadcast := subnetBounds(subnet)
			if s == network || s == broadcast {
				v.bad(FieldDNS, s.String(), fmt.Sprintf("is the network or broadcast address of %s, not a server", subnet.Masked()))
			}
		}
	}
}

// subnetBounds returns the network and broadcast addresses of an IPv4 prefix.
func subnetBounds(p netip.Prefix) (network, broadcast netip.Addr) {
	mask := ^uint32(0) << (32 - p.Bits())
	if p.Bits() == 0 {
		mask = 0
	}
	n := ipv4Uint(p.Addr()) & mask
	return uintIPv4(n), uintIPv4(n | ^mask)
}

// hostRange describes the usable host addresses of a prefix up to /30: ".1 and .254" when only
// the last byte varies, full addresses otherwise.
func hostRange(p netip.Prefix) string {
	network, broadcast := subnetBounds(p)
	first, last := uintIPv4(ipv4Uint(network)+1), uintIPv4(ipv4Uint(broadcast)-1)
	if p.Bits() >= 24 {
		return fmt.Sprintf(".%d and .%d", first.As4()[3], last.As4()[3])
	}
	return fmt.Sprintf("%s and %s", first, last)
}

// suggestGateway proposes the first host of the subnet, the usual router address.
func suggestGateway(p netip.Prefix) netip.Addr {
	network, _ := subnetBounds(p)
	if p.Bits() >= 31 {
		return network
	}
	return uintIPv4(ipv4Uint(network) + 1)
}

func ipv4Uint(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func uintIPv4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

func joinAddrs(addrs []netip.Addr) string {
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = a.String()
	}
	return strings.Join(parts, ",")
}

// ParseAddressMask parses the device's static address as the installer types it: either ip
// holds the prefix length (192.168.10.50/24) and mask is empty, or ip is a bare address and
// mask a dotted mask (255.255.255.0) or a prefix length (24 or /24). A non-contiguous mask
// such as 255.0.255.0 is an error. The result still needs Validate (network address,
// gateway...). Errors are *FieldError.
func ParseAddressMask(ip, mask string) (netip.Prefix, error) {
	ip, mask = strings.TrimSpace(ip), strings.TrimSpace(mask)
	if ip == "" {
		return netip.Prefix{}, &FieldError{Field: FieldIP, Problem: "empty: give the address and the mask, e.g. 192.168.10.50/24"}
	}
	if strings.Contains(ip, "/") {
		if mask != "" {
			return netip.Prefix{}, &FieldError{Field: FieldNetmask, Value: mask, Problem: "the address already has a prefix length: give the mask once, either " + ip + " or --netmask"}
		}
		p, err := netip.ParsePrefix(ip)
		if err != nil {
			return netip.Prefix{}, &FieldError{Field: FieldIP, Value: ip, Problem: "is not an IPv4 address with a prefix length: write it like 192.168.10.50/24"}
		}
		if !p.Addr().Is4() {
			return netip.Prefix{}, &FieldError{Field: FieldIP, Value: ip, Problem: ipv6Hint(p.Addr())}
		}
		return p, nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Prefix{}, &FieldError{Field: FieldIP, Value: ip, Problem: "is not an IPv4 address: write it like 192.168.10.50/24"}
	}
	if !a.Is4() {
		return netip.Prefix{}, &FieldError{Field: FieldIP, Value: ip, Problem: ipv6Hint(a)}
	}
	if mask == "" {
		return netip.Prefix{}, &FieldError{Field: FieldIP, Value: ip, Problem: fmt.Sprintf("needs a mask: write %s/24 or give --netmask 255.255.255.0 (the site's mask)", ip)}
	}
	n, err := parseMask(mask)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, n), nil
}

// ipv6Hint explains the IPv6 refusal, telling how to write an IPv4-mapped address plainly.
func ipv6Hint(a netip.Addr) string {
	if a.Is4In6() {
		return fmt.Sprintf("an IPv4-mapped IPv6 address: write it as plain IPv4, %s", a.Unmap())
	}
	return ipv6Problem
}

// parseMask reads a dotted IPv4 mask or a prefix length and returns the prefix length.
func parseMask(mask string) (int, error) {
	if digits := strings.TrimPrefix(mask, "/"); digits != "" && strings.Trim(digits, "0123456789") == "" {
		n, err := strconv.Atoi(digits)
		if err != nil || n > 32 || len(digits) > 2 {
			return 0, &FieldError{Field: FieldNetmask, Value: mask, Problem: "a prefix length must be between 0 and 32, e.g. 24 for 255.255.255.0"}
		}
		return n, nil
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		return 0, &FieldError{Field: FieldNetmask, Value: mask, Problem: "is not a mask: write it like 255.255.255.0 or /24"}
	}
	u := ipv4Uint(m)
	ones := bits.LeadingZeros32(^u)
	if ones < 32 && u<<ones != 0 {
		return 0, &FieldError{Field: FieldNetmask, Value: mask, Problem: "is not a valid mask: its one bits must be contiguous from the left, e.g. 255.255.255.0 (/24) or 255.255.0.0 (/16)"}
	}
	return ones, nil
}

// checkProxyURL accepts http:// and https:// proxy URLs with a host, an explicit port and an
// optional user:password, and nothing else (no path, query or fragment).
func checkProxyURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return errors.New("is not a URL: write it like http://proxy.example:3128")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must start with http:// or https://, e.g. http://proxy.example:3128")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("has no host: write it like http://proxy.example:3128")
	}
	if a, err := netip.ParseAddr(host); err == nil && !a.Is4() {
		return errors.New(ipv6Problem)
	} else if err != nil && !validHostname(host) {
		return fmt.Errorf("host %q is not a valid host name", host)
	}
	if u.Port() == "" {
		return errors.New("needs an explicit port, e.g. http://proxy.example:3128 (ask the site's IT for it)")
	}
	if err := checkPort(u.Port()); err != nil {
		return err
	}
	if u.User != nil && u.User.Username() == "" {
		return errors.New("has a password without a user name: write http://user:password@proxy.example:3128")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return errors.New("must not have a path, query or fragment: write only scheme, host and port")
	}
	return nil
}

// checkHostPort accepts a host name or IPv4 address with an optional port (an NTP server).
func checkHostPort(s string) error {
	if strings.Contains(s, "://") {
		return errors.New("give a host name or address, not a URL, e.g. pool.ntp.org or 192.168.10.1:123")
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if err := checkPort(port); err != nil {
			return err
		}
		host = h
	} else if strings.HasPrefix(s, "[") || strings.Count(s, ":") > 1 {
		return errors.New(ipv6Problem)
	}
	if host == "" {
		return errors.New("has no host: write a host name or address, e.g. pool.ntp.org")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return errors.New(ipv6Problem)
		}
		if problem := specialAddrProblem(a, "an NTP server"); problem != "" {
			return errors.New(problem)
		}
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("%q is not a valid host name: use letters, digits, hyphens and dots, e.g. pool.ntp.org", host)
	}
	return nil
}

func checkPort(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q must be a number between 1 and 65535", s)
	}
	return nil
}

// validHostname accepts DNS names made of letters, digits, hyphens and underscores (seen in
// real site networks) in labels of 1 to 63 bytes, 253 bytes at most. An all-numeric name that
// is not a valid address (999.1.1.1) is refused: it is a mistyped address.
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	numeric := true
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
				numeric = false
			default:
				return false
			}
		}
	}
	return !numeric
}

// redactURL hides the password of a URL-like setting so an error message can be shown and
// logged.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "redacted@" + s[i+1:]
	}
	return s
}
