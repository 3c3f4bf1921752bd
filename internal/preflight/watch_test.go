package preflight

import (
	"context"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// blockedPort returns a loopback port where nothing listens, and a function that starts
// listening on it (IT opening the rule).
func blockedPort(t *testing.T) (int, func()) {
	t.Helper()
	port, err := preflighttest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	open := func() {
		s, err := preflighttest.OpenPort(port, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	return port, open
}

func watchConfig(t *testing.T, port int) Config {
	cfg := testConfig(t, startDNS(t, nil, preflighttest.Timing{}))
	cfg.Host, cfg.ExpectIP, cfg.HTTPSPort = preflighttest.Loopback, "", port
	cfg.Only = []string{CheckTCPHTTPS}
	return cfg
}

// TestWatchTurnsGreen: the port opens while the watch waits after its second run; the third
// run passes and the watch ends, having reported only what changed.
func TestWatchTurnsGreen(t *testing.T) {
	port, open := blockedPort(t)
	cfg := watchConfig(t, port)
	var waits []time.Duration
	var runs [][]Change
	res := Watch(context.Background(), cfg, WatchOptions{
		Every: time.Minute,
		Wait: func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			if len(waits) == 2 {
				open()
			}
			return nil
		},
		OnRun: func(run int, r Report, changes []Change) {
			if run != len(runs)+1 {
				t.Errorf("run %d reported after %d runs", run, len(runs))
			}
			runs = append(runs, changes)
		},
	})
	if !res.Passed || res.Runs != 3 || len(runs) != 3 {
		t.Fatalf("watch ended after %d runs, passed %v; want 3 runs, passed", res.Runs, res.Passed)
	}
	want := [][]Change{
		{{ID: CheckTCPHTTPS, From: "", To: StatusFail}},
		nil,
		{{ID: CheckTCPHTTPS, From: StatusFail, To: StatusOK}},
	}
	for i := range want {
		if len(runs[i]) != len(want[i]) {
			t.Errorf("run %d changes = %+v, want %+v", i+1, runs[i], want[i])
			continue
		}
		for j, c := range runs[i] {
			if c.ID != want[i][j].ID || c.From != want[i][j].From || c.To != want[i][j].To || c.Summary == "" {
				t.Errorf("run %d change = %+v, want %+v", i+1, c, want[i][j])
			}
		}
	}
	for _, d := range waits {
		if d <= 0 || d > time.Minute {
			t.Errorf("waited %v between runs every minute", d)
		}
	}
	if r, _ := res.Last.Result(CheckTCPHTTPS); r.Status != StatusOK {
		t.Errorf("last run's tcp-https = %s", r.Status)
	}
}

// TestWatchInterrupted: Ctrl-C while waiting ends the watch with the failures left.
func TestWatchInterrupted(t *testing.T) {
	port, _ := blockedPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	res := Watch(ctx, watchConfig(t, port), WatchOptions{
		Wait: func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		},
	})
	if res.Passed || res.Runs != 1 || res.Last.Counts.Fail != 1 || res.Last.Interrupted {
		t.Errorf("interrupted watch = %d runs, passed %v, counts %+v, interrupted %v", res.Runs, res.Passed, res.Last.Counts, res.Last.Interrupted)
	}
}

// TestWatchAlreadyGreen: a first run that passes ends the watch at once.
func TestWatchAlreadyGreen(t *testing.T) {
	port, open := blockedPort(t)
	open()
	res := Watch(context.Background(), watchConfig(t, port), WatchOptions{
		Wait: func(context.Context, time.Duration) error { t.Error("waited after a passing run"); return nil },
	})
	if !res.Passed || res.Runs != 1 {
		t.Errorf("watch = %d runs, passed %v", res.Runs, res.Passed)
	}
}

func TestSleepContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepContext(ctx, time.Hour); err == nil {
		t.Error("a cancelled sleep returned nil")
	}
	if err := sleepContext(context.Background(), 0); err != nil {
		t.Errorf("a zero sleep returned %v", err)
	}
}
