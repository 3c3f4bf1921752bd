package preflight

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	probing "github.com/prometheus-community/pro-bing"

	"github.com/smart-impulse/smartx/internal/errtext"
)

// PingRequest asks a PingFunc for Count echo requests to Target, Interval
// apart, over an unprivileged (UDP ICMP) or privileged (raw) socket.
type PingRequest struct {
	// Target is the address to ping (already resolved).
	Target netip.Addr
	// Count is the number of echo requests to send.
	Count int
	// Interval is the gap between two requests.
	Interval time.Duration
	// Privileged asks for a raw socket instead of a UDP ICMP socket.
	Privileged bool
	// Wait bounds the whole exchange, lost replies included.
	Wait time.Duration
}

// PingStats is what a PingFunc measured: requests sent, replies received
// and the round-trip time of each reply, in arrival order.
type PingStats struct {
	// Sent is the number of requests that left.
	Sent int
	// Received is the number of replies.
	Received int
	// RTTs holds one round-trip time per reply.
	RTTs []time.Duration
}

// PingFunc sends ICMP echo requests. When no ICMP socket could be opened
// (a local privilege problem: nothing was sent) its error wraps
// ErrNoICMPSocket; other errors are send failures.
type PingFunc func(ctx context.Context, req PingRequest) (PingStats, error)

// ErrNoICMPSocket is wrapped by PingFunc errors meaning this laptop may not
// open the requested kind of ICMP socket.
var ErrNoICMPSocket = errors.New("cannot open an ICMP socket")

// proBingPing is the PingFunc used outside tests. It works around
// pro-bing's defaults: a Timeout that never ends, Run returning nil on
// timeout (PacketsRecv tells), a logger writing to stderr, a 1 s interval.
func proBingPing(ctx context.Context, req PingRequest) (PingStats, error) {
	p := probing.New(req.Target.String())
	p.SetIPAddr(&net.IPAddr{IP: req.Target.AsSlice()})
	p.SetPrivileged(req.Privileged)
	p.SetLogger(probing.NoopLogger{})
	p.Count = req.Count
	p.Interval = req.Interval
	p.Timeout = req.Wait
	p.RecordTTLs = false
	err := p.RunWithContext(ctx)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil // what was received before the deadline still counts
	}
	st := p.Statistics()
	stats := PingStats{Sent: st.PacketsSent, Received: st.PacketsRecv, RTTs: st.Rtts}
	if err != nil && stats.Sent == 0 && isSocketOpenError(err) {
		err = fmt.Errorf("%w: %w", ErrNoICMPSocket, err)
	}
	return stats, err
}

// isSocketOpenError recognises the errors of opening an ICMP socket: the
// unprivileged path fails in socket(2) or bind(2) (os.SyscallError), the raw
// path in net.ListenPacket (net.OpError "listen").
func isSocketOpenError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "listen" {
		return true
	}
	var sc *os.SyscallError
	return errors.As(err, &sc) && (sc.Syscall == "socket" || sc.Syscall == "bind")
}

// icmpPrivilegeHint is the exact fix, per OS, when this laptop may not send
// ICMP echo requests.
func icmpPrivilegeHint(goos string) string {
	switch goos {
	case "linux":
		return `allow unprivileged ping with sudo sysctl -w net.ipv4.ping_group_range="0 2147483647", or run with sudo, or sudo setcap cap_net_raw+ep $(which smartx)`
	case "darwin":
		return "unprivileged ping normally works on macOS; run with sudo"
	case "windows":
		return "Windows lets only administrators send ICMP from a program: run smartx from an administrator prompt (right-click PowerShell or Terminal, Run as administrator)"
	default:
		return "run smartx as root or administrator"
	}
}

// checkICMP pings the ping target: unprivileged socket first, raw socket as
// fallback, and a skip (never "blocked") when neither may be opened.
func checkICMP(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	addrs, err := env.lookup(ctx, cfg.PingTarget)
	if err != nil || len(addrs) == 0 {
		r.Status = StatusError
		r.Reason = "cannot resolve ping target " + cfg.PingTarget
		r.Summary = r.Reason + ": " + dnsErrorText(err)
		r.Hint = "fix name resolution first (see the dns check), or give an IP address as ping-target"
		return r
	}
	target := addrs[0]
	r.setEvidence("target", target.String())

	ping := cfg.Ping
	if ping == nil {
		ping = proBingPing
	}
	wait := time.Duration(cfg.Count)*cfg.PingInterval + 2*time.Second
	if deadline, ok := ctx.Deadline(); ok {
		// Leave a little time to report before the check's own deadline.
		wait = min(wait, time.Until(deadline)-50*time.Millisecond)
	}
	req := PingRequest{Target: target, Count: cfg.Count, Interval: cfg.PingInterval, Wait: max(wait, time.Millisecond)}

	mode := "unprivileged (UDP ICMP socket)"
	stats, err := ping(ctx, req)
	if errors.Is(err, ErrNoICMPSocket) {
		r.setEvidence("unprivileged_error", errtext.Of(err))
		req.Privileged = true
		mode = "privileged (raw socket)"
		stats, err = ping(ctx, req)
	}
	r.setEvidence("mode", mode)
	if req.Privileged && !errors.Is(err, ErrNoICMPSocket) {
		r.Note = "unprivileged ICMP is not allowed on this laptop; the raw socket was used"
	}
	if errors.Is(err, ErrNoICMPSocket) {
		r.Status = StatusSkip
		r.Fault = FaultLaptop
		r.Reason = "this laptop may not send ICMP echo requests (no privilege); nothing was sent, so nothing is known about the network"
		r.Summary = "ICMP not tested: no permission to open an ICMP socket"
		r.Hint = icmpPrivilegeHint(runtime.GOOS)
		r.setEvidence("privileged_error", errtext.Of(err))
		return r
	}
	if err != nil && stats.Sent == 0 {
		// Sending failed before any request left: ICMP errors from the
		// network are never reported to an unconnected ICMP socket's send,
		// so this is the laptop's own doing (its firewall, its routes).
		if laptopFault(&r, onLaptop(err), "ICMP echo requests to "+target.String()) {
			if runtime.GOOS == "windows" && classifyNetError(onLaptop(err)) == failPermission {
				r.Hint += "; sending ICMP also needs an administrator prompt on Windows"
			}
			return r
		}
		r.Status = StatusError
		r.Reason = "could not send ICMP echo requests: " + errtext.Of(err)
		r.Summary = r.Reason
		r.Hint = "check this laptop's network connection and run again"
		return r
	}

	loss := 0.0
	if stats.Sent > 0 {
		loss = float64(stats.Sent-stats.Received) / float64(stats.Sent) * 100
	}
	r.setMetric("packets_sent", float64(stats.Sent))
	r.setMetric("packets_received", float64(stats.Received))
	r.setMetric("loss_percent", math.Round(loss*10)/10)
	if len(stats.RTTs) > 0 {
		minRTT, maxRTT, sum := stats.RTTs[0], stats.RTTs[0], time.Duration(0)
		for _, d := range stats.RTTs {
			minRTT, maxRTT, sum = min(minRTT, d), max(maxRTT, d), sum+d
		}
		avg := sum / time.Duration(len(stats.RTTs))
		r.setMetric("rtt_min_ms", ms(minRTT))
		r.setMetric("rtt_avg_ms", ms(avg))
		r.setMetric("rtt_max_ms", ms(maxRTT))
		r.setMetric("jitter_ms", ms(jitter(stats.RTTs)))
	}

	switch {
	case stats.Received == 0:
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("no echo reply from %s (%d sent, 100%% loss)", target, stats.Sent)
		r.Hint = "ICMP echo is blocked on the way out or back: ask IT for the rule below"
		r.Rule = icmpRule(cfg)
	case stats.Received < stats.Sent:
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("%d/%d replies from %s (%.0f%% loss), rtt avg %.1f ms", stats.Received, stats.Sent, target, loss, r.Metrics["rtt_avg_ms"])
		r.Hint = "some packets are lost: an unstable link or rate-limited ICMP; if it persists, ask IT to check the uplink"
	default:
		r.Status = StatusOK
		r.Summary = fmt.Sprintf("%d/%d replies from %s, rtt min/avg/max %.1f/%.1f/%.1f ms, jitter %.1f ms",
			stats.Received, stats.Sent, target, r.Metrics["rtt_min_ms"], r.Metrics["rtt_avg_ms"], r.Metrics["rtt_max_ms"], r.Metrics["jitter_ms"])
	}
	return r
}

// jitter is the mean absolute difference between consecutive RTTs.
func jitter(rtts []time.Duration) time.Duration {
	if len(rtts) < 2 {
		return 0
	}
	var sum time.Duration
	for i := 1; i < len(rtts); i++ {
		d := rtts[i] - rtts[i-1]
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return sum / time.Duration(len(rtts)-1)
}

func icmpRule(cfg Config) string {
	ip, name := addressAndName(cfg.PingTarget)
	return Flow{Protocol: "ICMP", Destination: ip, FQDN: name}.Rule()
}
