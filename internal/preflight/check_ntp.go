package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/beevik/ntp"

	"github.com/smart-impulse/smartx/internal/errtext"
)

const (
	// ntpAttempts is how many queries are sent before concluding UDP 123
	// is blocked: one lost datagram is not a block.
	ntpAttempts = 3
	// ntpMaxOffset is the clock offset beyond which this laptop's clock is
	// called wrong.
	ntpMaxOffset = 10 * time.Second
)

// checkNTP queries the NTP server like the device, retrying lost datagrams
// within the check's deadline, and validates the answer before using it.
func checkNTP(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	host, port, err := splitHostPortDefault(cfg.NTPServer, ntpDefaultPort)
	if err != nil {
		r.Status, r.Reason = StatusError, "invalid ntp-server: "+err.Error()
		r.Summary, r.Hint = r.Reason, "give the NTP server as host or host:port"
		return r
	}
	ntpIP, ntpName := addressAndName(host)
	rule := Flow{Protocol: "UDP", Destination: ntpIP, FQDN: ntpName, Port: port}.Rule()
	addrs, err := env.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		r.Status = StatusFail
		r.Summary = "cannot resolve NTP server " + host + ": " + dnsErrorText(err)
		r.Hint = "fix name resolution first (see the dns check)"
		return r
	}
	server := netip.AddrPortFrom(addrs[0], uint16(port))
	r.setEvidence("server", server.String())

	var resp *ntp.Response
	var lastErr error
	attempts := 0
	for attempts < ntpAttempts && ctx.Err() == nil {
		attempts++
		wait := time.Second
		if deadline, ok := ctx.Deadline(); ok {
			wait = time.Until(deadline) / time.Duration(ntpAttempts-attempts+1)
		}
		if wait <= 0 {
			break
		}
		resp, lastErr = queryNTP(ctx, cfg.DialUDP, server, wait)
		lastErr = ntpSocketError(lastErr)
		if lastErr == nil || classifyNetError(lastErr) != failTimeout {
			break
		}
	}
	r.setMetric("attempts", float64(attempts))

	if resp == nil && lastErr == nil { // no query could be sent: the time was used up before
		r.Status = StatusError
		r.Reason = "no time was left to send the NTP query: resolving the server's name used the check's time"
		r.Summary = r.Reason
		r.Hint = "run the check again; if it fails the same way, note the error for support"
		return r
	}
	if lastErr != nil {
		what := "the NTP query to " + server.String()
		if laptopFault(&r, lastErr, what) {
			return r
		}
		r.setEvidence("error", errtext.Of(lastErr))
		r.Status = StatusFail
		r.Rule = rule
		switch classifyNetError(lastErr) {
		case failTimeout:
			r.Summary = fmt.Sprintf("no answer from %s after %d attempts: UDP %d blocked", ntpServerText(cfg.NTPServer, server), attempts, port)
			r.Hint = "the firewall drops NTP: ask IT for the rule below"
		case failRefused:
			r.Summary = fmt.Sprintf("%s rejected the query (port unreachable)", ntpServerText(cfg.NTPServer, server))
			r.Hint = "a firewall rejects NTP, or no NTP service runs there: ask IT for the rule below"
		case failHostUnreachable, failNetUnreachable:
			r.Summary = fmt.Sprintf("a router reports %s unreachable (%s)", ntpServerText(cfg.NTPServer, server), errtext.Of(lastErr))
			r.Hint = "the network has no way to this NTP server: ask IT for the rule below"
		default:
			if !isNTPProtocolError(lastErr) {
				r.Status = StatusError
				r.Rule = ""
				r.Reason = "the NTP query failed: " + errtext.Of(lastErr)
				r.Summary = r.Reason
				r.Hint = "run the check again; if it fails the same way, note the error for support"
				return r
			}
			r.Status = StatusWarn
			r.Rule = ""
			r.Summary = fmt.Sprintf("%s answered something that is not a valid NTP reply: %s", server, errtext.Of(lastErr))
			r.Hint = "something on the path alters NTP traffic: ask IT to let UDP " + strconv.Itoa(port) + " through unmodified"
		}
		return r
	}

	r.setMetric("stratum", float64(resp.Stratum))
	r.setEvidence("reference_id", resp.ReferenceString())
	if resp.IsKissOfDeath() {
		code := resp.KissCode
		if code == "" {
			code = "unprintable"
		}
		r.setEvidence("kiss_code", code)
		switch code {
		case "DENY", "RSTR":
			r.Status = StatusFail
			r.Summary = fmt.Sprintf("%s refuses to serve this network (kiss-of-death %s)", cfg.NTPServer, code)
			r.Hint = "the NTP server denies access from this site's address: ask IT for an NTP server the device may use"
		default:
			r.Status = StatusWarn
			r.Summary = fmt.Sprintf("%s answered with a kiss-of-death %s (UDP %d gets through)", cfg.NTPServer, code, port)
			r.Hint = "the server asks clients to back off (e.g. RATE: too many queries from this site's address); the path works"
		}
		return r
	}
	if err := resp.Validate(); err != nil {
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("%s answered (UDP %d gets through) but its time is unusable: %s", cfg.NTPServer, port, err)
		r.Hint = "the network path works; ask IT for a reliable NTP server if this persists"
		return r
	}
	r.setMetric("offset_ms", ms(resp.ClockOffset))
	r.setMetric("rtt_ms", ms(resp.RTT))
	r.Status = StatusOK
	r.Summary = fmt.Sprintf("%s answered in %s, stratum %d, ref %s, this laptop's clock is off by %s",
		ntpServerText(cfg.NTPServer, server), roundDuration(resp.RTT), resp.Stratum, resp.ReferenceString(), roundDuration(absDuration(resp.ClockOffset)))
	if absDuration(resp.ClockOffset) > ntpMaxOffset {
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("NTP works (%s answered), but THIS LAPTOP's clock is off by %.0f s", cfg.NTPServer, math.Abs(resp.ClockOffset.Seconds()))
		r.Hint = "not a network problem: set this laptop's clock (certificate checks depend on it); the device sets its own clock by NTP"
	}
	return r
}

// queryNTP sends one query to server, bounded by wait and by ctx.
func queryNTP(ctx context.Context, dialUDP DialFunc, server netip.AddrPort, wait time.Duration) (*ntp.Response, error) {
	if dialUDP == nil {
		var d net.Dialer
		dialUDP = d.DialContext
	}
	var stop func() bool
	opts := ntp.QueryOptions{
		Timeout: wait,
		Dialer: func(_, remote string) (net.Conn, error) {
			conn, err := dialUDP(ctx, "udp", remote)
			if err != nil {
				return nil, onLaptop(err) // a UDP connect sends nothing
			}
			stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
			return conn, nil
		},
	}
	resp, err := ntp.QueryWithOptions(server.String(), opts)
	if stop != nil {
		stop()
	}
	if err != nil && errors.Is(err, ntp.ErrKissOfDeath) {
		return resp, nil
	}
	return resp, err
}

// ntpSocketError marks the errors of a query that only this laptop can have
// raised: every socket operation but receiving (setting options and
// deadlines, sending). Each query uses a fresh socket and sends once, before
// any reply could have queued an ICMP error, so a failed send is the
// laptop's (its firewall, its routes). The socket itself is not wrapped: on
// Linux, beevik/ntp takes kernel receive timestamps from the *net.UDPConn.
func ntpSocketError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op != "read" {
		return onLaptop(err)
	}
	return err
}

// isNTPProtocolError reports an error about the content of an answer (bad
// mode, stratum, origin...), as opposed to a socket error.
func isNTPProtocolError(err error) bool {
	var op *net.OpError
	var sc *os.SyscallError
	var errno syscall.Errno
	return !errors.As(err, &op) && !errors.As(err, &sc) && !errors.As(err, &errno) && !errors.Is(err, io.EOF)
}

// ntpServerText names the server as configured, with the address used when
// it differs.
func ntpServerText(configured string, used netip.AddrPort) string {
	if configured == used.String() || configured == used.Addr().String() {
		return used.String()
	}
	return configured + " (" + used.String() + ")"
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
