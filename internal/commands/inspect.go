package commands

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/datafiles"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/ui"
)

type inspectOptions struct {
	keys    keySourceOptions
	summary bool
}

func newInspectCmd(f *Factory) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect FILE|DIR...",
		Short: "Describe device data files: whose, which period, intact or not",
		Long: `Describe Smart X data files. Without a key: the header (device serial, key id, file
sequence, creation time, channels, size, chunk count). With the device key: every chunk
is decrypted and verified, and the readings are summarised: time span, record count,
per channel count/min/mean/max with a trend line, and the gaps longer than twice the
sampling interval (the device's offline periods).

Folders are searched for *.sxd files, ordered by device and sequence. A folder holding
several devices' files takes one --bundle per device, or --fetch-keys: the keys of each
device named in the files' headers are fetched from the platform, one request per device
(needs devices:keys; each fetch is audited). --summary prints one line per file (serial,
sequence, period, readings, intact or the damage class) and a total line.
Exit status 1 when a file is damaged or cannot be read.`,
		Example: `  smartx inspect capture/0042.sxd
  SMARTX_DEVICE_KEY=$(cat sx-00042.key) smartx inspect capture/
  smartx inspect --key-file sx-00042.key -o json capture/0042.sxd
  smartx inspect --fetch-keys --summary site-visit/
  smartx inspect --bundle sx-00042.json --bundle sx-00043.json --summary site-visit/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("inspect needs at least one file or folder")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), f, o, args)
		},
	}
	o.keys.bind(cmd.Flags())
	cmd.Flags().BoolVar(&o.summary, "summary", false, "one line per file and a total, for folders of many files")
	return cmd
}

func runInspect(ctx context.Context, f *Factory, o *inspectOptions, paths []string) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	files, err := datafiles.Find(paths)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no data files (*%s) under %s", datafiles.Extension, strings.Join(paths, ", "))
	}
	keys, err := o.keys.keys(ctx, f, files)
	if err != nil {
		return err
	}
	if o.summary {
		return runInspectSummary(f, files, keys, format)
	}
	failed := 0
	var docs []inspectionJSON
	st := f.IO.Styles()
	for i, file := range files {
		in := datafiles.Inspect(file, keys)
		if in.Err != nil || in.LayoutErr != nil {
			failed++
		}
		if format == ui.FormatJSON {
			docs = append(docs, newInspectionJSON(in))
			continue
		}
		if i > 0 {
			fmt.Fprintln(f.IO.Out)
		}
		if err := renderInspection(f.IO.Out, st, in, keys != nil); err != nil {
			return err
		}
	}
	if format == ui.FormatJSON {
		if err := ui.WriteJSON(f.IO.Out, docs); err != nil {
			return err
		}
	}
	if keys == nil && format == ui.FormatTable {
		fmt.Fprintf(f.IO.ErrOut, "chunks were not verified: %s\n", datafiles.KeyHint)
	}
	if failed > 0 {
		fmt.Fprintf(f.IO.ErrOut, "%d of %s %s a problem\n", failed, ui.Plural(len(files), "file"), hasHave(failed))
		return silentExit(exitFailure)
	}
	return nil
}

// renderInspection prints one file's description.
func renderInspection(w io.Writer, st *ui.Styles, in datafiles.Inspection, withKey bool) error {
	var b strings.Builder
	row := func(label, value string) { fmt.Fprintf(&b, "  %-10s %s\n", label, value) }
	if in.File.Err != nil {
		fmt.Fprintf(&b, "%s\n", st.Bold(in.Path))
		row("error", st.Fail(in.File.Err.Error()))
		_, err := io.WriteString(w, b.String())
		return err
	}
	h := in.Header
	fmt.Fprintf(&b, "%s  %s\n", st.Bold(h.Serial+"  sequence "+strconv.FormatUint(h.Sequence, 10)), st.Muted(in.Path))
	row("key id", strconv.FormatUint(uint64(h.KeyID), 10))
	row("created", rfc3339(h.Created))
	row("readings", fmt.Sprintf("from %s, every %s", rfc3339(h.Start), shortDuration(h.Schema.Interval)))
	row("channels", channelList(h.Schema.Channels))
	row("size", sizeLine(in))
	switch {
	case in.Verified:
		row("integrity", st.OK(fmt.Sprintf("✓ every chunk verified (%d)", in.Layout.Chunks)))
	case in.Err != nil:
		row("integrity", st.Fail("✗ "+in.Err.Error()))
	case in.LayoutErr != nil:
		row("integrity", st.Fail("✗ "+in.LayoutErr.Error()))
	case !withKey:
		row("integrity", st.Muted("not verified (no key)"))
	}
	if s := in.Summary; s != nil && s.Records > 0 {
		b.WriteString("\n")
		row("span", fmt.Sprintf("%s → %s (%s)", msTime(s.First), msTime(s.Last), shortDuration(s.Span())))
		records := strconv.FormatInt(s.Records, 10)
		if in.Err != nil {
			records += " (those before the damage)"
		}
		row("records", records)
		b.WriteString("\n")
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		b.Reset()
		tbl := ui.NewTable(w, st, "  channel", "unit", "count", "min", "mean", "max", "trend")
		for i, c := range s.Schema.Channels {
			cs := s.Channels[i]
			if cs.Count == 0 {
				tbl.Row("  "+c.Name, c.Unit, "0", "-", "-", "-", "")
				continue
			}
			tbl.Row("  "+c.Name, c.Unit, strconv.FormatInt(cs.Count, 10),
				string(readings.AppendValue(nil, cs.Min, c.Resolution)),
				formatMean(channelMean(cs, c), c.Resolution),
				string(readings.AppendValue(nil, cs.Max, c.Resolution)),
				st.Accent(ui.Sparkline(s.BucketMeans(i))))
		}
		if err := tbl.Render(); err != nil {
			return err
		}
		if s.GapCount > 0 {
			fmt.Fprintf(&b, "\n  %s longer than %s (offline periods): %d\n", st.Warn("gaps"), shortDuration(2*s.Schema.Interval), s.GapCount)
			for _, g := range s.Gaps {
				fmt.Fprintf(&b, "    %s → %s  %s\n", msTime(g.Start), msTime(g.End), shortDuration(g.Duration()))
			}
			if int64(len(s.Gaps)) < s.GapCount {
				fmt.Fprintf(&b, "    … and %d more (-o json lists the first %d)\n", s.GapCount-int64(len(s.Gaps)), len(s.Gaps))
			}
		} else {
			fmt.Fprintf(&b, "\n  no gap longer than %s\n", shortDuration(2*s.Schema.Interval))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// hasHave agrees the verb with a count: "1 of 2 files has", "2 of 2 files have".
func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

func sizeLine(in datafiles.Inspection) string {
	h := in.Header
	s := fmt.Sprintf("%s (header %d B", ui.HumanBytes(in.Size), h.Size)
	if in.LayoutErr == nil {
		s += ", " + ui.Plural(in.Layout.Chunks, "chunk")
		s += fmt.Sprintf(" of up to %s, %s of readings", ui.HumanBytes(int64(h.ChunkSize)), ui.HumanBytes(in.Layout.PayloadBytes))
	}
	return s + ")"
}

// channelList renders a schema as "main [W], voltage [0.1 V], ...": the unit with the
// resolution values are counted in.
func channelList(chs []readings.Channel) string {
	parts := make([]string, len(chs))
	for i, c := range chs {
		parts[i] = c.Name + " [" + resolutionUnit(c) + "]"
	}
	return strings.Join(parts, ", ")
}

func resolutionUnit(c readings.Channel) string {
	if c.Resolution == 0 {
		return c.Unit
	}
	return strings.TrimSpace(string(readings.AppendValue(nil, 1, c.Resolution)) + " " + c.Unit)
}

// channelMean is the mean in the channel's unit (the summary averages resolution steps).
func channelMean(cs readings.ChannelStats, c readings.Channel) float64 {
	return cs.Mean() * readings.Float(1, c.Resolution)
}

// formatMean prints a mean with one digit more than the channel's resolution.
func formatMean(v float64, resolution int) string {
	return strconv.FormatFloat(v, 'f', max(-resolution+1, 0), 64)
}

// shortDuration prints 1m rather than 1m0s, 2h37m rather than 2h37m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func msTime(ms int64) string { return string(readings.AppendTime(nil, ms, time.UTC)) }

// inspectionJSON is the documented JSON shape of one inspected file (docs/file-format.md).
type inspectionJSON struct {
	File         string         `json:"file"`
	SizeBytes    int64          `json:"size_bytes"`
	Error        string         `json:"error,omitempty"`
	Header       *headerJSON    `json:"header,omitempty"`
	Chunks       int64          `json:"chunks,omitempty"`
	PayloadBytes int64          `json:"payload_bytes,omitempty"`
	Verified     bool           `json:"verified"`
	Summary      *summaryJSON   `json:"summary,omitempty"`
	Channels     []channelStats `json:"channels,omitempty"`
}

type headerJSON struct {
	Serial     string        `json:"serial"`
	KeyID      uint32        `json:"key_id"`
	Sequence   uint64        `json:"sequence"`
	Created    time.Time     `json:"created"`
	Start      time.Time     `json:"start"`
	IntervalMS int64         `json:"interval_ms"`
	ChunkSize  int           `json:"chunk_size"`
	HeaderSize int           `json:"header_size"`
	Channels   []channelJSON `json:"channels"`
}

type channelJSON struct {
	Name       string `json:"name"`
	Unit       string `json:"unit"`
	Resolution int    `json:"resolution"`
}

type summaryJSON struct {
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	SpanMS   int64     `json:"span_ms"`
	Records  int64     `json:"records"`
	GapCount int64     `json:"gap_count"`
	Gaps     []gapJSON `json:"gaps"`
}

type gapJSON struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationMS int64     `json:"duration_ms"`
}

type channelStats struct {
	Name  string     `json:"name"`
	Unit  string     `json:"unit"`
	Count int64      `json:"count"`
	Min   *float64   `json:"min"`
	Mean  *float64   `json:"mean"`
	Max   *float64   `json:"max"`
	Trend []*float64 `json:"trend"` // per-bucket means, null where the bucket has no reading
}

func newInspectionJSON(in datafiles.Inspection) inspectionJSON {
	doc := inspectionJSON{File: in.Path, SizeBytes: in.Size, Verified: in.Verified}
	if err := firstErr(in.Err, in.LayoutErr); err != nil {
		doc.Error = err.Error()
	}
	if in.File.Err != nil {
		return doc
	}
	h := in.Header
	hj := &headerJSON{Serial: h.Serial, KeyID: h.KeyID, Sequence: h.Sequence, Created: h.Created.UTC(), Start: h.Start.UTC(),
		IntervalMS: h.Schema.Interval.Milliseconds(), ChunkSize: h.ChunkSize, HeaderSize: h.Size}
	for _, c := range h.Schema.Channels {
		hj.Channels = append(hj.Channels, channelJSON{Name: c.Name, Unit: c.Unit, Resolution: c.Resolution})
	}
	doc.Header = hj
	if in.LayoutErr == nil {
		doc.Chunks, doc.PayloadBytes = in.Layout.Chunks, in.Layout.PayloadBytes
	}
	s := in.Summary
	if s == nil {
		return doc
	}
	sj := &summaryJSON{Records: s.Records, GapCount: s.GapCount, Gaps: []gapJSON{}}
	if s.Records > 0 {
		sj.First, sj.Last, sj.SpanMS = time.UnixMilli(s.First).UTC(), time.UnixMilli(s.Last).UTC(), s.Last-s.First
	}
	for _, g := range s.Gaps {
		sj.Gaps = append(sj.Gaps, gapJSON{Start: time.UnixMilli(g.Start).UTC(), End: time.UnixMilli(g.End).UTC(), DurationMS: g.End - g.Start})
	}
	doc.Summary = sj
	for i, c := range s.Schema.Channels {
		cs := s.Channels[i]
		st := channelStats{Name: c.Name, Unit: c.Unit, Count: cs.Count, Trend: []*float64{}}
		if cs.Count > 0 {
			lo, mean, hi := readings.Float(cs.Min, c.Resolution), channelMean(cs, c), readings.Float(cs.Max, c.Resolution)
			st.Min, st.Mean, st.Max = &lo, &mean, &hi
			for _, v := range s.BucketMeans(i) {
				if math.IsNaN(v) { // JSON has no NaN
					st.Trend = append(st.Trend, nil)
				} else {
					st.Trend = append(st.Trend, &v)
				}
			}
		}
		doc.Channels = append(doc.Channels, st)
	}
	return doc
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
