package commands

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/preflight/history"
	"github.com/smart-impulse/smartx/internal/ui"
)

// historyFolder is the history's folder inside the smartx configuration folder.
const historyFolder = "preflight-history"

// historyStore is where preflight runs are kept: preflight-history in the smartx
// configuration folder, which SMARTX_CONFIG_DIR moves (tests, portable setups).
func historyStore(f *Factory) (history.Store, error) {
	dir, err := config.Dir(f.Getenv)
	if err != nil {
		return history.Store{}, err
	}
	return history.Store{Dir: filepath.Join(dir, historyFolder)}, nil
}

func newPreflightHistoryCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List the preflight runs kept on this laptop",
		Long: fmt.Sprintf(`List the preflight runs kept on this laptop, newest first: when, where, for which device,
and how they went. Every smartx preflight run is kept (unless --no-history), up to the last
%d runs and %d MiB, in the smartx configuration folder; smartx preflight report ID shows one
again or writes its report for IT.`, history.DefaultMaxRuns, history.DefaultMaxBytes>>20),
		Example: `  smartx preflight history
  smartx preflight history -o json | jq '.[] | select(.failed) | .id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPreflightHistory(f)
		},
	}
}

func runPreflightHistory(f *Factory) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	store, err := historyStore(f)
	if err != nil {
		return err
	}
	list, err := store.List()
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		if list == nil {
			list = []history.Entry{}
		}
		return ui.WriteJSON(f.IO.Out, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(f.IO.ErrOut, "no run kept yet: every smartx preflight run is kept here")
		return nil
	}
	st := f.IO.Styles()
	tbl := ui.NewTable(f.IO.Out, st, "id", "when", "site", "serial", "result", "from")
	for _, e := range list {
		from := orDash(e.Hostname)
		if e.SourceIP != "" && e.SourceIP != "unknown" {
			from += " (" + e.SourceIP + ")"
		}
		tbl.Row(strconv.Itoa(e.ID), e.Generated.Local().Format("2006-01-02 15:04"), orDash(e.Site), orDash(e.Serial),
			runResult(st, e.Counts, e.Interrupted), from)
	}
	return tbl.Render()
}

// runResult is a kept run's result in a few words.
func runResult(st *ui.Styles, c preflight.Counts, interrupted bool) string {
	text := countsText(st, c)
	if interrupted {
		text += ", interrupted"
	}
	return text
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// preflightReportOptions are the settings of `smartx preflight report`.
type preflightReportOptions struct {
	report string
	lang   string
}

func newPreflightReportCmd(f *Factory) *cobra.Command {
	o := &preflightReportOptions{}
	cmd := &cobra.Command{
		Use:   "report [ID]",
		Short: "Show a kept preflight run again, or write its report for IT",
		Long: `Show a preflight run kept in the history (the newest when no ID is given, as listed by
smartx preflight history) as the table it printed, or its JSON document with -o json.
--report writes its report for the site's IT department, as the run's own --report would
have, in French with --lang fr.`,
		Example: `  smartx preflight report                         # the last run
  smartx preflight report 12 --report paris-it.html
  smartx preflight report 12 --report paris-it.md --lang fr
  smartx preflight report 12 -o json > run-12.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPreflightReport(f, o, optionalArg(args))
		},
	}
	cmd.Flags().StringVar(&o.report, "report", "", "write the run's report for the site's IT department to FILE.html or FILE.md")
	cmd.Flags().StringVar(&o.lang, "lang", "en", "language of the report: en or fr")
	return cmd
}

func runPreflightReport(f *Factory, o *preflightReportOptions, idText string) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	writeReport, err := reportWriter(o.report, o.lang)
	if err != nil {
		return err
	}
	rep, id, err := keptRun(f, idText)
	if err != nil {
		return err
	}
	if writeReport != nil {
		if err := writeReport(rep); err != nil {
			return err
		}
		fmt.Fprintf(f.IO.ErrOut, "report of run %d for the IT department written to %s\n", id, o.report)
		return nil
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, rep)
	}
	fmt.Fprintf(f.IO.Out, "Run %d, %s from %s\n", id, rep.Generated.Local().Format("2006-01-02 15:04:05"), orDash(rep.Run.Hostname))
	return renderPreflight(f.IO.Out, f.IO.Styles(), rep, f.Global.Verbose)
}

// optionalArg is the argument of a command that takes at most one, "" without.
func optionalArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// keptRun loads a run from the history by its number as smartx preflight history lists it
// ("" or "last": the newest), and returns it with its number.
func keptRun(f *Factory, idText string) (preflight.Report, int, error) {
	id := 0
	if idText != "" && idText != "last" {
		var err error
		if id, err = strconv.Atoi(idText); err != nil || id < 1 {
			return preflight.Report{}, 0, usageErrorf("run %q: give a run's number, as smartx preflight history lists them, or last", idText)
		}
	}
	store, err := historyStore(f)
	if err != nil {
		return preflight.Report{}, 0, err
	}
	var rep preflight.Report
	if id == 0 {
		rep, id, err = store.Latest()
	} else {
		rep, err = store.Load(id)
	}
	switch {
	case errors.Is(err, history.ErrEmpty):
		return rep, id, errors.New("no run kept yet: run smartx preflight first")
	case errors.Is(err, history.ErrNotFound):
		return rep, id, fmt.Errorf("no run %d in the history (it keeps the last %d): smartx preflight history lists them", id, history.DefaultMaxRuns)
	}
	return rep, id, err
}
