package preflight

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// tcpAttempt is one TCP connect: by name or by IP.
type tcpAttempt struct {
	addr    netip.Addr // address connected to (by name: the resolved one)
	elapsed time.Duration
	err     error
}

func checkTCPHTTPS(ctx context.Context, env *probeEnv) Result {
	return checkTCPPort(ctx, env, env.cfg.HTTPSPort)
}

func checkTCPHTTP(ctx context.Context, env *probeEnv) Result {
	return checkTCPPort(ctx, env, env.cfg.HTTPPort)
}

// checkTCPPort connects to the platform by name and, when expect-ip is set,
// by IP, at the same time. Comparing the two tells a DNS fault (by IP works,
// by name does not) from a firewall fault (neither works).
func checkTCPPort(ctx context.Context, env *probeEnv, port int) Result {
	cfg := env.cfg
	var r Result
	rule := platformRule(cfg, port)
	hostIP, _ := addressAndName(cfg.Host)
	hostIsLiteral := hostIP != ""
	byIPWanted := cfg.ExpectIP != "" && !hostIsLiteral

	var byName, byIP tcpAttempt
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		conn, addr, err := env.dialHost(ctx, cfg.Host, port)
		byName = tcpAttempt{addr: addr, elapsed: time.Since(start), err: err}
		if conn != nil {
			conn.Close()
		}
	})
	if byIPWanted {
		wg.Go(func() {
			ip, _ := netip.ParseAddr(cfg.ExpectIP)
			start := time.Now()
			conn, err := env.dialAddr(ctx, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
			byIP = tcpAttempt{addr: ip, elapsed: time.Since(start), err: err}
			if conn != nil {
				conn.Close()
			}
		})
	}
	wg.Wait()

	nameTarget := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	ipTarget := net.JoinHostPort(cfg.ExpectIP, strconv.Itoa(port))
	if byName.err == nil {
		r.setMetric("connect_by_name_ms", ms(byName.elapsed))
		r.setEvidence("by_name", "connected to "+byName.addr.String())
	} else {
		s, _ := connectFailure(byName.err, nameTarget)
		r.setEvidence("by_name", s)
	}
	if byIPWanted {
		if byIP.err == nil {
			r.setMetric("connect_by_ip_ms", ms(byIP.elapsed))
			r.setEvidence("by_ip", "connected to "+byIP.addr.String())
		} else {
			s, _ := connectFailure(byIP.err, ipTarget)
			r.setEvidence("by_ip", s)
		}
	}

	// A fault of this laptop makes the comparison meaningless: say so first.
	if laptopFault(&r, byName.err, "the connection to "+nameTarget) || (byIPWanted && laptopFault(&r, byIP.err, "the connection to "+ipTarget)) {
		return r
	}
	nameDNSFault := byName.err != nil && classifyNetError(byName.err) == failNameNotResolved
	switch {
	case !byIPWanted && byName.err == nil:
		r.Status = StatusOK
		what := "connected to " + nameTarget
		if !hostIsLiteral {
			what += " (" + byName.addr.String() + ")"
		}
		r.Summary = fmt.Sprintf("%s in %s", what, roundDuration(byName.elapsed))
	case !byIPWanted:
		r.Status = StatusFail
		r.Summary, r.Hint = connectFailure(byName.err, nameTarget)
		if !nameDNSFault {
			r.Rule = rule
		}
	case byName.err == nil && byIP.err == nil:
		r.Status = StatusOK
		r.Summary = fmt.Sprintf("connected to %s (%s) in %s and to %s in %s", nameTarget, byName.addr,
			roundDuration(byName.elapsed), ipTarget, roundDuration(byIP.elapsed))
	case byName.err == nil:
		failure, _ := connectFailure(byIP.err, ipTarget)
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("connected to %s (%s), but %s", nameTarget, byName.addr, failure)
		r.Hint = fmt.Sprintf("the platform answers at %s, not at the IP the firewall rules use (%s): rules written by IP may be out of date", byName.addr, cfg.ExpectIP)
		r.Rule = Flow{Protocol: "TCP", Destination: byName.addr.String(), FQDN: cfg.Host, Port: port}.Rule()
	case byIP.err == nil && nameDNSFault:
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("connected to %s in %s, but %s does not resolve (%s)", ipTarget,
			roundDuration(byIP.elapsed), cfg.Host, dnsErrorText(byName.err))
		r.Hint = "the firewall lets the platform through; the problem is DNS: see the dns check"
	case byIP.err == nil:
		failure, _ := connectFailure(byName.err, nameTarget)
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("connected to %s, but by name %s", ipTarget, failure)
		if byName.addr.IsValid() {
			r.Summary += " (" + byName.addr.String() + ")"
		}
		r.Hint = "DNS sends the device to an address that is blocked (split-horizon DNS or hijack): see the dns check"
	default:
		r.Status = StatusFail
		r.Summary, r.Hint = connectFailure(byIP.err, ipTarget)
		if nameDNSFault {
			r.Summary += "; " + cfg.Host + " does not resolve either"
		}
		r.Rule = rule
	}
	return r
}
