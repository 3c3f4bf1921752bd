package preflight

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ReportOptions are the choices made when a report is written (the run itself says who ran
// it, where and when).
type ReportOptions struct {
	// Lang is the report's language; empty is English.
	Lang Lang
}

// evidenceInspection marks results where TLS inspection was detected.
const evidenceInspection = "tls_inspection"

// reportView is the data both IT documents are rendered from, every text already in the
// report's language.
type reportView struct {
	Lang        Lang
	Sep         string // between a label and its value: ": ", " : " in French
	Title       string
	Generated   string
	Verdict     string
	VerdictKind Status
	VerdictTag  string
	CountsLine  string
	Interrupted string
	AddRules    addRulesView
	Facts       []labelValue
	Flows       []flowView
	Actions     []actionView
	Inspection  *inspectionView
	Results     []resultView
	FormFields  []string
}

type labelValue struct{ Label, Value string }

// addRulesView is the sentence introducing the rules, split around the device placeholder
// that both documents show as code.
type addRulesView struct{ Before, Device, After string }

type flowView struct {
	Protocol, Destination, FQDN, Port, Purpose, NeededBy string
}

type actionView struct {
	Rule    string
	FoundBy string
}

type inspectionView struct {
	Title, Intercepted, Untrusted, Request string
}

type resultView struct {
	ID           string
	Status       Status
	StatusLabel  string
	Title        string
	Summary      string
	Details      []labelValue // reason, what to do, rule, note
	Rule         string
	Note         string
	EvidenceList []labelValue
	Duration     string
}

// formFields are the device's network parameters IT fills in.
var formFields = [...]string{"IP address", "Subnet mask", "Gateway", "DNS servers", "Proxy (URL, and user if it needs one)"}

// settingWords name the settings a bundle gives, for the report.
var settingWords = map[string]string{
	settingHost: "the platform's address", settingHTTPSPort: "the platform's port", settingCA: "the CA",
	settingDNSServer: "the DNS server", settingProxy: "the proxy", settingNTPServer: "the NTP server",
	settingSite: "the site", settingSerial: "the serial",
}

func buildReportView(r Report, opts ReportOptions) reportView {
	l := opts.Lang
	if l == "" {
		l = LangEN
	}
	v := reportView{
		Lang:      l,
		Sep:       l.T(": "),
		Title:     l.Tf("Smart X network check: %s", l.T(orDefault(r.Site, "(site not named)"))),
		Generated: l.Tf("Generated %s by smartx %s from %s.", r.Generated.UTC().Format("2006-01-02 15:04:05 UTC"), l.T(orDefault(r.Run.SmartxVersion, unknown)), l.T(orDefault(r.Run.Hostname, unknown))),
		CountsLine: l.Tf("Results: %d ok, %d warning, %d fail, %d skipped, %d not run.",
			r.Counts.OK, r.Counts.Warn, r.Counts.Fail, r.Counts.Skip, r.Counts.Error),
	}
	for _, f := range formFields {
		v.FormFields = append(v.FormFields, l.T(f))
	}
	if r.Interrupted {
		v.Interrupted = l.T("The run was interrupted before every check finished.")
	}
	switch {
	case r.Counts.Fail > 0:
		v.VerdictKind = StatusFail
		v.Verdict = l.T("Changes are needed before the Smart X can work on this network: see \"What IT needs to change\".")
	case r.Counts.Error > 0 || r.Interrupted:
		v.VerdictKind = StatusError
		v.Verdict = l.T("Some checks could not run; the results below are incomplete.")
	case r.Counts.Warn > 0:
		v.VerdictKind = StatusWarn
		v.Verdict = l.T("The Smart X should work on this network; some points deserve attention.")
	default:
		v.VerdictKind = StatusOK
		v.Verdict = l.T("The network lets the Smart X reach everything it needs.")
	}
	v.VerdictTag = statusLabel(l, v.VerdictKind)
	const mark = "\x00"
	intro := l.Tf("Please add the following, where %s is the Smart X address given in the form at the end of this document.", mark)
	v.AddRules.Before, v.AddRules.After, _ = strings.Cut(intro, mark)
	v.AddRules.Device = l.T(deviceSource)
	v.Facts = reportFacts(r, l)

	for _, f := range r.Flows {
		port := "-"
		if f.Port > 0 {
			port = strconv.Itoa(f.Port)
		}
		needed := "all devices"
		if f.Profile == string(ProfileLegacy) {
			needed = "devices delivered before September 2024"
		}
		v.Flows = append(v.Flows, flowView{Protocol: l.T(f.Protocol), Destination: l.T(orDefault(f.Destination, "-")),
			FQDN: orDefault(f.FQDN, "-"), Port: port, Purpose: l.T(f.Purpose), NeededBy: l.T(needed)})
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
			v.Inspection = &inspectionView{
				Title:       l.T("Request: exempt the platform from TLS inspection"),
				Intercepted: l.Tf("The connection to %s was intercepted: the certificate presented was issued by %s, not by the platform's certificate authority.", r.Targets.Host, orDefault(res.Evidence["issuer"], "an unknown issuer")),
				Untrusted:   l.T("The Smart X cannot trust an inspection certificate, so it cannot connect while inspection is on."),
				Request:     l.Tf("Please exempt %s, port %d, from TLS inspection (also called SSL decryption or HTTPS scanning) for the Smart X.", target, r.Targets.HTTPSPort),
			}
		}
	}
	for _, rule := range rules {
		v.Actions = append(v.Actions, actionView{Rule: l.T(rule), FoundBy: l.Tf("found by: %s", strings.Join(ruleChecks[rule], ", "))})
	}

	for _, res := range r.Results {
		rv := resultView{ID: res.ID, Status: res.Status, StatusLabel: statusLabel(l, res.Status), Title: l.T(res.Title),
			Summary: l.T(res.Summary), Duration: durationText(res.DurationMS), Note: l.T(res.Note)}
		if res.Reason != "" && res.Reason != res.Summary && "not run: "+res.Reason != res.Summary {
			rv.Details = append(rv.Details, labelValue{l.T("Reason"), l.T(res.Reason)})
		}
		if res.Hint != "" {
			rv.Details = append(rv.Details, labelValue{l.T("What to do"), l.T(res.Hint)})
		}
		rv.Rule = l.T(res.Rule)
		for _, k := range slices.Sorted(maps.Keys(res.Evidence)) {
			rv.EvidenceList = append(rv.EvidenceList, labelValue{l.T(EvidenceLabel(k)), l.T(res.Evidence[k])})
		}
		for _, k := range slices.Sorted(maps.Keys(res.Metrics)) {
			rv.EvidenceList = append(rv.EvidenceList, labelValue{l.T(MetricLabel(k)), MetricValue(k, res.Metrics[k])})
		}
		v.Results = append(v.Results, rv)
	}
	return v
}

// reportFacts says what was tested, from where, and which settings came from the device's
// bundle.
func reportFacts(r Report, l Lang) []labelValue {
	fromBundle := func(setting string) bool { return r.Device != nil && slices.Contains(r.Device.Settings, setting) }
	mark := func(value, setting string) string {
		if fromBundle(setting) {
			return l.Tf("%s (from the device's bundle)", value)
		}
		return value
	}
	laptop := l.T(orDefault(r.Run.Hostname, unknown))
	if r.Run.OS != "" {
		laptop += " (" + r.Run.OS + ")"
	}
	resolvers := l.T("system resolver")
	if len(r.Local.Resolvers) > 0 {
		resolvers = strings.Join(r.Local.Resolvers, ", ")
	}
	if r.Local.ResolverSource != "" && !fromBundle(settingDNSServer) {
		resolvers = l.Tf("%s (from %s)", resolvers, r.Local.ResolverSource)
	}
	platform := r.Targets.Host
	if r.Targets.ExpectIP != "" {
		platform = l.Tf("%s (expected at %s)", platform, r.Targets.ExpectIP)
	}
	platform += ", port " + strconv.Itoa(r.Targets.HTTPSPort)
	proxy := l.T("none (direct connection)")
	if r.Targets.Proxy != "" {
		proxy = r.Targets.Proxy
	}
	envProxy := l.T("none set")
	if len(r.Local.ProxyEnv) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.Local.ProxyEnv)) {
			parts = append(parts, k+"="+r.Local.ProxyEnv[k])
		}
		envProxy = strings.Join(parts, ", ")
	}
	var facts []labelValue
	add := func(label, value string) { facts = append(facts, labelValue{l.T(label), value}) }
	if r.Serial != "" {
		add("Device serial", mark(r.Serial, settingSerial))
	}
	if r.Installer != "" {
		add("Installer", r.Installer)
	}
	if d := r.Device; d != nil {
		var words []string
		for _, s := range d.Settings {
			words = append(words, l.T(orDefault(settingWords[s], s)))
		}
		add("Device settings", l.Tf("from %s: %s", d.Source, strings.Join(words, ", ")))
		if d.Mode == DeviceModeStatic {
			add("Device address", l.Tf("static address %s, gateway %s", d.Address, d.Gateway))
		} else {
			add("Device address", l.T("address from DHCP"))
		}
	}
	add("Laptop", laptop)
	add("Source address", l.T(orDefault(r.Local.SourceIP, unknown)))
	add("Interface", l.T(orDefault(r.Local.Interface, unknown)))
	add("Default gateway", l.T(orDefault(r.Local.Gateway, unknown)))
	add("DNS servers used", mark(resolvers, settingDNSServer))
	add("Proxy the device will use", mark(proxy, settingProxy))
	add("Proxy variables on this laptop", envProxy)
	add("Platform", mark(platform, settingHost))
	add("Certificate authority the device trusts", mark(l.T(caText(r)), settingCA))
	add("NTP server", mark(r.Targets.NTPServer, settingNTPServer))
	add("Profile", l.T(string(r.Targets.Profile)))
	return facts
}

// caText says which authorities the device was taken to trust.
func caText(r Report) string {
	t := r.Targets
	switch {
	case r.Device != nil && slices.Contains(r.Device.Settings, settingCA):
		return "its own, from its bundle"
	case t.CAFile != "" && t.DeviceRootsOnly:
		return "only those in " + t.CAFile
	case t.CAFile != "":
		return "public ones and those in " + t.CAFile
	}
	return "public ones (this laptop's system roots)"
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
func statusLabel(l Lang, s Status) string {
	switch s {
	case StatusOK:
		return l.T("OK")
	case StatusWarn:
		return l.T("WARNING")
	case StatusFail:
		return l.T("FAIL")
	case StatusSkip:
		return l.T("SKIPPED")
	case StatusError:
		return l.T("NOT RUN")
	}
	return strings.ToUpper(string(s))
}

// mdText escapes text for Markdown paragraphs and table cells: markup
// characters are backslash-escaped, < becomes an entity (so no raw HTML gets
// through) and line breaks become spaces. A > cannot open a tag once every <
// is escaped, so it stays as written ("a -> b") but at the start, where it
// would open a block quote.
func mdText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			if i == 0 {
				b.WriteByte('\\')
			}
			b.WriteByte('>')
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

// WriteMarkdown writes the IT report in Markdown, in opts.Lang: site, time, version, what
// was tested from where (and which settings came from the device's bundle), what IT needs to
// change (exact rules, and the TLS inspection exemption when relevant), the required flows,
// every result with its evidence in words, and the device's network parameters form.
func WriteMarkdown(w io.Writer, r Report, opts ReportOptions) error {
	v := buildReportView(r, opts)
	l := v.Lang
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# %s\n\n", mdText(v.Title))
	p("%s\n\n", mdText(v.Generated))
	p("**%s** %s\n\n", mdText(v.VerdictTag), mdText(v.Verdict))
	p("%s\n\n", mdText(v.CountsLine))
	if v.Interrupted != "" {
		p("%s\n\n", mdText(v.Interrupted))
	}

	p("## %s\n\n", mdText(l.T("What was tested, from where")))
	p("| | |\n|---|---|\n")
	for _, f := range v.Facts {
		p("| %s | %s |\n", mdText(f.Label), mdText(f.Value))
	}
	p("\n")

	p("## %s\n\n", mdText(l.T("What IT needs to change")))
	if len(v.Actions) == 0 {
		p("%s\n\n", mdText(l.T("Nothing: no check asked for a firewall change.")))
	} else {
		p("%s%s%s\n\n", mdText(v.AddRules.Before), mdCode(v.AddRules.Device), mdText(v.AddRules.After))
		for i, a := range v.Actions {
			p("%d. %s (%s)\n", i+1, mdCode(a.Rule), mdText(a.FoundBy))
		}
		p("\n")
	}
	if in := v.Inspection; in != nil {
		p("### %s\n\n", mdText(in.Title))
		p("%s %s %s\n\n", mdText(in.Intercepted), mdText(in.Untrusted), mdText(in.Request))
	}

	p("## %s\n\n", mdText(l.T("Network flows the Smart X needs")))
	p("| %s | %s | %s | %s | %s | %s |\n|---|---|---|---|---|---|\n", l.T("Protocol"), l.T("Destination"), l.T("Name"), l.T("Port"), l.T("Purpose"), l.T("Needed by"))
	for _, f := range v.Flows {
		p("| %s | %s | %s | %s | %s | %s |\n", mdText(f.Protocol), mdText(f.Destination), mdText(f.FQDN), f.Port, mdText(f.Purpose), mdText(f.NeededBy))
	}
	p("\n")

	p("## %s\n\n", mdText(l.T("Results")))
	p("| %s | %s | %s | %s |\n|---|---|---|---|\n", l.T("Check"), l.T("Status"), l.T("What was seen"), l.T("Time"))
	for _, res := range v.Results {
		p("| %s | %s | %s | %s |\n", mdText(res.Title), mdText(res.StatusLabel), mdText(res.Summary), res.Duration)
	}
	p("\n")
	sep := v.Sep
	for _, res := range v.Results {
		p("### %s%s%s\n\n", mdText(res.Title), sep, mdText(res.StatusLabel))
		p("%s\n\n", mdText(res.Summary))
		if res.Note != "" {
			p("> %s%s%s\n\n", mdText(l.T("Note")), sep, mdText(res.Note))
		}
		for _, d := range res.Details {
			p("- %s%s%s\n", mdText(d.Label), sep, mdText(d.Value))
		}
		if res.Rule != "" {
			p("- %s%s%s\n", mdText(l.T("Rule to add")), sep, mdCode(res.Rule))
		}
		for _, e := range res.EvidenceList {
			p("- %s%s%s\n", mdText(e.Label), sep, mdText(e.Value))
		}
		p("- %s%s%s, %s\n\n", mdText(l.T("Check id")), sep, mdCode(res.ID), mdText(l.Tf("duration %s", res.Duration)))
	}

	p("## %s\n\n", mdText(l.T("Smart X network parameters (to be filled in by IT)")))
	p("%s [ ] DHCP  [ ] %s\n\n", mdText(l.T("Addressing:")), mdText(l.T("Static")))
	p("| %s | %s |\n|---|---|\n", l.T("Parameter"), l.T("Value"))
	for _, f := range v.FormFields {
		p("| %s | |\n", mdText(f))
	}
	p("\n%s ____________________  %s ____________\n", mdText(l.T("Filled in by:")), mdText(l.T("Date:")))

	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}
