package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/smart-impulse/smartx/internal/errtext"
)

// dnsFailure is why a lookup failed, as told apart for the installer.
type dnsFailure int

const (
	dnsOther dnsFailure = iota
	dnsNXDomain
	dnsNoData
	dnsServFail
	dnsRefused
	dnsTimeout
	dnsUnreachable
)

// classifyDNSFailure combines the resolver's error with the response codes
// seen on the wire (when Go's resolver ran) to name the failure.
func classifyDNSFailure(err error, rcodes []dnsmessage.RCode) dnsFailure {
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		if classifyNetError(err) == failTimeout {
			return dnsTimeout
		}
		return dnsOther
	}
	seen := func(c dnsmessage.RCode) bool { return slices.Contains(rcodes, c) }
	switch {
	case dnsErr.IsNotFound && (seen(dnsmessage.RCodeNameError) || len(rcodes) == 0):
		return dnsNXDomain
	case dnsErr.IsNotFound:
		return dnsNoData
	case seen(dnsmessage.RCodeRefused):
		return dnsRefused
	case seen(dnsmessage.RCodeServerFailure):
		return dnsServFail
	case dnsErr.IsTimeout:
		return dnsTimeout
	case strings.Contains(dnsErr.Err, "connection refused"):
		return dnsUnreachable
	case dnsErr.Err == "server misbehaving" && dnsErr.IsTemporary:
		// Without the wire view, Go reports SERVFAIL as a temporary
		// "server misbehaving" and other error codes as a permanent one.
		return dnsServFail
	case dnsErr.Err == "server misbehaving":
		return dnsRefused
	}
	return dnsOther
}

// checkDNS resolves the platform's name the way the device will and
// compares the answer with the address the firewall rules use.
func checkDNS(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	if _, err := netip.ParseAddr(cfg.Host); err == nil {
		r.Status = StatusSkip
		r.Reason = "host is an IP address: nothing to resolve"
		r.Summary = r.Reason
		return r
	}
	obs := &dnsObservation{}
	resolver := newResolver(cfg.DNSServer, obs, cfg.DialUDP)
	start := time.Now()
	addrs, err := lookupWith(ctx, resolver, cfg.Host)
	elapsed := time.Since(start)
	servers, rcodes, laptopErr := obs.snapshot()

	resolverDesc := "system resolver"
	switch {
	case cfg.DNSServer != "":
		host, port, _ := splitHostPortDefault(cfg.DNSServer, dnsDefaultPort)
		resolverDesc = net.JoinHostPort(host, strconv.Itoa(port))
	case len(servers) > 0:
		resolverDesc = "system resolver (" + strings.Join(servers, ", ") + ")"
	}
	r.setEvidence("resolver", resolverDesc)
	r.setMetric("lookup_ms", ms(elapsed))
	if len(rcodes) > 0 {
		var names []string
		for _, c := range rcodes {
			names = append(names, rcodeName(c))
		}
		slices.Sort(names)
		r.setEvidence("rcodes", strings.Join(slices.Compact(names), ", "))
	}

	// No server ever answered and this laptop itself refused to send:
	// nothing is known about the site's DNS.
	if err != nil && len(rcodes) == 0 && laptopFault(&r, laptopErr, "DNS queries to "+resolverDesc) {
		return r
	}
	if err != nil {
		r.Status = StatusFail
		r.setEvidence("error", errtext.Of(err))
		dnsRule := Flow{Protocol: "UDP and TCP", Destination: dnsRuleDestination(cfg), Port: dnsRulePort(cfg)}.Rule()
		switch classifyDNSFailure(err, rcodes) {
		case dnsNXDomain:
			r.Summary = fmt.Sprintf("%s does not exist according to %s (NXDOMAIN)", cfg.Host, resolverDesc)
			r.Hint = "the site's DNS filters this name or does not forward it: ask IT to let " + cfg.Host + " resolve"
		case dnsNoData:
			r.Summary = fmt.Sprintf("%s has no address record according to %s (empty answer)", cfg.Host, resolverDesc)
			r.Hint = "the site's DNS returns an empty answer for " + cfg.Host + ": ask IT to check DNS filtering"
		case dnsServFail:
			r.Summary = fmt.Sprintf("%s failed to resolve %s (SERVFAIL)", resolverDesc, cfg.Host)
			r.Hint = "the site's DNS server cannot get an answer upstream (forwarding blocked or broken): ask IT to check it"
		case dnsRefused:
			r.Summary = fmt.Sprintf("%s refused to resolve %s (REFUSED)", resolverDesc, cfg.Host)
			r.Hint = "this DNS server does not serve this network: use the DNS servers IT gives for the device"
		case dnsTimeout:
			r.Summary = fmt.Sprintf("no answer from %s within %s", resolverDesc, cfg.Timeout)
			r.Hint = "DNS traffic to this server is blocked or the server is wrong: ask IT for the device's DNS servers and the rule below"
			r.Rule = dnsRule
		case dnsUnreachable:
			r.Summary = fmt.Sprintf("%s rejected the query (nothing answers on port %d)", resolverDesc, dnsRulePort(cfg))
			r.Hint = "this address runs no DNS service or a firewall rejects it: ask IT for the device's DNS servers"
			r.Rule = dnsRule
		default:
			r.Summary = fmt.Sprintf("cannot resolve %s through %s: %s", cfg.Host, resolverDesc, dnsErrorText(err))
			r.Hint = "ask IT to check the site's DNS for " + cfg.Host
		}
		return r
	}

	var shown []string
	for _, a := range addrs {
		shown = append(shown, a.String())
	}
	r.setEvidence("addresses", strings.Join(shown, ", "))
	r.setMetric("address_count", float64(len(addrs)))
	r.Summary = fmt.Sprintf("%s -> %s in %s", cfg.Host, strings.Join(shown, ", "), roundDuration(elapsed))
	r.Status = StatusOK
	if cfg.DNSServer != "" && len(servers) == 0 {
		// Go's resolver reads the hosts file before any DNS server, and the answer came from
		// there: the server the device will use was never asked, so nothing is known of it.
		r.setEvidence("answered_by", "hosts file")
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("%s -> %s from this laptop's hosts file: %s was not asked", cfg.Host, strings.Join(shown, ", "), resolverDesc)
		r.Hint = fmt.Sprintf("the device has no hosts file: remove %s from this laptop's hosts file to test the DNS server, or ask IT whether it resolves %s", cfg.Host, cfg.Host)
		return r
	}
	if cfg.ExpectIP != "" {
		want, _ := netip.ParseAddr(cfg.ExpectIP)
		r.setEvidence("expected", want.String())
		if !slices.Contains(addrs, want.Unmap()) {
			r.Status = StatusWarn
			r.Summary += " (expected " + want.String() + ")"
			r.Hint = "DNS gives another address than the firewall rules use: split-horizon DNS, a DNS hijack, or out-of-date IP rules; ask IT which is right"
		}
	}
	return r
}

// dnsRuleDestination is the DNS server rules talk about.
func dnsRuleDestination(cfg Config) string {
	if cfg.DNSServer == "" {
		return "the site's DNS servers"
	}
	host, _, _ := splitHostPortDefault(cfg.DNSServer, dnsDefaultPort)
	return host
}

func dnsRulePort(cfg Config) int {
	if cfg.DNSServer == "" {
		return dnsDefaultPort
	}
	_, port, _ := splitHostPortDefault(cfg.DNSServer, dnsDefaultPort)
	return port
}

// rcodeName is the conventional name of a DNS response code.
func rcodeName(c dnsmessage.RCode) string {
	switch c {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return "RCODE" + strconv.Itoa(int(c))
}

// roundDuration keeps summaries readable: 12ms, 1.2s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(time.Microsecond)
	}
}
