package preflight

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Flow is one network flow the device needs, as IT writes it in a firewall:
// protocol, destination (IP when known, FQDN), port and purpose. Profile is
// "current" for flows every device needs and "legacy" for those only Smart X
// delivered before September 2024 need.
type Flow struct {
	// Protocol is "TCP", "UDP", "UDP and TCP" or "ICMP".
	Protocol string `json:"protocol"`
	// Destination is the IP address (or description) when known.
	Destination string `json:"destination,omitempty"`
	// FQDN is the destination's name when it has one.
	FQDN string `json:"fqdn,omitempty"`
	// Port is the destination port (0 for ICMP).
	Port int `json:"port,omitempty"`
	// Purpose says why the device needs the flow.
	Purpose string `json:"purpose"`
	// Profile is "current" or "legacy".
	Profile string `json:"profile"`
}

// deviceSource names the source of every rule: IT fills in the device's
// address on the network-parameters form.
const deviceSource = "<device>"

// Rule returns the flow as the firewall rule to ask IT for, e.g.
// "allow TCP from <device> to 178.33.106.9 (smartx.smart-impulse.com) port 443".
func (f Flow) Rule() string {
	var dest string
	switch {
	case f.Destination != "" && f.FQDN != "":
		dest = f.Destination + " (" + f.FQDN + ")"
	case f.Destination != "":
		dest = f.Destination
	default:
		dest = f.FQDN
	}
	rule := "allow " + f.Protocol + " from " + deviceSource + " to " + dest
	switch {
	case f.Protocol == "ICMP":
		rule += " (echo request and reply)"
	case f.Port > 0:
		rule += " port " + strconv.Itoa(f.Port)
	}
	return rule
}

// addressAndName splits a configured target into an IP and an FQDN, so a
// rule names both when both are known.
func addressAndName(target string) (ip, fqdn string) {
	if _, err := netip.ParseAddr(target); err == nil {
		return target, ""
	}
	return "", target
}

// Rules lists the flows the device needs for the configured profile, from
// the vendor's public statement: ICMP echo to the ping target, TCP 443 to
// the platform (HTTPS, TLS 1.2), TCP 80 for legacy devices, UDP 123 to the
// NTP server and DNS to the site's resolvers. With a proxy the platform
// flows go to the proxy instead. It does no I/O.
func Rules(cfg Config) []Flow {
	profile := cfg.Profile
	legacy := profile == ProfileLegacy || profile == ProfileAll
	var flows []Flow

	dnsDest, dnsPort := "the site's DNS servers", dnsDefaultPort
	if cfg.DNSServer != "" {
		if h, p, err := splitHostPortDefault(cfg.DNSServer, dnsDefaultPort); err == nil {
			dnsDest, dnsPort = h, p
		}
	}
	flows = append(flows, Flow{Protocol: "UDP and TCP", Destination: dnsDest, Port: dnsPort,
		Purpose: "name resolution (DNS) through the site's DNS servers", Profile: string(ProfileCurrent)})

	pingIP, pingName := addressAndName(cfg.PingTarget)
	flows = append(flows, Flow{Protocol: "ICMP", Destination: pingIP, FQDN: pingName,
		Purpose: "connectivity check (ping)", Profile: string(ProfileCurrent)})

	if cfg.Proxy != "" {
		if p, err := parseProxyURL(cfg.Proxy); err == nil {
			ip, name := addressAndName(p.Host)
			flows = append(flows, Flow{Protocol: "TCP", Destination: ip, FQDN: name, Port: p.Port,
				Purpose: fmt.Sprintf("platform API through the site proxy (CONNECT %s:%d, TLS 1.2 inside)", cfg.Host, cfg.HTTPSPort),
				Profile: string(ProfileCurrent)})
		}
	} else {
		platformIP, platformName := cfg.ExpectIP, cfg.Host
		if ip, _ := addressAndName(cfg.Host); ip != "" {
			platformIP, platformName = ip, ""
		}
		flows = append(flows, Flow{Protocol: "TCP", Destination: platformIP, FQDN: platformName, Port: cfg.HTTPSPort,
			Purpose: "platform API over HTTPS (TLS 1.2)", Profile: string(ProfileCurrent)})
		if legacy {
			flows = append(flows, Flow{Protocol: "TCP", Destination: platformIP, FQDN: platformName, Port: cfg.HTTPPort,
				Purpose: "platform API over HTTP (Smart X delivered before September 2024)", Profile: string(ProfileLegacy)})
		}
	}

	ntpHost, ntpPort := cfg.NTPServer, ntpDefaultPort
	if h, p, err := splitHostPortDefault(cfg.NTPServer, ntpDefaultPort); err == nil {
		ntpHost, ntpPort = h, p
	}
	ntpIP, ntpName := addressAndName(ntpHost)
	flows = append(flows, Flow{Protocol: "UDP", Destination: ntpIP, FQDN: ntpName, Port: ntpPort,
		Purpose: "time synchronisation (NTP)", Profile: string(ProfileCurrent)})
	return flows
}

// platformRule is the rule for TCP to the platform on a port.
func platformRule(cfg Config, port int) string {
	ip, name := cfg.ExpectIP, cfg.Host
	if lit, _ := addressAndName(cfg.Host); lit != "" {
		ip, name = lit, ""
	}
	return Flow{Protocol: "TCP", Destination: ip, FQDN: name, Port: port}.Rule()
}
