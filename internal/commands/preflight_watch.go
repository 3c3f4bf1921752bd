package commands

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/ui"
)

// watchEventsVersion is the version of the NDJSON events of --watch (docs/preflight.md).
const watchEventsVersion = 1

// watchEvent is one NDJSON line of `smartx preflight --watch` when piped: start, then per
// run a change per check whose status changed and a run summary, then done or stopped.
type watchEvent struct {
	// Event is start, change, run, done (every check passes) or stopped (interrupted).
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
	// SchemaVersion, EveryMS and Checks are on the start event.
	SchemaVersion int      `json:"schema_version,omitempty"`
	EveryMS       float64  `json:"every_ms,omitempty"`
	Checks        []string `json:"checks,omitempty"`
	// Run numbers the runs from 1.
	Run int `json:"run,omitempty"`
	// ID, From, To and Summary are on change events; From is absent at the first run.
	ID      string           `json:"id,omitempty"`
	From    preflight.Status `json:"from,omitempty"`
	To      preflight.Status `json:"to,omitempty"`
	Summary string           `json:"summary,omitempty"`
	// Counts, Passing and Failing are on run, done and stopped events.
	Counts  *preflight.Counts `json:"counts,omitempty"`
	Passing *bool             `json:"passing,omitempty"`
	Failing []string          `json:"failing,omitempty"`
}

// failingChecks lists the checks that keep a run from passing.
func failingChecks(r preflight.Report, strict bool) []string {
	var ids []string
	for _, res := range r.Results {
		if res.Status == preflight.StatusFail || res.Status == preflight.StatusError || strict && res.Status == preflight.StatusWarn {
			ids = append(ids, res.ID)
		}
	}
	return ids
}

// runPreflightWatch runs the checks until every one passes or Ctrl-C, printing only what
// changes: lines for a person (with a live summary line on a terminal), or NDJSON events
// when piped. It exits 0 once every check passes, 1 when stopped with failures left. With
// --upload, the run that passed is sent to the platform.
func runPreflightWatch(ctx context.Context, f *Factory, cfg preflight.Config, o *preflightOptions, writeReport func(preflight.Report) error,
	up *preflightUpload) error {
	events := f.Global.Output == string(ui.FormatNDJSON) || f.Global.Output == "" && !f.IO.IsStdoutTTY()
	var w watchPrinter
	opts := preflight.WatchOptions{Every: o.every}
	if events {
		w = &watchEvents{nd: ui.NewNDJSONWriter(f.IO.Out), now: f.Now, strict: cfg.Strict}
	} else {
		lines := newWatchLines(f, cfg)
		w, opts.Wait = lines, lines.wait // the live line counts down while it waits
	}
	opts.OnRun = w.run
	w.start(cfg, o.every)
	res := preflight.Watch(ctx, cfg, opts)
	res.Last.Run = runInfo()
	w.end(res)
	kept, err := finishPreflight(f, o, res.Last, writeReport, !events)
	if err != nil {
		return err
	}
	if !res.Passed {
		up.notSent(f, kept)
		return silentExit(exitFailure)
	}
	return up.send(ctx, f, res.Last, kept)
}

// watchPrinter shows a watch as it goes.
type watchPrinter interface {
	start(cfg preflight.Config, every time.Duration)
	run(n int, r preflight.Report, changes []preflight.Change)
	end(res preflight.WatchResult)
}

// watchEvents prints NDJSON events.
type watchEvents struct {
	nd     *ui.NDJSONWriter
	now    func() time.Time
	strict bool
}

func (w *watchEvents) emit(ev watchEvent) {
	ev.Time = w.now().UTC()
	_ = w.nd.Write(ev)
}

func (w *watchEvents) start(cfg preflight.Config, every time.Duration) {
	w.emit(watchEvent{Event: "start", SchemaVersion: watchEventsVersion, EveryMS: float64(every.Milliseconds()),
		Checks: preflight.SelectedChecks(cfg)})
}

func (w *watchEvents) run(n int, r preflight.Report, changes []preflight.Change) {
	for _, c := range changes {
		w.emit(watchEvent{Event: "change", Run: n, ID: c.ID, From: c.From, To: c.To, Summary: c.Summary})
	}
	passing := !r.Failed(w.strict)
	w.emit(watchEvent{Event: "run", Run: n, Counts: &r.Counts, Passing: &passing, Failing: failingChecks(r, w.strict)})
}

func (w *watchEvents) end(res preflight.WatchResult) {
	kind := "done"
	if !res.Passed {
		kind = "stopped"
	}
	w.emit(watchEvent{Event: kind, Run: res.Runs, Counts: &res.Last.Counts, Passing: &res.Passed, Failing: failingChecks(res.Last, w.strict)})
}

// watchLines prints a person's view: the first run's table, then a line per change, with a
// live summary line on a terminal and a bell when every check passes.
type watchLines struct {
	out     io.Writer
	st      *ui.Styles
	tty     bool
	width   int
	live    *ui.LiveLines
	runs    int
	now     func() time.Time
	verbose bool
	strict  bool
	began   time.Time
	last    string // the summary of the last run, for the live line
}

func newWatchLines(f *Factory, cfg preflight.Config) *watchLines {
	tty := f.IO.IsStdoutTTY()
	return &watchLines{out: f.IO.Out, st: f.IO.Styles(), tty: tty, width: f.IO.TerminalWidth(), now: f.Now,
		verbose: f.Global.Verbose, strict: cfg.Strict, live: ui.NewLiveLines(f.IO.Out, tty, f.IO.TerminalWidth())}
}

func (w *watchLines) start(preflight.Config, time.Duration) {
	w.began = w.now()
	w.live.Set(0, "run 1: checking…", true)
}

func (w *watchLines) clock() string { return w.now().Format("15:04:05") }

func (w *watchLines) run(n int, r preflight.Report, changes []preflight.Change) {
	w.runs = n
	if n == 1 {
		w.live.Clear()
		_ = renderPreflight(w.out, w.st, r, w.verbose)
		if r.Failed(w.strict) {
			fmt.Fprintf(w.out, "\n%s\n", w.st.Muted("watching: the checks run again until every one passes (Ctrl-C to stop)"))
		}
		w.live = ui.NewLiveLines(w.out, w.tty, w.width)
	} else {
		at := w.clock()
		for _, c := range changes {
			line := fmt.Sprintf("%s: %s -> %s at %s", c.ID, w.st.Status(string(c.From)), w.st.Status(string(c.To)), at)
			if c.To != preflight.StatusOK {
				line += "  " + w.st.Muted(c.Summary)
			}
			w.live.Println(line)
		}
	}
	failing := failingChecks(r, w.strict)
	w.last = fmt.Sprintf("run %d at %s: %d failing (%s)", n, w.clock(), len(failing), strings.Join(failing, ", "))
}

func (w *watchLines) wait(ctx context.Context, d time.Duration) error {
	err := sleepUntil(ctx, d, func(left time.Duration) {
		w.live.Set(0, fmt.Sprintf("%s; next run in %s", w.last, left.Round(time.Second)), false)
	})
	if err == nil {
		w.live.Set(0, fmt.Sprintf("run %d: checking…", w.runs+1), true)
	}
	return err
}

func (w *watchLines) end(res preflight.WatchResult) {
	w.live.Clear()
	at := w.clock()
	if res.Passed {
		if res.Runs > 1 {
			bell := ""
			if w.tty {
				bell = "\a"
			}
			fmt.Fprintf(w.out, "%s every check passes at %s, after %d runs (%s)%s\n", w.st.OK("✓"), at, res.Runs,
				ui.HumanDuration(w.now().Sub(w.began).Round(time.Second)), bell)
		}
		return
	}
	if res.Runs == 0 {
		fmt.Fprintf(w.out, "%s stopped at %s before the first run finished\n", w.st.Fail("✗"), at)
		return
	}
	failing := failingChecks(res.Last, w.strict)
	fmt.Fprintf(w.out, "%s stopped at %s after %s: %d failing (%s)\n", w.st.Fail("✗"), at, ui.Plural(res.Runs, "run"),
		len(failing), strings.Join(failing, ", "))
}

// sleepUntil waits d or until ctx is done, calling tick with the time left, at once and
// then every second.
func sleepUntil(ctx context.Context, d time.Duration, tick func(left time.Duration)) error {
	deadline := time.Now().Add(d)
	timer := time.NewTimer(max(d, 0))
	defer timer.Stop()
	tick(d)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	ticks := t.C
	for {
		select {
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-ticks:
			tick(time.Until(deadline))
		}
	}
}
