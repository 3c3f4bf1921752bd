package preflight

import (
	"context"
	"time"
)

// DefaultWatchEvery is the time between the starts of two runs of Watch.
const DefaultWatchEvery = 10 * time.Second

// Change is a check whose status differs from the one it had at the previous run. From is
// empty at the first run, where every check is new.
type Change struct {
	// ID is the check's id.
	ID string `json:"id"`
	// From is the status at the previous run, empty at the first.
	From Status `json:"from,omitempty"`
	// To is the status now.
	To Status `json:"to"`
	// Summary is what the check saw this time.
	Summary string `json:"summary"`
}

// WatchOptions configure Watch.
type WatchOptions struct {
	// Every is the time between the starts of two runs; zero uses DefaultWatchEvery.
	Every time.Duration
	// Wait waits d, or less when ctx is done (then it returns ctx.Err()); nil uses a timer.
	// Tests inject one to run without waiting.
	Wait func(ctx context.Context, d time.Duration) error
	// OnEvent, when not nil, gets the started and finished events of every run, as Run's
	// onEvent does.
	OnEvent func(Event)
	// OnRun, when not nil, is called after each complete run with its number (from 1), its
	// report and the checks whose status changed since the previous run.
	OnRun func(run int, r Report, changes []Change)
}

// WatchResult is how a watch ended.
type WatchResult struct {
	// Last is the last complete run (the first run's partial report when it was
	// interrupted before finishing).
	Last Report
	// Runs counts the complete runs.
	Runs int
	// Passed is true when the last run had no failure (Report.Failed(cfg.Strict) false).
	Passed bool
}

// Watch runs the checks again and again, Every apart, until a run has no failure or ctx is
// done, so an installer can wait while IT opens a rule. A run interrupted by ctx is not
// counted: Last stays the previous complete run, whose failures are those left.
func Watch(ctx context.Context, cfg Config, opts WatchOptions) WatchResult {
	every := opts.Every
	if every <= 0 {
		every = DefaultWatchEvery
	}
	wait := opts.Wait
	if wait == nil {
		wait = sleepContext
	}
	var res WatchResult
	previous := map[string]Status{}
	for {
		start := time.Now()
		rep := Run(ctx, cfg, opts.OnEvent)
		if rep.Interrupted {
			if res.Runs == 0 {
				res.Last = rep
			}
			return res
		}
		res.Runs++
		res.Last = rep
		res.Passed = !rep.Failed(cfg.Strict)
		var changes []Change
		for _, r := range rep.Results {
			if from, seen := previous[r.ID]; !seen || from != r.Status {
				changes = append(changes, Change{ID: r.ID, From: from, To: r.Status, Summary: r.Summary})
			}
			previous[r.ID] = r.Status
		}
		if opts.OnRun != nil {
			opts.OnRun(res.Runs, rep, changes)
		}
		if res.Passed {
			return res
		}
		if err := wait(ctx, every-time.Since(start)); err != nil {
			return res
		}
	}
}

// sleepContext waits d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
