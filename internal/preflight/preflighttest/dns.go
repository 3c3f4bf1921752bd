package preflighttest

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSAnswer is how the DNS responder answers for one name.
type DNSAnswer struct {
	// RCode is the response code (success unless set).
	RCode dnsmessage.RCode
	// Addrs are returned as A (IPv4) and AAAA (IPv6) records.
	Addrs []netip.Addr
	// Silent drops the query, like a firewall.
	Silent bool
}

// Answer returns addrs for a name.
func Answer(addrs ...netip.Addr) DNSAnswer { return DNSAnswer{Addrs: addrs} }

// NXDomain says the name does not exist.
func NXDomain() DNSAnswer { return DNSAnswer{RCode: dnsmessage.RCodeNameError} }

// ServFail says the server failed to resolve the name.
func ServFail() DNSAnswer { return DNSAnswer{RCode: dnsmessage.RCodeServerFailure} }

// Refused says the server refuses to resolve for this client.
func Refused() DNSAnswer { return DNSAnswer{RCode: dnsmessage.RCodeRefused} }

// Silent never answers.
func Silent() DNSAnswer { return DNSAnswer{Silent: true} }

// DNSOptions configures StartDNS. Names not in Records get NXDOMAIN.
type DNSOptions struct {
	// Records maps names (case-insensitive, trailing dot optional) to answers.
	Records map[string]DNSAnswer
	// Timing delays or holds every answer.
	Timing Timing
}

// DNSServer is a running DNS responder (UDP only).
type DNSServer struct {
	// Addr is 127.0.0.1:port, usable as a dns-server setting.
	Addr string
	// Port is the UDP port.
	Port     int
	conn     net.PacketConn
	life     *lifecycle
	received atomic.Int64
}

// Received returns how many queries arrived.
func (s *DNSServer) Received() int { return int(s.received.Load()) }

// Close stops the responder.
func (s *DNSServer) Close() error { return s.life.shutdown(s.conn) }

// StartDNS starts a DNS responder built on dnsmessage.
func StartDNS(opts DNSOptions) (*DNSServer, error) {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		return nil, fmt.Errorf("listen udp: %w", err)
	}
	port := portOf(conn.LocalAddr())
	s := &DNSServer{Addr: net.JoinHostPort(Loopback, strconv.Itoa(port)), Port: port, conn: conn, life: newLifecycle()}
	records := make(map[string]DNSAnswer, len(opts.Records))
	for name, a := range opts.Records {
		records[canonicalName(name)] = a
	}
	s.life.wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			s.received.Add(1)
			query := append([]byte(nil), buf[:n]...)
			s.life.wg.Go(func() {
				reply, ok := dnsReply(query, records)
				if !ok || !s.life.hold(opts.Timing) {
					return
				}
				_, _ = conn.WriteTo(reply, from)
			})
		}
	})
	return s, nil
}

func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// dnsReply answers a query from records; ok is false when nothing should be
// sent (silent names, unparsable queries).
func dnsReply(query []byte, records map[string]DNSAnswer) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	answer, known := records[canonicalName(q.Name.String())]
	if !known {
		answer = NXDomain()
	}
	if answer.Silent {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired,
		RecursionAvailable: true, RCode: answer.RCode,
	})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, false
	}
	if err := b.Question(q); err != nil {
		return nil, false
	}
	if err := b.StartAnswers(); err != nil {
		return nil, false
	}
	if answer.RCode == dnsmessage.RCodeSuccess {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		for _, a := range answer.Addrs {
			switch {
			case q.Type == dnsmessage.TypeA && a.Is4():
				if err := b.AResource(rh, dnsmessage.AResource{A: a.As4()}); err != nil {
					return nil, false
				}
			case q.Type == dnsmessage.TypeAAAA && a.Is6() && !a.Is4In6():
				if err := b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()}); err != nil {
					return nil, false
				}
			}
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, false
	}
	return msg, true
}
