package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// fakePing answers like a PingFunc whose unprivileged and privileged
// attempts return the given outcomes.
type fakePing struct {
	unprivileged, privileged func(req PingRequest) (PingStats, error)
}

func (f fakePing) ping(_ context.Context, req PingRequest) (PingStats, error) {
	if req.Privileged {
		return f.privileged(req)
	}
	return f.unprivileged(req)
}

func replies(rtts ...time.Duration) func(PingRequest) (PingStats, error) {
	return func(req PingRequest) (PingStats, error) {
		return PingStats{Sent: req.Count, Received: len(rtts), RTTs: rtts}, nil
	}
}

func noSocket(req PingRequest) (PingStats, error) {
	return PingStats{}, fmt.Errorf("%w: %w", ErrNoICMPSocket, os.NewSyscallError("socket", syscall.EPERM))
}

func TestCheckICMP(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		ping   fakePing
		want   wantResult
		mode   string
		checks func(t *testing.T, r Result)
	}{
		{name: "all replies", ping: fakePing{unprivileged: replies(10*ms, 14*ms, 12*ms, 12*ms)},
			want: wantResult{status: StatusOK, summary: "4/4 replies from 127.0.0.1, rtt min/avg/max 10.0/12.0/14.0 ms, jitter 2.0 ms"},
			mode: "unprivileged (UDP ICMP socket)",
			checks: func(t *testing.T, r Result) {
				want := map[string]float64{"packets_sent": 4, "packets_received": 4, "loss_percent": 0, "rtt_min_ms": 10, "rtt_avg_ms": 12, "rtt_max_ms": 14, "jitter_ms": 2}
				for k, v := range want {
					if r.Metrics[k] != v {
						t.Errorf("%s = %v, want %v", k, r.Metrics[k], v)
					}
				}
			}},
		{name: "privileged fallback", ping: fakePing{unprivileged: noSocket, privileged: replies(ms, ms, ms, ms)},
			want: wantResult{status: StatusOK, note: "the raw socket was used"}, mode: "privileged (raw socket)"},
		{name: "partial loss", ping: fakePing{unprivileged: replies(10*ms, 11*ms)},
			want: wantResult{status: StatusWarn, summary: "2/4 replies from 127.0.0.1 (50% loss)", hint: "some packets are lost"}},
		{name: "total loss", ping: fakePing{unprivileged: replies()},
			want: wantResult{status: StatusFail, summary: "no echo reply from 127.0.0.1 (4 sent, 100% loss)", rule: "allow ICMP from <device> to 127.0.0.1 (echo request and reply)"}},
		{name: "no privilege at all is a skip, not a block", ping: fakePing{unprivileged: noSocket, privileged: noSocket},
			want: wantResult{status: StatusSkip, summary: "ICMP not tested", hint: icmpPrivilegeHint(runtime.GOOS), reason: "nothing was sent", fault: FaultLaptop}},
		{name: "no route on the laptop is its fault", ping: fakePing{unprivileged: func(PingRequest) (PingStats, error) {
			return PingStats{}, &net.OpError{Op: "write", Err: os.NewSyscallError("sendto", errnoNetUnreach)}
		}}, want: wantResult{status: StatusError, summary: "this laptop has no route for ICMP echo requests to 127.0.0.1", hint: "connect this laptop", fault: FaultLaptop}},
		{name: "the laptop's firewall is its fault", ping: fakePing{unprivileged: func(PingRequest) (PingStats, error) {
			return PingStats{}, &net.OpError{Op: "write", Err: os.NewSyscallError("sendto", errnoAccess)}
		}}, want: wantResult{status: StatusError, summary: "this laptop blocked ICMP echo requests", fault: FaultLaptop}},
		{name: "other send error", ping: fakePing{unprivileged: func(PingRequest) (PingStats, error) {
			return PingStats{}, errors.New("boom")
		}}, want: wantResult{status: StatusError, summary: "this laptop's network stack failed on ICMP echo requests to 127.0.0.1 (boom)", fault: FaultLaptop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
			cfg.Count = 4
			cfg.Ping = tt.ping.ping
			r := runCheck(t, cfg, CheckICMP)
			checkResult(t, r, tt.want)
			if tt.mode != "" && r.Evidence["mode"] != tt.mode {
				t.Errorf("mode = %q, want %q", r.Evidence["mode"], tt.mode)
			}
			if tt.checks != nil {
				tt.checks(t, r)
			}
		})
	}
}

// unprivilegedPingAllowed reports whether this machine lets any group open
// unprivileged ICMP sockets (Linux net.ipv4.ping_group_range).
func unprivilegedPingAllowed(t *testing.T) bool {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err != nil {
		return runtime.GOOS != "linux"
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(data), &lo, &hi); err != nil {
		t.Fatalf("parse ping_group_range %q: %v", data, err)
	}
	gid := os.Getgid()
	return lo <= gid && gid <= hi
}

// TestCheckICMPLoopback pings 127.0.0.1 with pro-bing for real. As root
// the privileged fallback works; without privilege and with unprivileged
// ping disabled, the result must be a skip carrying the exact fix.
func TestCheckICMPLoopback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the privilege expectations below are Linux's")
	}
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.Ping = nil // the real pro-bing
	cfg.Count = 3
	r := runCheck(t, cfg, CheckICMP)
	switch {
	case os.Geteuid() == 0 || unprivilegedPingAllowed(t):
		checkResult(t, r, wantResult{status: StatusOK, summary: "3/3 replies from 127.0.0.1"})
		if os.Geteuid() == 0 && !unprivilegedPingAllowed(t) && r.Evidence["mode"] != "privileged (raw socket)" {
			t.Errorf("mode = %q, want the privileged fallback", r.Evidence["mode"])
		}
	default:
		checkResult(t, r, wantResult{status: StatusSkip, hint: `sudo sysctl -w net.ipv4.ping_group_range="0 2147483647"`})
	}
}

func TestICMPPrivilegeHint(t *testing.T) {
	tests := map[string]string{
		"linux":   `sudo sysctl -w net.ipv4.ping_group_range="0 2147483647", or run with sudo, or sudo setcap cap_net_raw+ep $(which smartx)`,
		"darwin":  "run with sudo",
		"windows": "administrator prompt",
		"plan9":   "root or administrator",
	}
	for goos, want := range tests {
		if got := icmpPrivilegeHint(goos); !strings.Contains(got, want) {
			t.Errorf("icmpPrivilegeHint(%s) = %q, want it to contain %q", goos, got, want)
		}
	}
}

func TestJitter(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		rtts []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5 * ms}, 0},
		{[]time.Duration{10 * ms, 20 * ms, 10 * ms}, 10 * ms},
		{[]time.Duration{1 * ms, 2 * ms, 4 * ms, 8 * ms}, 7 * ms / 3},
	}
	for _, tt := range tests {
		if got := jitter(tt.rtts); got != tt.want {
			t.Errorf("jitter(%v) = %v, want %v", tt.rtts, got, tt.want)
		}
	}
}
