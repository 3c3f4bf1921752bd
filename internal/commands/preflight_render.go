package commands

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/ui"
)

// renderPreflight prints the report as a table grouped like the checks, with the hint and the
// rule to ask IT for under every result that needs action, and a footer with the counts.
func renderPreflight(w io.Writer, st *ui.Styles, r preflight.Report, verbose bool) error {
	var b strings.Builder
	t := r.Targets
	target := t.Host
	if t.ExpectIP != "" {
		target += " (" + t.ExpectIP + ")"
	}
	fmt.Fprintf(&b, "%s %s, port %d, profile %s", st.Bold("Preflight of"), st.Accent(target), t.HTTPSPort, t.Profile)
	if r.Site != "" {
		fmt.Fprintf(&b, ", site %q", r.Site)
	}
	if t.Proxy != "" {
		fmt.Fprintf(&b, ", through proxy %s", t.Proxy)
	}
	b.WriteString("\n")
	if d := r.Device; d != nil {
		address := "DHCP"
		if d.Mode == preflight.DeviceModeStatic {
			address = "static " + d.Address + " via " + d.Gateway
		}
		fmt.Fprintf(&b, "%s %s, %s; from %s: %s\n", st.Bold("Device"), orDash(d.Serial), address,
			d.Source, strings.Join(d.Settings, ", "))
	}

	idW, statusW := 0, utf8.RuneCountInString(plainStatus("error"))
	for _, res := range r.Results {
		idW = max(idW, len(res.ID))
	}
	indent := strings.Repeat(" ", 2+statusW+2+idW+2)
	group := ""
	for _, res := range r.Results {
		if res.Group != group {
			group = res.Group
			fmt.Fprintf(&b, "\n%s\n", st.Bold(group))
		}
		detail := res.Summary
		if detail == "" {
			detail = res.Reason
		}
		status := string(res.Status)
		pad := strings.Repeat(" ", max(statusW-utf8.RuneCountInString(plainStatus(status)), 0))
		fmt.Fprintf(&b, "  %s%s  %-*s  %s", st.Status(status), pad, idW, res.ID, detail)
		if res.Status != preflight.StatusSkip {
			fmt.Fprintf(&b, "  %s", st.Muted(ui.HumanDuration(res.Duration)))
		}
		b.WriteString("\n")
		if res.Summary != "" && res.Reason != "" && !strings.Contains(res.Summary, res.Reason) {
			fmt.Fprintf(&b, "%s%s\n", indent, st.Muted(res.Reason))
		}
		if res.Hint != "" {
			fmt.Fprintf(&b, "%s%s %s\n", indent, st.Warn("hint:"), res.Hint)
		}
		if res.Rule != "" {
			fmt.Fprintf(&b, "%s%s %s\n", indent, st.Warn("ask IT:"), res.Rule)
		}
		if res.Note != "" {
			// A remark, not a problem: muted, whatever the status.
			fmt.Fprintf(&b, "%s%s\n", indent, st.Muted("note: "+res.Note))
		}
		if verbose {
			for _, k := range slices.Sorted(maps.Keys(res.Metrics)) {
				fmt.Fprintf(&b, "%s%s\n", indent, st.Muted(preflight.MetricLabel(k)+": "+preflight.MetricValue(k, res.Metrics[k])))
			}
			for _, k := range slices.Sorted(maps.Keys(res.Evidence)) {
				fmt.Fprintf(&b, "%s%s\n", indent, st.Muted(preflight.EvidenceLabel(k)+": "+res.Evidence[k]))
			}
		}
	}

	noun := "checks"
	if len(r.Results) == 1 {
		noun = "check"
	}
	fmt.Fprintf(&b, "\n%d %s in %s: %s", len(r.Results), noun, ui.HumanDuration(r.Duration), countsText(st, r.Counts))
	if r.Interrupted {
		b.WriteString(" (interrupted: unfinished checks are marked error)")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// plainStatus is the text Styles.Status shows for a status, without colour, for alignment.
func plainStatus(status string) string {
	return ui.NewStyles(io.Discard, false).Status(status)
}

// countsText sums up a run's results in a few words: "6 ok, 1 fail, 2 skipped".
func countsText(st *ui.Styles, c preflight.Counts) string {
	var parts []string
	add := func(n int, label string, style func(string) string) {
		if n > 0 {
			parts = append(parts, style(fmt.Sprintf("%d %s", n, label)))
		}
	}
	add(c.OK, "ok", st.OK)
	add(c.Warn, "warn", st.Warn)
	add(c.Fail, "fail", st.Fail)
	add(c.Skip, "skipped", st.Muted)
	add(c.Error, "error", st.Fail)
	return strings.Join(parts, ", ")
}
