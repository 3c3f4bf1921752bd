package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/preflight/history"
	"github.com/smart-impulse/smartx/internal/ui"
)

// preflightOptions are the settings of `smartx preflight` and `smartx preflight rules`.
type preflightOptions struct {
	cfg        preflight.Config
	configFile string
	bundle     string
	report     string
	lang       string
	profile    string
	watch      bool
	every      time.Duration
	noHistory  bool
	upload     bool
}

// bindPreflightTargets registers the flags naming what to test; their names are the interface
// scripts, site files and docs rely on (docs/preflight.md).
func bindPreflightTargets(fs *pflag.FlagSet, o *preflightOptions) {
	d := preflight.DefaultConfig()
	o.cfg = d
	fs.StringVar(&o.cfg.Host, "host", d.Host, "platform host name the device connects to")
	fs.StringVar(&o.cfg.ExpectIP, "expect-ip", d.ExpectIP, `address the firewall rules name ("" to skip the comparison)`)
	fs.IntVar(&o.cfg.HTTPSPort, "https-port", d.HTTPSPort, "platform HTTPS port")
	fs.IntVar(&o.cfg.HTTPPort, "http-port", d.HTTPPort, "platform HTTP port (legacy devices)")
	fs.StringVar(&o.cfg.PingTarget, "ping-target", d.PingTarget, "ICMP echo target")
	fs.StringVar(&o.cfg.NTPServer, "ntp-server", d.NTPServer, "NTP server, host[:port]")
	fs.StringVar(&o.cfg.DNSServer, "dns-server", "", "DNS server the device will use, host[:port] (default: this laptop's resolver)")
	fs.StringVar(&o.cfg.Proxy, "proxy", "", "proxy the device will use, http://[user:password@]host:port")
	fs.StringVar(&o.profile, "profile", string(d.Profile), "device generation: current, legacy (delivered before September 2024: adds port 80) or all")
	fs.StringVar(&o.configFile, "config", "", "site file (YAML) holding these settings; flags override it")
	fs.StringVar(&o.bundle, "bundle", "", "the device's provisioning bundle: test with its DNS, proxy, NTP server, platform URL and CA, and check its static address")
}

func newPreflightCmd(f *Factory) *cobra.Command {
	o := &preflightOptions{}
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check that the site's network lets a Smart X reach the platform",
		Long: `Check, from a laptop on the customer's network, every flow a Smart X needs: DNS, ICMP,
TCP 443 with TLS 1.2 to the platform, NTP, and port 80 for devices delivered before
September 2024 (--profile legacy). Checks run concurrently; each failure comes with a
hint and the exact firewall rule to ask IT for. --report writes that request as a
self-contained HTML or Markdown document (--lang fr writes it in French).

--bundle takes the device's own settings from its provisioning bundle and, for a static
address, checks on the segment that the gateway answers and that nobody holds the address.
--watch runs the checks again until every one passes, printing what changes. Every run is
kept in a small local history: smartx preflight history lists it, smartx preflight report
shows a kept run again or writes its report. --upload sends the run to the platform,
attached to the site, for support (smartx site status); smartx preflight upload sends a
kept run later. The platform profile it uses comes from SMARTX_PROFILE: --profile here is
the device generation.

Exit status: 0 when nothing failed (warnings allowed unless --strict), 1 when a check
failed (with --watch: interrupted before every check passed), 2 on a usage or
configuration error, 130 when interrupted.`,
		Example: `  # on site, before fixing the device to the wall
  smartx preflight --site "Paris HQ" --report paris-it.html

  # test what the device will see: its own DNS, proxy, NTP, platform and static address
  smartx preflight --bundle sx-00042.json --installer "Marie Curie, 06 12 34 56 78"

  # the device will use the site's DNS server and a proxy
  smartx preflight --dns-server 10.0.0.53 --proxy http://proxy.corp:3128

  # wait while IT opens the rule: re-run until every check passes
  smartx preflight --watch --every 5s

  # send the run to the platform, attached to the site, once it is over
  smartx preflight --site "Paris HQ" --watch --upload

  # the report for IT in French
  smartx preflight --site "Paris HQ" --report paris-it.html --lang fr

  # a device delivered before September 2024, only the port-80 checks
  smartx preflight --profile legacy --only tcp-http,http`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPreflight(cmd.Context(), f, cmd.Flags(), o)
		},
	}
	fs := cmd.Flags()
	bindPreflightTargets(fs, o)
	fs.BoolVar(&o.cfg.DeviceRootsOnly, "device-roots-only", false, "the device trusts only --ca-file, not this laptop's system roots")
	fs.StringVar(&o.cfg.ExpectIssuer, "expect-issuer", "", "issuer (CN or organisation) the platform certificate must have; another one means TLS inspection")
	fs.DurationVar(&o.cfg.Timeout, "timeout", preflight.DefaultTimeout, "time limit of each check")
	fs.IntVar(&o.cfg.Count, "count", preflight.DefaultCount, "ICMP echo requests to send")
	fs.StringSliceVar(&o.cfg.Only, "only", nil, "run only these checks (ids, comma-separated)")
	fs.StringSliceVar(&o.cfg.Skip, "skip", nil, "do not run these checks (ids, comma-separated)")
	fs.BoolVar(&o.cfg.Strict, "strict", false, "fail (exit 1) on warnings too")
	fs.StringVar(&o.cfg.Site, "site", "", "site name for the report")
	fs.StringVar(&o.cfg.Serial, "serial", "", "serial of the device the checks are for, for the report")
	fs.StringVar(&o.cfg.Installer, "installer", "", `who runs the checks and how to reach them, for the report (e.g. "Marie Curie, 06 12 34 56 78")`)
	fs.StringVar(&o.report, "report", "", "write a report for the site's IT department to FILE.html or FILE.md")
	fs.StringVar(&o.lang, "lang", "en", "language of the report: en or fr")
	fs.BoolVar(&o.watch, "watch", false, "run the checks again until every one passes (Ctrl-C to stop), printing what changes")
	fs.DurationVar(&o.every, "every", preflight.DefaultWatchEvery, "with --watch, time between two runs")
	fs.BoolVar(&o.noHistory, "no-history", false, "do not keep this run in the local history")
	fs.BoolVar(&o.upload, "upload", false, "send the run to the platform, attached to the site (--site), with who ran it and from which network")
	cmd.AddCommand(newPreflightRulesCmd(f), newPreflightHistoryCmd(f), newPreflightReportCmd(f), newPreflightUploadCmd(f))
	return cmd
}

// resolvePreflightConfig applies defaults < site file < flags set on the command line, the
// global --ca-file included, and validates the result.
func resolvePreflightConfig(f *Factory, fs *pflag.FlagSet, o *preflightOptions) (preflight.Config, error) {
	cfg := preflight.DefaultConfig()
	if o.configFile != "" {
		data, err := os.ReadFile(o.configFile)
		if err != nil {
			return cfg, usageErrorf("read site file: %w", err)
		}
		site, err := preflight.ParseSiteFile(data)
		if err != nil {
			return cfg, &usageError{err: fmt.Errorf("%s: %w", o.configFile, err)}
		}
		site.Apply(&cfg)
		// A relative ca-file in a site file is relative to the site file, not to where smartx runs.
		if site.CAFile != nil && cfg.CAFile != "" && !filepath.IsAbs(cfg.CAFile) {
			cfg.CAFile = filepath.Join(filepath.Dir(o.configFile), cfg.CAFile)
		}
	}
	if o.bundle != "" {
		if err := applyBundle(f, o.bundle, &cfg); err != nil {
			return cfg, err
		}
	}
	// A flag given on the command line wins over the bundle: the report must not say the
	// setting came from it.
	overridden := func(setting string) {
		cfg.BundleSettings = slices.DeleteFunc(cfg.BundleSettings, func(s string) bool { return s == setting })
	}
	set := func(name string, apply func()) {
		if fl := fs.Lookup(name); fl != nil && fl.Changed {
			apply()
			overridden(name)
		}
	}
	set("host", func() { cfg.Host = o.cfg.Host })
	set("expect-ip", func() { cfg.ExpectIP = o.cfg.ExpectIP })
	set("https-port", func() { cfg.HTTPSPort = o.cfg.HTTPSPort })
	set("http-port", func() { cfg.HTTPPort = o.cfg.HTTPPort })
	set("ping-target", func() { cfg.PingTarget = o.cfg.PingTarget })
	set("ntp-server", func() { cfg.NTPServer = o.cfg.NTPServer })
	set("dns-server", func() { cfg.DNSServer = o.cfg.DNSServer })
	set("proxy", func() { cfg.Proxy = o.cfg.Proxy })
	set("profile", func() { cfg.Profile = preflight.Profile(o.profile) })
	set("device-roots-only", func() { cfg.DeviceRootsOnly = o.cfg.DeviceRootsOnly })
	set("expect-issuer", func() { cfg.ExpectIssuer = o.cfg.ExpectIssuer })
	set("timeout", func() { cfg.Timeout = o.cfg.Timeout })
	set("count", func() { cfg.Count = o.cfg.Count })
	set("only", func() { cfg.Only = o.cfg.Only })
	set("skip", func() { cfg.Skip = o.cfg.Skip })
	set("strict", func() { cfg.Strict = o.cfg.Strict })
	set("site", func() { cfg.Site = o.cfg.Site })
	set("serial", func() { cfg.Serial = o.cfg.Serial })
	set("installer", func() { cfg.Installer = o.cfg.Installer })
	if f.Global.CAFile != "" {
		cfg.CAFile, cfg.CAPEM = f.Global.CAFile, ""
		overridden("ca")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, &usageError{err: err}
	}
	return cfg, nil
}

// applyBundle reads the device's provisioning bundle and puts its settings into cfg. Only
// the network settings, the platform URL and the CA are taken: the device key and upload
// credential stay in the bundle.
func applyBundle(f *Factory, path string, cfg *preflight.Config) error {
	b, warning, err := device.LoadBundle(path)
	if err != nil {
		return &usageError{err: fmt.Errorf("--bundle: %w", err)}
	}
	if warning != nil {
		fmt.Fprintf(f.IO.ErrOut, "warning: %s\n", warning)
	}
	d := preflight.DeviceSettings{
		Source: filepath.Base(path), Serial: b.Serial, DeviceID: b.DeviceID, SiteName: b.SiteName,
		ServerURL: b.ServerURL, CACertificates: b.CACertificates, Mode: string(b.Network.Mode),
		Address: b.Network.Address, Gateway: b.Network.Gateway, DNS: b.Network.DNS,
		Proxy: b.Network.Proxy, NTPServer: b.Network.NTPServer,
	}
	if err := d.Apply(cfg); err != nil {
		return &usageError{err: fmt.Errorf("--bundle %s: %w", path, err)}
	}
	return nil
}

func runPreflight(ctx context.Context, f *Factory, fs *pflag.FlagSet, o *preflightOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON, ui.FormatNDJSON)
	if err != nil {
		return &usageError{err: err}
	}
	if fl := fs.Lookup("every"); fl != nil && fl.Changed && !o.watch {
		return usageErrorf("--every goes with --watch")
	}
	if o.watch && format == ui.FormatJSON {
		return usageErrorf("--watch prints what changes as it goes: use -o ndjson for a script, not -o json")
	}
	if o.watch && o.every < time.Second {
		return usageErrorf("--every %s: give at least 1s between two runs", o.every)
	}
	cfg, err := resolvePreflightConfig(f, fs, o)
	if err != nil {
		return err
	}
	writeReport, err := reportWriter(o.report, o.lang)
	if err != nil {
		return err
	}
	up, err := prepareUpload(f, o, cfg)
	if err != nil {
		return err
	}
	cfg.Clock = f.Now
	if o.watch {
		return runPreflightWatch(ctx, f, cfg, o, writeReport, up)
	}

	var onEvent func(preflight.Event)
	var live *preflightLive
	switch {
	case format == ui.FormatNDJSON:
		nd := ui.NewNDJSONWriter(f.IO.Out)
		onEvent = func(ev preflight.Event) {
			if ev.Kind == preflight.EventFinished && ev.Result != nil {
				_ = nd.Write(ev.Result)
			}
		}
	case format == ui.FormatTable && f.IO.CanRedrawOut():
		live = newPreflightLive(f.IO, preflight.SelectedChecks(cfg))
		onEvent = live.event
	}

	report := preflight.Run(ctx, cfg, onEvent)
	if live != nil {
		live.clear()
	}
	report.Run = runInfo()

	switch format {
	case ui.FormatJSON:
		if err := ui.WriteJSON(f.IO.Out, report); err != nil {
			return err
		}
	case ui.FormatTable:
		if err := renderPreflight(f.IO.Out, f.IO.Styles(), report, f.Global.Verbose); err != nil {
			return err
		}
	}
	kept, err := finishPreflight(f, o, report, writeReport, format == ui.FormatTable)
	if err != nil {
		return err
	}
	if report.Interrupted {
		return context.Canceled
	}
	if err := up.send(ctx, f, report, kept); err != nil {
		return err
	}
	if report.Failed(cfg.Strict) {
		return silentExit(exitFailure)
	}
	return nil
}

// runInfo says which smartx ran the checks, from which laptop: a kept or sent run still says it.
func runInfo() preflight.RunInfo {
	host, _ := os.Hostname()
	return preflight.RunInfo{SmartxVersion: buildinfo.Version(), Hostname: host, OS: buildinfo.Platform()}
}

// finishPreflight keeps the run in the history and writes the IT report, saying so on
// stderr, and returns the run's number in the history (0: not kept). Keeping the run is a
// convenience: a failure is a warning, never the command's.
func finishPreflight(f *Factory, o *preflightOptions, report preflight.Report, writeReport func(preflight.Report) error, human bool) (int, error) {
	kept := 0
	if !o.noHistory {
		store, err := historyStore(f)
		if err == nil {
			var e history.Entry
			if e, err = store.Save(report); err == nil {
				kept = e.ID
				if human {
					fmt.Fprintf(f.IO.ErrOut, "kept as run %d: smartx preflight report %d shows it again\n", e.ID, e.ID)
				}
			}
		}
		if err != nil {
			fmt.Fprintf(f.IO.ErrOut, "warning: the run was not kept in the history: %v\n", err)
		}
	}
	if writeReport != nil {
		if err := writeReport(report); err != nil {
			return kept, err
		}
		fmt.Fprintf(f.IO.ErrOut, "report for the IT department written to %s\n", o.report)
	}
	return kept, nil
}

// reportWriter checks the --report path and --lang before anything runs, so a typo costs
// nothing, and returns the function that writes it (atomically: a failure never leaves half
// a report).
func reportWriter(path, langName string) (func(preflight.Report) error, error) {
	lang, err := preflight.ParseLang(langName)
	if err != nil {
		return nil, usageErrorf("--lang: %w", err)
	}
	if path == "" {
		return nil, nil
	}
	var write func(io.Writer, preflight.Report, preflight.ReportOptions) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".html", ".htm":
		write = preflight.WriteHTML
	case ".md", ".markdown":
		write = preflight.WriteMarkdown
	default:
		return nil, usageErrorf("--report %s: the report is written as HTML or Markdown: name it .html or .md", path)
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || !info.IsDir() {
		return nil, usageErrorf("--report %s: folder %s does not exist", path, filepath.Dir(path))
	}
	return func(r preflight.Report) error {
		return writeFileAtomic(path, 0o644, func(w *os.File) error { return write(w, r, preflight.ReportOptions{Lang: lang}) })
	}, nil
}

// writeFileAtomic writes a file through a temporary sibling renamed into place, so readers and
// later runs never see a partial file.
func writeFileAtomic(path string, perm os.FileMode, write func(*os.File) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// preflightLive shows one line per check on a terminal while the checks run.
type preflightLive struct {
	lines *ui.LiveLines
	st    *ui.Styles
	index map[string]int
	idW   int
}

func newPreflightLive(io *ui.IOStreams, ids []string) *preflightLive {
	l := &preflightLive{lines: ui.NewLiveLines(io.Out, true, io.TerminalWidth()), st: io.Styles(), index: map[string]int{}}
	for i, id := range ids {
		l.index[id] = i
		l.idW = max(l.idW, len(id))
	}
	for i, id := range ids {
		l.lines.Set(i, l.st.Muted(fmt.Sprintf("%-*s  waiting", l.idW, id)), false)
	}
	return l
}

func (l *preflightLive) event(ev preflight.Event) {
	i, ok := l.index[ev.ID]
	if !ok {
		return
	}
	if ev.Kind == preflight.EventStarted {
		l.lines.Set(i, fmt.Sprintf("%-*s  %s…", l.idW, ev.ID, ev.Title), true)
		return
	}
	if ev.Result != nil {
		l.lines.Set(i, fmt.Sprintf("%-*s  %s  %s", l.idW, ev.ID, l.st.Status(string(ev.Result.Status)), ev.Result.Summary), false)
	}
}

func (l *preflightLive) clear() { l.lines.Clear() }
