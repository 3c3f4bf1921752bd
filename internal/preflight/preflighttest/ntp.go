package preflighttest

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// NTPMode selects how the NTP responder answers.
type NTPMode int

const (
	// NTPGood answers like a stratum-1 server, its clock shifted by Offset.
	NTPGood NTPMode = iota
	// NTPKissOfDeath answers with stratum 0 and KissCode (default RATE).
	NTPKissOfDeath
	// NTPSilent reads queries and never answers, like a firewall drop.
	NTPSilent
)

// NTPOptions configures StartNTP.
type NTPOptions struct {
	// Mode is good, kiss-of-death or silent.
	Mode NTPMode
	// Offset shifts the server's clock (a positive offset means this
	// client's clock is behind).
	Offset time.Duration
	// KissCode is the 4-letter kiss-of-death code.
	KissCode string
	// DropFirst ignores that many queries before answering, like lost
	// datagrams.
	DropFirst int
	// Timing delays or holds every answer.
	Timing Timing
}

// NTPServer is a running NTP responder.
type NTPServer struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// Port is the UDP port.
	Port     int
	conn     net.PacketConn
	life     *lifecycle
	received atomic.Int64
}

// Received returns how many queries arrived, answered or not.
func (s *NTPServer) Received() int { return int(s.received.Load()) }

// Close stops the responder.
func (s *NTPServer) Close() error { return s.life.shutdown(s.conn) }

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// ntpTimestamp encodes t as a 64-bit NTP timestamp.
func ntpTimestamp(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := (uint64(t.Nanosecond()) << 32) / uint64(time.Second)
	return secs<<32 | frac
}

// StartNTP starts an NTPv4 responder building 48-byte packets by hand.
func StartNTP(opts NTPOptions) (*NTPServer, error) {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		return nil, fmt.Errorf("listen udp: %w", err)
	}
	port := portOf(conn.LocalAddr())
	s := &NTPServer{Addr: net.JoinHostPort(Loopback, strconv.Itoa(port)), Port: port, conn: conn, life: newLifecycle()}
	s.life.wg.Go(func() {
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			count := s.received.Add(1)
			if n < 48 || opts.Mode == NTPSilent || int(count) <= opts.DropFirst {
				continue
			}
			query := append([]byte(nil), buf[:n]...)
			s.life.wg.Go(func() {
				if !s.life.hold(opts.Timing) {
					return
				}
				_, _ = conn.WriteTo(ntpReply(query, opts), from)
			})
		}
	})
	return s, nil
}

// ntpReply builds the server's answer to query.
func ntpReply(query []byte, opts NTPOptions) []byte {
	reply := make([]byte, 48)
	version := (query[0] >> 3) & 0x7
	now := time.Now().Add(opts.Offset)
	const leapNone, leapAlarm, modeServer = 0, 3, 4
	if opts.Mode == NTPKissOfDeath {
		code := opts.KissCode
		if code == "" {
			code = "RATE"
		}
		reply[0] = leapAlarm<<6 | version<<3 | modeServer
		reply[1] = 0 // stratum 0: kiss-of-death
		copy(reply[12:16], (code + "    ")[:4])
	} else {
		reply[0] = leapNone<<6 | version<<3 | modeServer
		reply[1] = 1 // stratum 1
		copy(reply[12:16], "TEST")
		binary.BigEndian.PutUint64(reply[16:], ntpTimestamp(now.Add(-time.Second))) // reference time
	}
	reply[2] = 6                                      // poll 2^6 s
	reply[3] = 0xec                                   // precision 2^-20 s
	binary.BigEndian.PutUint32(reply[8:], 0x00000010) // root dispersion
	copy(reply[24:32], query[40:48])                  // origin = client's transmit
	binary.BigEndian.PutUint64(reply[32:], ntpTimestamp(now))
	binary.BigEndian.PutUint64(reply[40:], ntpTimestamp(now))
	return reply
}
