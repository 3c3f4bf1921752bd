package commands

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newSiteStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "status ID|NAME",
		Short: "A site at a glance: latest preflight runs, devices' contact, losses, what needs attention",
		Long: `Show, in one screen, what support looks at when a customer calls: the latest preflight run
sent for each device of the site (when, by whom, from which network, which checks failed),
each device in service with its last contact, missing files, spool losses and periods
without readings, and what needs attention.

Exit status 1 when something needs attention: the latest preflight run of a device (or of
the site) has a check that failed or could not run; a device never contacted the platform
although registered over 2 hours ago, or has been silent for more than 2 hours; its last
upload was refused and none accepted since; files are missing that the device did not report
dropping; or spool losses were reported, or periods without readings ended, in the last 7
days. An old preflight run is no reason by itself: once the devices talk to the platform,
their contact is the live truth. Needs devices:read, which every role has.`,
		Example: `  smartx site status "Paris HQ"
  smartx site status "Paris HQ" -o json | jq -r '.attention[].detail'`,
		Args: exactArgs(1, "a site id or name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSiteStatus(cmd.Context(), f, args[0])
		},
	}
}

func runSiteStatus(ctx context.Context, f *Factory, ref string) error {
	format, c, err := f.tableOrJSONClient()
	if err != nil {
		return err
	}
	id, err := resolveSiteID(ctx, c, ref)
	if err != nil {
		return err
	}
	s, err := c.SiteStatus(ctx, id)
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		err = ui.WriteJSON(f.IO.Out, s)
	} else {
		width := 0
		if f.IO.IsStdoutTTY() {
			width = f.IO.TerminalWidth()
		}
		err = renderSiteStatus(f.IO.Out, f.IO.Styles(), s, width)
	}
	if err != nil {
		return err
	}
	if len(s.Attention) > 0 {
		return silentExit(exitFailure)
	}
	return nil
}

// renderSiteStatus prints a site's status for a person: the latest preflight runs and the
// checks that did not pass, the devices, then what needs attention. Ages count from the
// server's time of the answer, so a laptop's wrong clock does not change them. width fits the
// tables to a terminal (0: no limit).
func renderSiteStatus(w io.Writer, st *ui.Styles, s api.SiteStatus, width int) error {
	now := s.At
	age := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", formatDate(*t), humanSince(*t, now))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s  %s\n", st.Bold(s.Site.Name), st.Muted(s.Site.ID), st.Muted("at "+formatDate(now)+" UTC"))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}

	fmt.Fprintf(w, "\n%s\n", st.Bold("Preflight, the latest run for each device"))
	if len(s.Preflight) == 0 {
		fmt.Fprintf(w, "  %s\n", st.Muted("none kept (runs are kept 30 days: smartx preflight --upload sends one)"))
	} else {
		tbl := ui.NewTable(w, st, "device", "ran", "by", "from", "result")
		tbl.SetWidth(width)
		for _, r := range s.Preflight {
			by := r.UploadedBy.Email
			if by == "" {
				by = r.UploadedBy.UserID + " (deleted)"
			}
			from := r.SourceIP
			if r.LocalIP != "" && r.LocalIP != r.SourceIP {
				from += ", laptop " + r.LocalIP
			}
			tbl.Row(orDash(r.Serial), age(&r.GeneratedAt), by, from, runResult(st, preflight.Counts(r.Counts), r.Interrupted))
		}
		if err := tbl.Render(); err != nil {
			return err
		}
		for _, r := range s.Preflight {
			for _, c := range r.Checks {
				if c.Status != "fail" && c.Status != "error" {
					continue
				}
				fmt.Fprintf(w, "  %s %s %s  %s\n", orDash(r.Serial), st.Status(c.Status), c.ID, c.Summary)
				if c.Hint != "" {
					fmt.Fprintf(w, "    %s\n", st.Muted(c.Hint))
				}
				if c.Rule != "" {
					fmt.Fprintf(w, "    %s\n", c.Rule)
				}
			}
		}
	}

	fmt.Fprintf(w, "\n%s\n", st.Bold(fmt.Sprintf("Devices in service (%d)", len(s.Devices))))
	if len(s.Devices) == 0 {
		fmt.Fprintf(w, "  %s\n", st.Muted("none: smartx device provision registers one"))
	} else {
		recent := fmt.Sprintf("gaps (last %s)", ui.Plural(s.RecentSeconds/86400, "day"))
		tbl := ui.NewTable(w, st, "serial", "last contact", "files", "missing", "lost", recent, "last refusal")
		tbl.SetWidth(width)
		tbl.KeepWhole(0)
		for _, d := range s.Devices {
			missing := strconv.FormatInt(d.MissingFiles, 10)
			if d.UnreportedMissingFiles > 0 {
				missing += fmt.Sprintf(" (%d unexplained)", d.UnreportedMissingFiles)
			}
			gaps := "0"
			if d.RecentGaps > 0 {
				gaps = fmt.Sprintf("%d, %s", d.RecentGaps, shortDuration(time.Duration(d.RecentGapSeconds*float64(time.Second)).Round(time.Minute)))
			}
			refusal := "-"
			if r := d.LastRejection; r != nil {
				refusal = fmt.Sprintf("%s ago: %s", humanSince(r.At, now), strings.TrimSpace(string(r.Code)+" "+string(r.Reason)))
			}
			tbl.Row(d.Serial, age(d.LastContactAt), strconv.FormatInt(d.FilesReceived, 10), missing,
				strconv.FormatInt(d.LostFiles, 10), gaps, refusal)
		}
		if err := tbl.Render(); err != nil {
			return err
		}
	}

	if len(s.Attention) == 0 {
		_, err := fmt.Fprintf(w, "\n%s nothing needs attention\n", st.OK("✓"))
		return err
	}
	fmt.Fprintf(w, "\n%s\n", st.Bold(fmt.Sprintf("Needs attention (%d)", len(s.Attention))))
	for _, a := range s.Attention {
		mark := st.Warn("!")
		if a.Kind == api.AttentionPreflightFailed || a.Kind == api.AttentionNeverSeen || a.Kind == api.AttentionSilent ||
			a.Kind == api.AttentionUploadRefused {
			mark = st.Fail("✗")
		}
		if _, err := fmt.Fprintf(w, "  %s %s\n", mark, a.Detail); err != nil {
			return err
		}
	}
	return nil
}
