package preflight

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/smart-impulse/smartx/internal/errtext"
)

// unknown is shown for facts this OS does not let us read.
const unknown = "unknown"

// proxyEnvNames are the proxy variables most tools honour, both cases.
var proxyEnvNames = [...]string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"}

// gatherLocalNetwork collects what this laptop looks like toward the
// platform. Nothing here sends a packet to the Internet: the source address
// comes from a UDP "connect", which only asks the OS for a route.
func gatherLocalNetwork(ctx context.Context, env *probeEnv) LocalNetwork {
	cfg := env.cfg
	facts := LocalNetwork{Interface: unknown, SourceIP: unknown, Gateway: unknown}

	target := cfg.ExpectIP
	if target == "" {
		if addrs, err := env.lookup(ctx, cfg.Host); err == nil && len(addrs) > 0 {
			target = addrs[0].String()
		}
	}
	if target != "" {
		if src, err := sourceAddrToward(ctx, target, cfg.HTTPSPort); err == nil {
			facts.SourceIP = src.String()
			if name := interfaceWithAddr(src); name != "" {
				facts.Interface = name
			}
		} else {
			// A UDP connect sends nothing: no source address is the laptop's doing.
			facts.sourceErr, facts.sourceTarget = onLaptop(err), target
		}
	}
	if route, err := defaultGateway(cfg.RouteTablePath); err != nil {
		facts.GatewayError = errtext.Of(err)
	} else {
		facts.Gateway = route.Gateway.String()
		if facts.Interface == unknown && route.Iface != "" {
			facts.Interface = route.Iface
		}
	}
	if cfg.DNSServer != "" {
		host, port, _ := splitHostPortDefault(cfg.DNSServer, dnsDefaultPort)
		facts.Resolvers = []string{net.JoinHostPort(host, strconv.Itoa(port))}
		facts.ResolverSource = "dns-server"
	} else {
		facts.Resolvers, facts.ResolverSource = systemResolvers(cfg.ResolvConfPath)
	}
	for _, name := range proxyEnvNames {
		if v := cfg.Getenv(name); v != "" {
			if facts.ProxyEnv == nil {
				facts.ProxyEnv = make(map[string]string)
			}
			facts.ProxyEnv[name] = redactURL(v)
		}
	}
	return facts
}

// sourceAddrToward asks the OS which local address it would use toward
// target. Connecting a UDP socket sends nothing.
func sourceAddrToward(ctx context.Context, target string, port int) (netip.Addr, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", net.JoinHostPort(target, strconv.Itoa(port)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer conn.Close()
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

// interfaceWithAddr returns the name of the interface holding addr.
func interfaceWithAddr(addr netip.Addr) string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == addr {
				return ifc.Name
			}
		}
	}
	return ""
}

// checkLocalNetwork reports the local facts gathered by the runner.
func checkLocalNetwork(ctx context.Context, env *probeEnv) Result {
	var r Result
	select {
	case <-env.local:
	case <-ctx.Done():
		r.Status = StatusError
		r.Reason = "could not read the local network settings in time"
		r.Summary = r.Reason
		r.Hint = "check this laptop is connected to the site's network and run again"
		return r
	}
	f := env.localFacts
	r.setEvidence("interface", f.Interface)
	r.setEvidence("source_ip", f.SourceIP)
	r.setEvidence("gateway", f.Gateway)
	r.setEvidence("gateway_error", f.GatewayError)
	r.setEvidence("resolvers", strings.Join(f.Resolvers, ", "))
	r.setEvidence("resolver_source", f.ResolverSource)
	for k, v := range f.ProxyEnv {
		r.setEvidence("env_"+k, v)
	}
	if f.sourceErr != nil && laptopFault(&r, f.sourceErr, "traffic to "+f.sourceTarget) {
		return r
	}
	if f.SourceIP == unknown && f.Gateway == unknown && len(f.Resolvers) == 0 {
		r.Status = StatusError
		r.Reason = "no source address, gateway or resolver could be determined"
		r.Summary = r.Reason
		r.Hint = "check this laptop is connected to the site's network (cable or Wi-Fi) and run again"
		return r
	}
	r.Status = StatusOK
	resolvers := "system resolver"
	if len(f.Resolvers) > 0 {
		resolvers = strings.Join(f.Resolvers, ", ")
	}
	gateway := f.Gateway
	if f.GatewayError != "" {
		gateway += " (" + f.GatewayError + ")"
	}
	r.Summary = "from " + f.SourceIP + " on " + f.Interface + ", gateway " + gateway + ", DNS " + resolvers
	if len(f.ProxyEnv) > 0 {
		r.Note = "this laptop has proxy variables set; the checks ignore them"
	}
	return r
}

// defaultRoute is an IPv4 default route: where it goes, through which
// interface, at what cost.
type defaultRoute struct {
	Gateway netip.Addr
	Iface   string
	// Metric is what the OS compares (on Windows the route's metric plus
	// its interface's).
	Metric uint64
}

// errNoDefaultRoute is defaultGateway's error when the routing table has no
// IPv4 default route through a gateway.
var errNoDefaultRoute = errors.New("no IPv4 default route")

// pickDefaultRoute returns the route the OS uses for the Internet: among
// default routes through a gateway, the lowest metric (the first of equals).
func pickDefaultRoute(routes []defaultRoute) (defaultRoute, error) {
	best := -1
	for i, r := range routes {
		if !r.Gateway.Is4() || r.Gateway.IsUnspecified() {
			continue
		}
		if best < 0 || r.Metric < routes[best].Metric {
			best = i
		}
	}
	if best < 0 {
		return defaultRoute{}, errNoDefaultRoute
	}
	return routes[best], nil
}

// parseRouteTable reads the Linux /proc/net/route format and returns the
// default route's gateway and interface (lowest metric wins). The gateway
// column is the address in network byte order printed as a host-endian
// number, hence the NativeEndian round trip.
func parseRouteTable(data []byte) (gateway netip.Addr, iface string, ok bool) {
	const rtfUp, rtfGateway = 0x1, 0x2
	var routes []defaultRoute
	sc := bufio.NewScanner(bytes.NewReader(data))
	first := true
	for sc.Scan() {
		if first { // header line
			first = false
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[1] != "00000000" || fields[7] != "00000000" {
			continue
		}
		flags, err1 := strconv.ParseUint(fields[3], 16, 32)
		gw, err2 := strconv.ParseUint(fields[2], 16, 32)
		metric, err3 := strconv.ParseUint(fields[6], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil || flags&(rtfUp|rtfGateway) != rtfUp|rtfGateway {
			continue
		}
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], uint32(gw))
		routes = append(routes, defaultRoute{Gateway: netip.AddrFrom4(b), Iface: fields[0], Metric: metric})
	}
	route, err := pickDefaultRoute(routes)
	return route.Gateway, route.Iface, err == nil
}

// parseResolvConf returns the nameserver entries of a resolv.conf.
func parseResolvConf(data []byte) []string {
	var servers []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			servers = append(servers, fields[1])
		}
	}
	return servers
}
