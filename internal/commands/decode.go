package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/datafiles"
	"github.com/smart-impulse/smartx/internal/errtext"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/timeexpr"
	"github.com/smart-impulse/smartx/internal/ui"
)

type decodeOptions struct {
	keys      keySourceOptions
	format    string
	out       string
	from, to  string
	channels  []string
	wide      bool
	keepGoing bool
	tz        string
}

func newDecodeCmd(f *Factory) *cobra.Command {
	o := &decodeOptions{}
	cmd := &cobra.Command{
		Use:   "decode FILE|DIR...",
		Short: "Decrypt device data files and write their readings",
		Long: `Decrypt Smart X data files, verify every chunk, and write the readings as a table,
CSV, NDJSON or JSON. Folders are searched for *.sxd files and decoded in order of device
and file sequence.

The format is --format, else -o, else the --out file's extension, else a table on a
terminal and CSV when piped. --out writes through a temporary file renamed at the end,
so a failure never leaves half a file. Without --keep-going the first damaged file
stops the run; with it, every file is tried and a summary of the failures is printed
(exit status 1 when any failed).

A folder holding several devices' files takes one --bundle per device, or --fetch-keys:
the keys of each device named in the files' headers are fetched from the platform, one
request per device (needs devices:keys; each fetch is audited).`,
		Example: `  smartx decode --key-file sx-00042.key capture/0042.sxd
  smartx decode --key-file sx-00042.key capture/ --format csv --out week.csv
  smartx decode capture/ --wide --channel main,hvac --from 2026-11-20 --to 2026-11-21 > day.csv
  smartx decode capture/ --keep-going --format ndjson | jq .
  smartx decode --fetch-keys site-visit/ --out site.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("decode needs at least one file or folder")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDecode(cmd.Context(), f, o, args)
		},
	}
	fs := cmd.Flags()
	o.keys.bind(fs)
	fs.StringVar(&o.format, "format", "", "table, csv, ndjson or json")
	fs.StringVar(&o.out, "out", "", "write to FILE instead of stdout (atomically)")
	fs.StringVar(&o.from, "from", "", "first time to include: "+timeexpr.Help)
	fs.StringVar(&o.to, "to", "", "time to stop before (same forms as --from)")
	fs.StringSliceVar(&o.channels, "channel", nil, "only these channels (repeat or comma-separate)")
	fs.BoolVar(&o.wide, "wide", false, "one row per timestamp with a column per channel")
	fs.BoolVar(&o.keepGoing, "keep-going", false, "report damaged files and carry on with the others")
	fs.StringVar(&o.tz, "tz", "UTC", `time zone of printed times: UTC, "local" or an IANA name such as Europe/Paris`)
	return cmd
}

// readingsFormat picks the export format from --format, -o, the output file's extension, and
// whether stdout is a terminal, in that order.
func readingsFormat(explicit, global, out string, tty bool) (readings.ExportFormat, error) {
	if explicit != "" && global != "" && !strings.EqualFold(explicit, global) {
		return "", usageErrorf("-o %s and --format %s disagree: give one of them", global, explicit)
	}
	choice := explicit
	if choice == "" {
		choice = global
	}
	if choice == "" && out != "" {
		switch strings.ToLower(filepath.Ext(out)) {
		case ".csv":
			choice = "csv"
		case ".ndjson", ".jsonl":
			choice = "ndjson"
		case ".json":
			choice = "json"
		default:
			choice = "csv"
		}
	}
	if choice == "" {
		choice = "csv"
		if tty {
			choice = "table"
		}
	}
	switch strings.ToLower(choice) {
	case "table":
		return readings.ExportText, nil
	case "csv":
		return readings.ExportCSV, nil
	case "ndjson":
		return readings.ExportNDJSON, nil
	case "json":
		return readings.ExportJSON, nil
	}
	return "", usageErrorf("unknown format %q: use table, csv, ndjson or json", choice)
}

func parseLocation(tz string) (*time.Location, error) {
	switch strings.ToLower(tz) {
	case "", "utc", "z":
		return time.UTC, nil
	case "local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, usageErrorf("--tz %q: not a time zone: use UTC, local or an IANA name such as Europe/Paris", tz)
	}
	return loc, nil
}

// parseRange reads --from and --to; dates without a zone are in loc.
func parseRange(now time.Time, from, to string, loc *time.Location) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	if from != "" {
		if f, err = timeexpr.Parse(from, now, loc); err != nil {
			return f, t, usageErrorf("--from: %w", err)
		}
	}
	if to != "" {
		if t, err = timeexpr.Parse(to, now, loc); err != nil {
			return f, t, usageErrorf("--to: %w", err)
		}
	}
	if !f.IsZero() && !t.IsZero() && !t.After(f) {
		return f, t, usageErrorf("--to (%s) must be after --from (%s)", t.Format(time.RFC3339), f.Format(time.RFC3339))
	}
	return f, t, nil
}

func runDecode(ctx context.Context, f *Factory, o *decodeOptions, paths []string) error {
	format, err := readingsFormat(o.format, f.Global.Output, o.out, f.IO.IsStdoutTTY())
	if err != nil {
		return err
	}
	loc, err := parseLocation(o.tz)
	if err != nil {
		return err
	}
	from, to, err := parseRange(f.Now(), o.from, o.to, loc)
	if err != nil {
		return err
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
	if keys == nil {
		return fmt.Errorf("%w: %s", datafiles.ErrNoKey, datafiles.KeyHint)
	}
	filter := datafiles.Filter{From: from, To: to, Channels: o.channels}
	columns, err := datafiles.Columns(files, filter)
	if err != nil {
		return &usageError{err: err}
	}
	opts := readings.ExportOptions{Location: loc, Wide: o.wide, Columns: columns}
	for _, file := range files {
		opts.DeviceWidth = max(opts.DeviceWidth, len(file.Header.Serial))
	}

	var results []datafiles.Decoded
	decodeTo := func(w io.Writer) error {
		exp, err := readings.NewExporter(w, format, opts)
		if err != nil {
			return err
		}
		progress := f.IO.NewProgress("decode", "file", int64(len(files)))
		var total int64
		results, err = datafiles.Decode(ctx, files, keys, filter, exp, o.keepGoing, func(d datafiles.Decoded) {
			total += d.Readings
			progress.SetExtra(fmt.Sprintf("%s readings", ui.HumanCount(float64(total))))
			progress.Add(1)
		})
		progress.Done()
		if cerr := exp.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if o.out != "" {
		err = writeFileAtomic(o.out, 0o644, func(w *os.File) error { return decodeTo(w) })
	} else {
		err = decodeTo(f.IO.Out)
	}
	if err != nil {
		return err
	}
	var failed []datafiles.Decoded
	var total int64
	for _, d := range results {
		total += d.Readings
		if d.Err != nil {
			failed = append(failed, d)
		}
	}
	if o.out != "" {
		fmt.Fprintf(f.IO.ErrOut, "%s from %s written to %s\n", ui.Plural(total, "reading"), ui.Plural(len(results)-len(failed), "file"), o.out)
	}
	if len(failed) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "%d of %s could not be decoded:\n", len(failed), ui.Plural(len(results), "file"))
		for _, d := range failed {
			fmt.Fprintf(f.IO.ErrOut, "  %s: %s\n", d.Path, errtext.Of(d.Err))
		}
		return silentExit(exitFailure)
	}
	return nil
}
