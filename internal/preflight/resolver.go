package preflight

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsObservation collects what the resolver saw on the wire: the servers it
// asked and the response codes they answered. It is filled only when Go's
// own resolver runs (always with --dns-server; on unix with the system
// resolver too), which lets the dns check tell SERVFAIL from REFUSED.
type dnsObservation struct {
	mu      sync.Mutex
	servers []string
	rcodes  []dnsmessage.RCode
	// laptopErr is the first error this laptop raised itself while
	// querying (opening or sending on a socket), if any.
	laptopErr error
}

// addLaptopErr records err when it is a fault of this laptop.
func (o *dnsObservation) addLaptopErr(err error) {
	if !classifyNetError(err).onLaptop() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.laptopErr == nil {
		o.laptopErr = err
	}
}

func (o *dnsObservation) addServer(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.Contains(o.servers, s) {
		o.servers = append(o.servers, s)
	}
}

func (o *dnsObservation) addRCode(c dnsmessage.RCode) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rcodes = append(o.rcodes, c)
}

// snapshot returns copies of what was observed.
func (o *dnsObservation) snapshot() (servers []string, rcodes []dnsmessage.RCode, laptopErr error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.servers), slices.Clone(o.rcodes), o.laptopErr
}

// newResolver builds the resolver every check uses: Go's resolver talking to
// dnsServer when it is set (whatever /etc/resolv.conf says), else the
// system's. obs, when not nil, records servers and response codes.
func newResolver(dnsServer string, obs *dnsObservation, dialUDP DialFunc) *net.Resolver {
	if dnsServer == "" && obs == nil {
		return &net.Resolver{}
	}
	server := ""
	if dnsServer != "" {
		if host, port, err := splitHostPortDefault(dnsServer, dnsDefaultPort); err == nil {
			server = net.JoinHostPort(host, strconv.Itoa(port))
		}
	}
	var dialer net.Dialer
	if dialUDP == nil {
		dialUDP = dialer.DialContext
	}
	return &net.Resolver{
		PreferGo: server != "",
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			if server != "" {
				address = server
			}
			var conn net.Conn
			var err error
			if network == "udp" {
				// A UDP connect sends nothing: its failure is the laptop's.
				conn, err = dialUDP(ctx, network, address)
				err = onLaptop(err)
			} else {
				conn, err = dialer.DialContext(ctx, network, address)
			}
			if obs == nil {
				return conn, err
			}
			if err != nil {
				obs.addLaptopErr(err)
				return nil, err
			}
			obs.addServer(address)
			if udp, ok := conn.(*net.UDPConn); ok {
				return &rcodeSniffingConn{UDPConn: udp, obs: obs}, nil
			}
			return conn, nil
		},
	}
}

// rcodeSniffingConn records the response code of every DNS reply read, and
// send errors, which on a fresh UDP socket are the laptop's own. It embeds
// *net.UDPConn so it stays a net.PacketConn, which tells Go's resolver to use
// datagram framing.
type rcodeSniffingConn struct {
	*net.UDPConn
	obs *dnsObservation
}

// Read reads one DNS datagram and records its RCODE (low 4 bits of byte 3)
// when the QR bit says it is a response.
func (c *rcodeSniffingConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	if n >= 4 && b[2]&0x80 != 0 {
		c.obs.addRCode(dnsmessage.RCode(b[3] & 0x0f))
	}
	return n, err
}

// Write sends one query. Go's resolver writes once per socket, before any
// reply could have queued an ICMP error, so a failure here is the laptop's.
func (c *rcodeSniffingConn) Write(b []byte) (int, error) {
	n, err := c.UDPConn.Write(b)
	if err != nil {
		err = onLaptop(err)
		c.obs.addLaptopErr(err)
	}
	return n, err
}

// lookup resolves host through the run's resolver and returns its addresses,
// IPv4 first (the device is IPv4), without duplicates. An IP literal is
// returned as is.
func (e *probeEnv) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return lookupWith(ctx, e.resolver, host)
}

func lookupWith(ctx context.Context, r *net.Resolver, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b netip.Addr) int {
		switch {
		case a.Is4() && !b.Is4():
			return -1
		case !a.Is4() && b.Is4():
			return 1
		}
		return 0
	})
	return out, nil
}

// dialAddr opens a TCP connection to an already resolved address. An
// "unreachable" error is checked against this laptop's routing table, so a
// missing route is reported as the laptop's fault, not the network's.
func (e *probeEnv) dialAddr(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	var conn net.Conn
	var err error
	if e.cfg.Dial != nil {
		conn, err = e.cfg.Dial(ctx, "tcp", ap.String())
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", ap.String())
	}
	if err != nil {
		err = e.attributeUnreachable(ctx, err, ap)
	}
	return conn, err
}

// attributeUnreachable tells who raised a "network/host unreachable": the
// same errno comes from this laptop when it has no route, and from a router
// that sent back an ICMP error. Asking the routing table (which sends
// nothing) tells them apart.
func (e *probeEnv) attributeUnreachable(ctx context.Context, err error, ap netip.AddrPort) error {
	switch classifyNetError(err) {
	case failNetUnreachable, failHostUnreachable:
	default:
		return err
	}
	probe := e.cfg.RouteProbe
	if probe == nil {
		probe = udpRouteProbe
	}
	if probe(ctx, ap) != nil {
		return onLaptop(err)
	}
	return err
}

// udpRouteProbe asks the OS for a route toward ap: connecting a UDP socket
// picks a route and a source address and sends no packet.
func udpRouteProbe(ctx context.Context, ap netip.AddrPort) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", ap.String())
	if err != nil {
		return err
	}
	return conn.Close()
}

// dialHost resolves host and connects to the first address that accepts,
// returning the address used (on failure, the first address tried). A
// resolution failure is returned as is (a *net.DNSError), so callers can
// tell it from a connect failure.
func (e *probeEnv) dialHost(ctx context.Context, host string, port int) (net.Conn, netip.Addr, error) {
	addrs, err := e.lookup(ctx, host)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return nil, netip.Addr{}, &net.DNSError{Err: "no address", Name: host, IsNotFound: true}
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := e.dialAddr(ctx, netip.AddrPortFrom(a, uint16(port)))
		if err == nil {
			return conn, a, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, addrs[0], firstErr
}
