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
func (o *dnsObservation) snapshot() (servers []string, rcodes []dnsmessage.RCode) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.servers), slices.Clone(o.rcodes)
}

// newResolver builds the resolver every check uses: Go's resolver talking to
// dnsServer when it is set (whatever /etc/resolv.conf says), else the
// system's. obs, when not nil, records servers and response codes.
func newResolver(dnsServer string, obs *dnsObservation) *net.Resolver {
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
	return &net.Resolver{
		PreferGo: server != "",
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			if server != "" {
				address = server
			}
			conn, err := dialer.DialContext(ctx, network, address)
			if err != nil || obs == nil {
				return conn, err
			}
			obs.addServer(address)
			if udp, ok := conn.(*net.UDPConn); ok {
				return &rcodeSniffingConn{UDPConn: udp, obs: obs}, nil
			}
			return conn, nil
		},
	}
}

// rcodeSniffingConn records the response code of every DNS reply read. It
// embeds *net.UDPConn so it stays a net.PacketConn, which tells Go's
// resolver to use datagram framing.
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

// dialAddr opens a TCP connection to an already resolved address.
func (e *probeEnv) dialAddr(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	if e.cfg.Dial != nil {
		return e.cfg.Dial(ctx, "tcp", ap.String())
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", ap.String())
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
