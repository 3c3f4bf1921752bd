package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/timeexpr"
	"github.com/smart-impulse/smartx/internal/ui"
)

type deviceSimulateOptions struct {
	bundle, spool string
	interval      durationFlag
	filePeriod    durationFlag
	duration      durationFlag
	spoolCap      durationFlag
	drainTimeout  durationFlag
	speed         float64
	start         string
	outages       []string
	seed          uint64
}

func newDeviceSimulateCmd(f *Factory) *cobra.Command {
	o := &deviceSimulateOptions{
		interval: durationFlag(device.DefaultInterval), filePeriod: durationFlag(device.DefaultFilePeriod),
		spoolCap: durationFlag(device.DefaultSpoolCap), drainTimeout: durationFlag(device.DefaultDrainTimeout),
	}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run a Smart X in software from a provisioning bundle",
		Long: `Run a faithful Smart X in software: it measures a synthetic building every --interval,
writes one encrypted data file per --file-period into the spool directory (temporary file,
fsync, rename), and uploads the files oldest first over HTTPS to the bundle's server (TLS 1.2
at least, the bundle's CA pinned, the bundle's proxy if any). A file leaves the spool only
once the platform acknowledged it.

While the server is unreachable, or during an --outage, files pile up in the spool and
uploads are retried with capped backoff. The spool keeps --spool-cap of data (about a month,
as the device does); beyond it the oldest files are dropped, and the loss is reported to the
platform at the next contact: it shows in 'smartx device status'.

--speed runs the device's clock faster than real time (--speed 86400 makes a day pass in a
second). Stopped or killed, the simulator resumes where it stopped when started again on the
same spool: no partial file, no sequence number used twice. With --duration it stops after
that much simulated time, once the spool is empty (at most --drain-timeout of real time).

Outages are START+DURATION: START is a time (RFC 3339 or a date, UTC without a zone) or
+AMOUNT after the simulated time this run starts at (a new spool's --start, or where a
resumed spool stopped); DURATION is an amount with a unit (s, m, h, d, w).

The log shows connections, outages, drops, rejections and loss reports; --verbose adds every
file spooled and uploaded and every failed attempt.`,
		Example: `  # a week in about ten seconds, with a day without network on the third day
  smartx device simulate --bundle sx-00042.json --spool ./spool --start 2026-11-02 \
      --duration 7d --speed 60000 --outage +2d+1d

  # a month offline that overflows a one-week spool: the loss shows in device status
  smartx device simulate --bundle sx-00042.json --spool ./spool --spool-cap 7d \
      --duration 35d --speed 500000 --outage +1d+30d`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Unset, the interval and the period are a new spool's defaults or a resumed
			// spool's own: passing the defaults would refuse a spool made with others.
			if !cmd.Flags().Changed("interval") {
				o.interval = 0
			}
			if !cmd.Flags().Changed("file-period") {
				o.filePeriod = 0
			}
			return runDeviceSimulate(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.bundle, "bundle", "", "the device's provisioning bundle, from 'smartx device provision' (required)")
	fs.StringVar(&o.spool, "spool", "", "the spool directory, created if missing; reuse it to resume (required)")
	fs.Var(&o.interval, "interval", "time between two readings")
	fs.Var(&o.filePeriod, "file-period", "time one data file covers")
	fs.Float64Var(&o.speed, "speed", 1, "how much faster than real time the device's clock runs")
	fs.StringVar(&o.start, "start", "", "simulated time of a new spool's first reading (default now); "+timeexpr.Help)
	fs.Var(&o.duration, "duration", "stop after this much simulated time, once the spool is sent (default: run until interrupted)")
	fs.StringArrayVar(&o.outages, "outage", nil, "a period without network, START+DURATION (repeatable)")
	fs.Var(&o.spoolCap, "spool-cap", "how much data the spool keeps before dropping the oldest files")
	fs.Var(&o.drainTimeout, "drain-timeout", "after --duration, how long (real time) to keep sending what the spool holds")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the synthetic building (default: derived from the serial)")
	_ = cmd.MarkFlagRequired("bundle")
	_ = cmd.MarkFlagRequired("spool")
	return cmd
}

// simulateSummary is the result of a run, printed as JSON with -o json.
type simulateSummary struct {
	DeviceID          string    `json:"device_id"`
	Serial            string    `json:"serial"`
	SimulatedNow      time.Time `json:"simulated_now"`
	NextSequence      uint64    `json:"next_sequence"`
	FilesSpooled      int       `json:"files_spooled"`
	ReadingsGenerated int64     `json:"readings_generated"`
	FilesUploaded     int       `json:"files_uploaded"`
	FilesDuplicate    int       `json:"files_duplicate"`
	FilesRejected     int       `json:"files_rejected"`
	FilesDropped      int       `json:"files_dropped"`
	FilesPending      int       `json:"files_pending"`
	LossesPending     int       `json:"losses_pending"`
	Seed              uint64    `json:"seed"`
	Origin            time.Time `json:"origin"`
	Interval          string    `json:"interval"`
	LastError         string    `json:"last_error,omitempty"`
	Interrupted       bool      `json:"interrupted"`
}

func runDeviceSimulate(ctx context.Context, f *Factory, o *deviceSimulateOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	b, warning, err := device.LoadBundle(o.bundle)
	if err != nil {
		return usageErrorf("--bundle: %w", err)
	}
	es := f.IO.ErrStyles()
	if warning != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", es.Warn("warning:"), warning)
	}
	cfg := device.Config{
		Bundle: b, SpoolDir: o.spool, Speed: o.speed, Seed: o.seed,
		Interval: time.Duration(o.interval), FilePeriod: time.Duration(o.filePeriod),
		Duration: time.Duration(o.duration), SpoolCap: time.Duration(o.spoolCap),
		DrainTimeout: time.Duration(o.drainTimeout),
	}
	if o.start != "" {
		if cfg.Start, err = timeexpr.Parse(o.start, f.Now().UTC(), time.UTC); err != nil {
			return usageErrorf("--start: %w", err)
		}
	}
	for _, s := range o.outages {
		out, err := device.ParseOutage(s)
		if err != nil {
			return usageErrorf("--outage: %w", err)
		}
		cfg.Outages = append(cfg.Outages, out)
	}

	live := f.IO.NewLiveLines()
	r := &simulateRenderer{live: live, st: es, verbose: f.Global.Verbose}
	cfg.OnEvent = r.event
	sim, err := device.New(cfg)
	if err != nil {
		return usageErrorf("%w", err)
	}
	r.sim = sim

	stopTicker := r.tick(ctx)
	runErr := sim.Run(ctx)
	stopTicker()
	r.mu.Lock()
	r.flushDropped()
	r.mu.Unlock()
	live.Clear()

	st := sim.Stats()
	sum := simulateSummary{
		DeviceID: b.DeviceID, Serial: b.Serial, SimulatedNow: st.SimulatedNow.UTC(), NextSequence: st.NextSequence,
		FilesSpooled: st.FilesSpooled, ReadingsGenerated: st.ReadingsGenerated, FilesUploaded: st.FilesUploaded,
		FilesDuplicate: st.FilesDuplicate, FilesRejected: st.FilesRejected, FilesDropped: st.FilesDropped,
		FilesPending: st.FilesPending, LossesPending: st.LossesPending, Seed: st.Seed, Origin: st.Origin.UTC(),
		Interval: st.Interval.String(), Interrupted: ctx.Err() != nil,
	}
	if st.LastError != nil {
		sum.LastError = st.LastError.Error()
	}
	started := !st.Origin.IsZero() // the spool opened: there is a run to sum up
	switch {
	case !started:
	case format == ui.FormatJSON:
		if err := ui.WriteJSON(f.IO.Out, sum); err != nil {
			return err
		}
	default:
		fmt.Fprintln(f.IO.Out, summaryLine(sum))
	}

	switch {
	case runErr == nil && sum.Interrupted:
		fmt.Fprintf(f.IO.ErrOut, "stopped: run the same command on %s to resume\n", o.spool)
		return silentExit(exitInterrupted)
	case errors.Is(runErr, device.ErrDrainTimeout):
		return fmt.Errorf("%s still in %s after the drain timeout (last error: %s): run again on the same spool to send them",
			ui.Plural(sum.FilesPending, "file"), o.spool, orNone(sum.LastError))
	case errors.Is(runErr, device.ErrCredentialRefused):
		return fmt.Errorf("the platform refused the upload credential of %s: provision the device again ('smartx device provision') and use the new bundle", b.Serial)
	case errors.Is(runErr, device.ErrSpoolInUse), errors.Is(runErr, device.ErrSpoolMismatch):
		return usageErrorf("--spool %s: %w", o.spool, runErr)
	case runErr != nil:
		return fmt.Errorf("simulate %s: %w", b.Serial, runErr)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// summaryLine is the result of a run in one line.
func summaryLine(s simulateSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: simulated up to %s; %s spooled (%s), %d uploaded",
		s.Serial, s.SimulatedNow.Format(time.RFC3339), ui.Plural(s.FilesSpooled, "file"), ui.Plural(s.ReadingsGenerated, "reading"), s.FilesUploaded)
	if s.FilesDuplicate > 0 {
		fmt.Fprintf(&b, " (%d the platform already had)", s.FilesDuplicate)
	}
	fmt.Fprintf(&b, ", %d pending", s.FilesPending)
	if s.FilesDropped > 0 {
		fmt.Fprintf(&b, ", %d dropped from the full spool", s.FilesDropped)
	}
	if s.FilesRejected > 0 {
		fmt.Fprintf(&b, ", %d rejected", s.FilesRejected)
	}
	if s.LossesPending > 0 {
		fmt.Fprintf(&b, ", %d loss records not yet reported", s.LossesPending)
	}
	return b.String()
}

// simulateRenderer shows a run: a live status line on a terminal, and a log of what matters
// (connection changes, drops, rejections; every file with --verbose).
type simulateRenderer struct {
	live    *ui.LiveLines
	st      *ui.Styles
	verbose bool
	sim     *device.Simulator

	mu      sync.Mutex
	dropped []device.Loss // drops not yet logged, coalesced into runs
}

// tick refreshes the status line until the returned function is called.
func (r *simulateRenderer) tick(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			r.status()
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *simulateRenderer) status() {
	if r.sim == nil {
		return
	}
	s := r.sim.Stats()
	if s.SimulatedNow.IsZero() {
		r.live.Set(0, "opening the spool", true)
		return
	}
	line := fmt.Sprintf("%s  spooled %d · uploaded %d · pending %d", s.SimulatedNow.UTC().Format("2006-01-02 15:04"),
		s.FilesSpooled, s.FilesUploaded, s.FilesPending)
	if s.FilesDropped > 0 {
		line += fmt.Sprintf(" · dropped %d", s.FilesDropped)
	}
	switch {
	case s.UploadsStopped:
		line += " · " + r.st.Fail("uploads stopped")
	case s.LastError != nil:
		line += " · " + r.st.Warn("last error: "+s.LastError.Error())
	case s.Draining:
		line += " · draining"
	}
	r.live.Set(0, line, true)
}

func (r *simulateRenderer) event(e device.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Kind == device.EventFileDropped && e.Loss != nil {
		if n := len(r.dropped); n > 0 && r.dropped[n-1].LastSequence+1 == e.Loss.FirstSequence {
			r.dropped[n-1].LastSequence, r.dropped[n-1].To = e.Loss.LastSequence, e.Loss.To
			r.dropped[n-1].Files += e.Loss.Files
		} else {
			r.dropped = append(r.dropped, *e.Loss)
		}
		return
	}
	stamp := r.st.Muted(e.SimTime.UTC().Format("2006-01-02T15:04Z"))
	var line string
	switch e.Kind {
	case device.EventFileSpooled, device.EventFileUploaded:
		if r.verbose {
			line = e.Message
		}
	case device.EventFileRejected, device.EventUploadsStopped:
		line = r.st.Fail(e.Message)
	case device.EventDisconnected:
		line = r.st.Warn(e.Message)
	case device.EventUploadFailed:
		if r.verbose {
			line = r.st.Warn(e.Message)
		}
	default: // resumed, connected, losses reported, draining
		line = e.Message
	}
	if line == "" {
		return
	}
	r.flushDropped() // runs of drops are logged whole, before what follows them
	r.live.Println(stamp + " " + line)
}

// flushDropped logs the runs of dropped files as one line each; r.mu is held.
func (r *simulateRenderer) flushDropped() {
	for _, l := range r.dropped {
		r.live.Println(r.st.Warn(fmt.Sprintf("spool full: dropped %s (sequences %d-%d, %s to %s); the loss will be reported",
			ui.Plural(int(l.Files), "file"), l.FirstSequence, l.LastSequence, l.From.UTC().Format("2006-01-02T15:04Z"), l.To.UTC().Format("2006-01-02T15:04Z"))))
	}
	r.dropped = r.dropped[:0]
}

// durationFlag is a flag holding a length of time written as users do: 30d, 1h30m, 90s.
type durationFlag time.Duration

// String writes the value back in the flag's own syntax: 31d, 1h, 1m30s.
func (d *durationFlag) String() string {
	v := time.Duration(*d)
	if v == 0 {
		return "" // unset: help shows no default
	}
	if v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (d *durationFlag) Set(s string) error {
	v, err := timeexpr.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationFlag(v)
	return nil
}

func (d *durationFlag) Type() string { return "duration" }
