package preflight

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ReportMeta is what the IT documents need beyond the run itself.
type ReportMeta struct {
	// Version is the smartx version that produced the report.
	Version string
	// Laptop names the computer the checks ran from (its host name).
	Laptop string
	// OS is the laptop's operating system, e.g. "linux/amd64".
	OS string
}

// evidenceInspection marks results where TLS inspection was detected.
const evidenceInspection = "tls_inspection"

// reportView is the data both IT documents are rendered from.
type reportView struct {
	Site        string
	Generated   string
	Version     string
	Laptop      string
	Verdict     string
	VerdictKind Status
	Interrupted bool
	Counts      Counts
	Facts       []labelValue
	Flows       []flowView
	Actions     []actionView
	Inspection  *inspectionView
	Results     []resultView
	FormFields  []string
}

type labelValue struct{ Label, Value string }

type flowView struct {
	Flow
	PortText string
	Rule     string
}

type actionView struct {
	Rule   string
	Checks string
}

type inspectionView struct {
	Host   string
	Target string
	Port   int
	Issuer string
}

type resultView struct {
	Result
	DurationText string
	EvidenceList []labelValue
	MetricList   []labelValue
}

// formFields are the device's network parameters IT fills in.
var formFields = [...]string{"IP address", "Subnet mask", "Gateway", "DNS servers", "Proxy (URL, and user if it needs one)"}

func buildReportView(r Report, meta ReportMeta) reportView {
	v := reportView{
		Site:        orDefault(r.Site, "(site not named)"),
		Generated:   r.Generated.UTC().Format("2006-01-02 15:04:05 UTC"),
		Version:     orDefault(meta.Version, "unknown"),
		Laptop:      orDefault(meta.Laptop, "unknown"),
		Interrupted: r.Interrupted,
		Counts:      r.Counts,
		FormFields:  formFields[:],
	}
	switch {
	case r.Counts.Fail > 0:
		v.VerdictKind = StatusFail
		v.Verdict = "Changes are needed before the Smart X can work on this network: see \"What IT needs to change\"."
	case r.Counts.Error > 0 || r.Interrupted:
		v.VerdictKind = StatusError
		v.Verdict = "Some checks could not run; the results below are incomplete."
	case r.Counts.Warn > 0:
		v.VerdictKind = StatusWarn
		v.Verdict = "The Smart X should work on this network; some points deserve attention."
	default:
		v.VerdictKind = StatusOK
		v.Verdict = "The network lets the Smart X reach everything it needs."
	}

	laptop := v.Laptop
	if meta.OS != "" {
		laptop += " (" + meta.OS + ")"
	}
	resolvers := "system resolver"
	if len(r.Local.Resolvers) > 0 {
		resolvers = strings.Join(r.Local.Resolvers, ", ")
	}
	if r.Local.ResolverSource != "" {
		resolvers += " (from " + r.Local.ResolverSource + ")"
	}
	platform := r.Targets.Host
	if r.Targets.ExpectIP != "" {
		platform += " (expected at " + r.Targets.ExpectIP + ")"
	}
	proxy := "none (direct connection)"
	if r.Targets.Proxy != "" {
		proxy = r.Targets.Proxy
	}
	envProxy := "none"
	if len(r.Local.ProxyEnv) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.Local.ProxyEnv)) {
			parts = append(parts, k+"="+r.Local.ProxyEnv[k])
		}
		envProxy = strings.Join(parts, ", ")
	}
	v.Facts = []labelValue{
		{"Laptop", laptop},
		{"Source address", orDefault(r.Local.SourceIP, unknown)},
		{"Interface", orDefault(r.Local.Interface, unknown)},
		{"Default gateway", orDefault(r.Local.Gateway, unknown)},
		{"DNS servers used", resolvers},
		{"Proxy the device will use", proxy},
		{"Proxy variables on this laptop", envProxy},
		{"Platform", platform},
		{"Profile", string(r.Targets.Profile)},
	}

	for _, f := range r.Flows {
		port := "-"
		if f.Port > 0 {
			port = strconv.Itoa(f.Port)
		}
		v.Flows = append(v.Flows, flowView{Flow: f, PortText: port, Rule: f.Rule()})
	}

	ruleChecks := map[string][]string{}
	var rules []string
	for _, res := range r.Results {
		if res.Rule == "" || res.Status == StatusOK {
			continue
		}
		if _, seen := ruleChecks[res.Rule]; !seen {
			rules = append(rules, res.Rule)
		}
		ruleChecks[res.Rule] = append(ruleChecks[res.Rule], res.ID)
		if res.Evidence[evidenceInspection] != "" && v.Inspection == nil {
			target := r.Targets.Host
			if r.Targets.ExpectIP != "" {
				target += " (" + r.Targets.ExpectIP + ")"
			}
			v.Inspection = &inspectionView{Host: r.Targets.Host, Target: target, Port: r.Targets.HTTPSPort,
				Issuer: orDefault(res.Evidence["issuer"], "an unknown issuer")}
		}
	}
	for _, rule := range rules {
		v.Actions = append(v.Actions, actionView{Rule: rule, Checks: strings.Join(ruleChecks[rule], ", ")})
	}

	for _, res := range r.Results {
		rv := resultView{Result: res, DurationText: durationText(res.DurationMS)}
		for _, k := range slices.Sorted(maps.Keys(res.Evidence)) {
			rv.EvidenceList = append(rv.EvidenceList, labelValue{k, res.Evidence[k]})
		}
		for _, k := range slices.Sorted(maps.Keys(res.Metrics)) {
			rv.MetricList = append(rv.MetricList, labelValue{k, strconv.FormatFloat(res.Metrics[k], 'f', -1, 64)})
		}
		v.Results = append(v.Results, rv)
	}
	return v
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// durationText shows a duration in ms with at most one decimal.
func durationText(msValue float64) string {
	if msValue >= 100 {
		return fmt.Sprintf("%.0f ms", msValue)
	}
	return fmt.Sprintf("%.1f ms", msValue)
}

// statusLabel is the status as shown to people.
func statusLabel(s Status) string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusWarn:
		return "WARNING"
	case StatusFail:
		return "FAIL"
	case StatusSkip:
		return "SKIPPED"
	case StatusError:
		return "NOT RUN"
	}
	return strings.ToUpper(string(s))
}

// mdText escapes text for Markdown paragraphs and table cells: markup
// characters are backslash-escaped, angle brackets become entities (so no
// raw HTML gets through) and line breaks become spaces.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode renders s as an inline code span; a code span cannot be escaped,
// so backticks and line breaks are replaced.
func mdCode(s string) string {
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ", "|", "¦").Replace(s)
	return "`" + s + "`"
}

// WriteMarkdown writes the IT report in Markdown: site, time, version, what
// was tested from where, what IT needs to change (exact rules, and the TLS
// inspection exemption when relevant), the required flows, every result with
// its evidence, and the device's network parameters form.
func WriteMarkdown(w io.Writer, r Report, meta ReportMeta) error {
	v := buildReportView(r, meta)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Smart X network check: %s\n\n", mdText(v.Site))
	p("Generated %s by smartx %s from %s.\n\n", mdText(v.Generated), mdText(v.Version), mdText(v.Laptop))
	p("**%s** %s\n\n", statusLabel(v.VerdictKind), mdText(v.Verdict))
	p("Results: %d ok, %d warning, %d fail, %d skipped, %d not run.\n\n",
		v.Counts.OK, v.Counts.Warn, v.Counts.Fail, v.Counts.Skip, v.Counts.Error)
	if v.Interrupted {
		p("The run was interrupted before every check finished.\n\n")
	}

	p("## What was tested, from where\n\n")
	p("| | |\n|---|---|\n")
	for _, f := range v.Facts {
		p("| %s | %s |\n", mdText(f.Label), mdText(f.Value))
	}
	p("\n")

	p("## What IT needs to change\n\n")
	if len(v.Actions) == 0 {
		p("Nothing: no check asked for a firewall change.\n\n")
	} else {
		p("Please add the following, where `<device>` is the Smart X address given in the form at the end of this document.\n\n")
		for i, a := range v.Actions {
			p("%d. %s (found by: %s)\n", i+1, mdCode(a.Rule), mdText(a.Checks))
		}
		p("\n")
	}
	if in := v.Inspection; in != nil {
		p("### Request: exempt the platform from TLS inspection\n\n")
		p("The connection to %s was intercepted: the certificate presented was issued by %s, not by the platform's certificate authority. ",
			mdText(in.Host), mdText(in.Issuer))
		p("The Smart X cannot trust an inspection certificate, so it cannot connect while inspection is on. ")
		p("Please exempt %s, port %d, from TLS inspection (also called SSL decryption or HTTPS scanning) for the Smart X.\n\n",
			mdText(in.Target), in.Port)
	}

	p("## Network flows the Smart X needs\n\n")
	p("| Protocol | Destination | Name | Port | Purpose | Needed by |\n|---|---|---|---|---|---|\n")
	for _, f := range v.Flows {
		needed := "all devices"
		if f.Profile == string(ProfileLegacy) {
			needed = "devices delivered before September 2024"
		}
		p("| %s | %s | %s | %s | %s | %s |\n", mdText(f.Protocol), mdText(orDefault(f.Destination, "-")),
			mdText(orDefault(f.FQDN, "-")), f.PortText, mdText(f.Purpose), needed)
	}
	p("\n")

	p("## Results\n\n")
	p("| Check | Status | What was seen | Time |\n|---|---|---|---|\n")
	for _, res := range v.Results {
		p("| %s | %s | %s | %s |\n", mdText(res.Title), statusLabel(res.Status), mdText(res.Summary), res.DurationText)
	}
	p("\n")
	for _, res := range v.Results {
		p("### %s: %s\n\n", mdText(res.Title), statusLabel(res.Status))
		p("%s\n\n", mdText(res.Summary))
		if res.Reason != "" && res.Reason != res.Summary {
			p("- Reason: %s\n", mdText(res.Reason))
		}
		if res.Hint != "" {
			p("- What to do: %s\n", mdText(res.Hint))
		}
		if res.Rule != "" {
			p("- Rule to add: %s\n", mdCode(res.Rule))
		}
		for _, e := range res.EvidenceList {
			p("- %s: %s\n", mdCode(e.Label), mdText(e.Value))
		}
		for _, m := range res.MetricList {
			p("- %s: %s\n", mdCode(m.Label), m.Value)
		}
		p("- Check id: %s, duration %s\n\n", mdCode(res.ID), res.DurationText)
	}

	p("## Smart X network parameters (to be filled in by IT)\n\n")
	p("Addressing: [ ] DHCP  [ ] Static\n\n")
	p("| Parameter | Value |\n|---|---|\n")
	for _, f := range v.FormFields {
		p("| %s | |\n", mdText(f))
	}
	p("\nFilled in by: ____________________  Date: ____________\n")

	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}
