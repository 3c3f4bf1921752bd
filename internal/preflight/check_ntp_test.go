package preflight

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

func TestCheckNTP(t *testing.T) {
	tests := []struct {
		name     string
		opts     preflighttest.NTPOptions
		timeout  time.Duration
		byName   bool
		want     wantResult
		attempts float64
	}{
		{name: "good server", opts: preflighttest.NTPOptions{},
			want: wantResult{status: StatusOK, summary: "stratum 1, ref .TEST."}, attempts: 1},
		{name: "good server by name", opts: preflighttest.NTPOptions{}, byName: true,
			want: wantResult{status: StatusOK, summary: "time.test:"}, attempts: 1},
		{name: "lost datagram is retried", opts: preflighttest.NTPOptions{DropFirst: 1}, timeout: 1500 * time.Millisecond,
			want: wantResult{status: StatusOK}, attempts: 2},
		{name: "laptop clock wrong", opts: preflighttest.NTPOptions{Offset: time.Hour},
			want: wantResult{status: StatusWarn, summary: "THIS LAPTOP's clock is off by 3600 s", hint: "not a network problem"}},
		{name: "kiss-of-death RATE", opts: preflighttest.NTPOptions{Mode: preflighttest.NTPKissOfDeath, KissCode: "RATE"},
			want: wantResult{status: StatusWarn, summary: "kiss-of-death RATE", hint: "back off"}},
		{name: "kiss-of-death DENY", opts: preflighttest.NTPOptions{Mode: preflighttest.NTPKissOfDeath, KissCode: "DENY"},
			want: wantResult{status: StatusFail, summary: "refuses to serve this network (kiss-of-death DENY)"}},
		{name: "no answer", opts: preflighttest.NTPOptions{Mode: preflighttest.NTPSilent}, timeout: 600 * time.Millisecond,
			want: wantResult{status: StatusFail, summary: "after 3 attempts: UDP", hint: "drops NTP", rule: "allow UDP from <device> to 127.0.0.1 port"}, attempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := preflighttest.StartNTP(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			dns := startDNS(t, map[string]preflighttest.DNSAnswer{"time.test": preflighttest.Answer(loopback)}, preflighttest.Timing{})
			cfg := testConfig(t, dns)
			cfg.NTPServer = srv.Addr
			if tt.byName {
				cfg.NTPServer = net.JoinHostPort("time.test", strconv.Itoa(srv.Port))
			}
			if tt.timeout > 0 {
				cfg.Timeout = tt.timeout
			}
			r := runCheck(t, cfg, CheckNTP)
			checkResult(t, r, tt.want)
			if tt.attempts > 0 && r.Metrics["attempts"] != tt.attempts {
				t.Errorf("attempts = %v, want %v", r.Metrics["attempts"], tt.attempts)
			}
			if r.Status == StatusOK {
				for _, m := range []string{"offset_ms", "rtt_ms", "stratum"} {
					if _, ok := r.Metrics[m]; !ok {
						t.Errorf("missing metric %s", m)
					}
				}
				if r.Evidence["reference_id"] != ".TEST." {
					t.Errorf("reference_id = %q", r.Evidence["reference_id"])
				}
			}
		})
	}
}

func TestCheckNTPPortUnreachable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.NTPServer = addr
	r := runCheck(t, cfg, CheckNTP)
	checkResult(t, r, wantResult{status: StatusFail, summary: "rejected the query (port unreachable)", rule: "allow UDP"})
}

// A check whose time is gone before its first query says so; it never dereferences an answer
// that was never received.
func TestNTPWithoutTimeForAQuery(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NTPServer = "127.0.0.1:1" // an address: no name to resolve, and nothing is sent
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	r := checkNTP(ctx, newProbeEnv(cfg.withDefaults()))
	info, _ := LookupCheck("ntp")
	r.ID, r.Title, r.Group = info.ID, info.Title, info.Group
	checkResult(t, r, wantResult{status: StatusError, reason: "no time was left to send the NTP query"})
	assertTranslated(t, r)
}
