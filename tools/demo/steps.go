package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// The simulated week: a past Monday, so every reading is history whatever the date today.
const (
	serial    = "SX-00042"
	siteName  = "Demo building"
	weekStart = "2025-03-03" // a Monday
	weekEnd   = "2025-03-08" // the Saturday after: --to is exclusive
	speed     = "50000"      // five simulated days in under ten seconds
	bundle    = "bundle.json"
	spool     = "spool"
)

// scenario plays every step in order and stops at the first that does not do what it should.
func (d *demo) scenario(ctx context.Context) error {
	fmt.Fprintf(d.out, "smartx demo: every command below runs in %s, against 127.0.0.1 only\n", d.work)
	fmt.Fprintf(d.out, "smartx is %s\n", d.bin)
	for _, step := range []func(context.Context) error{
		d.stepServer,
		d.stepSite,
		d.stepPreflight,
		d.stepWatch,
		d.stepProvision,
		d.stepSimulate,
		d.stepStatus,
		d.stepSpooled,
		d.stepInspectDecode,
		d.stepDrain,
		d.stepReadingsCSV,
		d.stepReadingsPlot,
		d.stepToken,
		d.stepSiteStatus,
		d.stepStop,
	} {
		if err := step(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (d *demo) stepServer(ctx context.Context) error {
	d.heading("Start a throwaway platform server on loopback (an operator's `smartx server`)",
		"--dev: an ephemeral data directory and master key, a CA and certificate for localhost,",
		"an account with an owner and an admin token; --dev-env-file writes them for scripts")
	s, err := d.startServer(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(d.out, shortenSecrets(s.stdout.String()))
	d.note("(tokens shortened here; the server logs to server.log, shown if a step fails)")
	d.note("the commands below take SMARTX_SERVER, SMARTX_CA_FILE and SMARTX_TOKEN from %s", serverEnvFile)
	d.note("as `set -a; . ./%s; set +a` would, and SMARTX_CONFIG_DIR=config keeps your own profiles out", serverEnvFile)
	for _, k := range []string{"SMARTX_SERVER", "SMARTX_CA_FILE", "SMARTX_TOKEN"} {
		d.env = append(d.env, k+"="+s.env[k])
	}
	return nil
}

func (d *demo) stepPreflight(ctx context.Context) error {
	u, err := url.Parse(d.server.env["SMARTX_SERVER"])
	if err != nil || u.Port() == "" {
		return fmt.Errorf("step %d: SMARTX_SERVER %q is not an https://host:port URL", d.step+1, d.server.env["SMARTX_SERVER"])
	}
	r, err := startResponders()
	if err != nil {
		return fmt.Errorf("start the DNS and NTP responders: %w", err)
	}
	d.responders = r
	caFile := d.caFile()
	d.heading("Check the site's network, as an installer does before fixing the device to the wall",
		"every target is overridden to loopback: the platform is the dev server (localhost, port "+u.Port()+"),",
		"the site's DNS server is a responder the demo started at "+r.dns.Addr+", and it names the NTP",
		"responder "+ntpHost+"; the icmp check is skipped, with the fix, when this user may not ping")
	_, err = d.smartx(ctx, invocation{args: []string{"preflight", "--site", siteName,
		"--host", "localhost", "--expect-ip", "127.0.0.1", "--https-port", u.Port(),
		"--ca-file", caFile, "--device-roots-only",
		"--dns-server", r.dns.Addr,
		"--ntp-server", ntpHost + ":" + strconv.Itoa(r.ntp.Port),
		"--ping-target", "127.0.0.1",
		"--report", "it-request.md"}})
	if err != nil {
		return err
	}
	d.note("the DNS responder answered %d queries and the NTP responder %d; localhost itself comes from this machine's",
		r.dns.Received(), r.ntp.Received())
	d.note("hosts file, which the device does not have: the dns check warns that the DNS server was not asked for it")
	return nil
}

func (d *demo) stepWatch(ctx context.Context) error {
	u, err := url.Parse(d.server.env["SMARTX_SERVER"])
	if err != nil {
		return fmt.Errorf("step %d: %w", d.step+1, err)
	}
	port, err := preflighttest.ClosedPort()
	if err != nil {
		return fmt.Errorf("step %d: find a free port: %w", d.step+1, err)
	}
	d.heading("Wait while IT opens the rule: --watch runs the checks again until every one passes",
		fmt.Sprintf("port %d stands for the platform's port behind a firewall: nothing answers there yet; once", port),
		"the first run is over the demo opens it (it passes connections on to the server), as IT would,",
		"and the watch prints only what changed; on a terminal a live line counts down to the next run",
		"and the bell rings when it turns green (here stdout is a pipe, so neither shows); --upload then",
		"sends the run that passed to the platform, attached to the site, for support to see later")
	var opening error
	var once sync.Once
	_, err = d.smartx(ctx, invocation{args: []string{"preflight", "--site", siteName,
		"--host", "localhost", "--expect-ip", "127.0.0.1", "--https-port", strconv.Itoa(port),
		"--ca-file", d.caFile(), "--device-roots-only", "--only", "tcp-https,tls,https",
		"--watch", "--every", "1s", "--upload", "-o", "table"},
		onLine: func(line string) {
			if !strings.HasPrefix(line, "watching:") {
				return
			}
			once.Do(func() {
				d.opened, opening = preflighttest.OpenPort(port, u.Host)
				if opening == nil {
					d.note("port %d is open now", port)
				}
			})
		}})
	if opening != nil {
		return fmt.Errorf("step %d: open port %d: %w", d.step, port, opening)
	}
	if err != nil {
		return err
	}
	if d.opened == nil {
		return fmt.Errorf("step %d: the watch passed at its first run, though port %d was closed", d.step, port)
	}
	_, err = d.smartx(ctx, invocation{args: []string{"preflight", "history"}})
	if err != nil {
		return err
	}
	d.note("every run is kept on this laptop; smartx preflight report ID --report it.html --lang fr writes its report again")
	return nil
}

// caFile is the dev server's CA, relative to the working directory when it is inside it.
func (d *demo) caFile() string {
	caFile := d.server.env["SMARTX_CA_FILE"]
	if rel, err := filepath.Rel(d.work, caFile); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return caFile
}

func (d *demo) stepSite(ctx context.Context) error {
	d.heading("Create the site the device goes to, before the visit",
		"the platform keeps there what the installer sees of the site's network")
	_, err := d.smartx(ctx, invocation{args: []string{"site", "create", "--name", siteName,
		"--address", "1 place Bellecour, 69002 Lyon", "--tz", "Europe/Paris"}})
	return err
}

func (d *demo) stepProvision(ctx context.Context) error {
	d.heading("Provision the device and write its bundle",
		"the network settings IT gave are checked before anything is registered: a gateway",
		"outside the device's subnet is refused (exit status 2), then the right one is accepted")
	args := func(gateway string) []string {
		return []string{"device", "provision", "--serial", serial, "--site", siteName,
			"--ip", "192.0.2.10/24", "--gateway", gateway, "--dns", "192.0.2.53", "--out", bundle}
	}
	if _, err := d.smartx(ctx, invocation{args: args("192.0.3.1"), exit: 2}); err != nil {
		return err
	}
	_, err := d.smartx(ctx, invocation{args: args("192.0.2.1")})
	return err
}

func (d *demo) stepSimulate(ctx context.Context) error {
	d.heading("Run the device: five simulated days (Monday to Friday), offline twice",
		"Monday 12:00 for 6 hours: the files wait in the spool and are all sent when the network is back;",
		"Thursday 18:00 to the end of the run, 30 hours: longer than the spool keeps (--spool-cap 1d stands",
		"in for the device's month), so the oldest files are dropped; back online, the device reports the",
		"loss and sends the day it kept")
	_, err := d.smartx(ctx, invocation{args: []string{"device", "simulate", "--bundle", bundle, "--spool", spool,
		"--start", weekStart, "--duration", "5d", "--speed", speed, "--spool-cap", "1d",
		"--outage", "+12h+6h", "--outage", "+3d18h+30h"}})
	return err
}

func (d *demo) stepStatus(ctx context.Context) error {
	d.heading("What the platform saw: the device's status (a support engineer's first look)",
		"the 6-hour outage left no trace; the files dropped from the full spool show as reported losses")
	out, err := d.smartx(ctx, invocation{args: []string{"device", "status", serial}, capture: true})
	fmt.Fprint(d.out, out)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "losses reported by the device") {
		return fmt.Errorf("step %d: `smartx device status %s` shows no loss reported by the device, though its spool overflowed", d.step, serial)
	}
	return nil
}

func (d *demo) stepSpooled(ctx context.Context) error {
	d.heading("Keep files in the spool: two more hours, offline the whole time",
		"the simulator resumes where it stopped; with the network down it cannot send, so after",
		"--drain-timeout it stops with exit status 1, saying what is left")
	if _, err := d.smartx(ctx, invocation{args: []string{"device", "simulate", "--bundle", bundle, "--spool", spool,
		"--duration", "2h", "--speed", speed, "--outage", "+0s+3h", "--drain-timeout", "1s"}, exit: 1}); err != nil {
		return err
	}
	files, err := d.spooled()
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("step %d: the spool holds no data file after a run offline", d.step)
	}
	d.note("%s/ holds %s", spool, strings.Join(files, ", "))
	return nil
}

// spooled lists the data files waiting in the spool, oldest first.
func (d *demo) spooled() ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(d.work, spool, "*.sxd"))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	slices.Sort(names)
	return names, nil
}

func (d *demo) stepInspectDecode(ctx context.Context) error {
	files, err := d.spooled()
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("step %d: the spool is empty: nothing to inspect", d.step+1)
	}
	file := spool + "/" + files[0]
	d.heading("Inspect and decode a spooled file (support), with the key from the bundle",
		"every chunk is decrypted and authenticated; the summary says whose file it is, its period and its gaps")
	if _, err := d.smartx(ctx, invocation{args: []string{"inspect", file, "--bundle", bundle}}); err != nil {
		return err
	}
	const head = 8
	out, err := d.smartx(ctx, invocation{args: []string{"decode", file, "--bundle", bundle}, capture: true,
		suffix: "| head -n " + strconv.Itoa(head)})
	if err != nil {
		return err
	}
	first, total := firstLines(out, head)
	fmt.Fprint(d.out, first)
	d.note("%d lines in all: a header and a row per reading", total)
	return nil
}

func (d *demo) stepDrain(ctx context.Context) error {
	d.heading("The network is back: run the device on the same spool, it sends what it kept")
	if _, err := d.smartx(ctx, invocation{args: []string{"device", "simulate", "--bundle", bundle, "--spool", spool,
		"--duration", "1h", "--speed", speed}}); err != nil {
		return err
	}
	files, err := d.spooled()
	if err != nil {
		return err
	}
	if len(files) > 0 {
		return fmt.Errorf("step %d: %d files are still in the spool after a run with the network up", d.step, len(files))
	}
	d.note("%s/ holds no data file any more", spool)
	return nil
}

func (d *demo) stepReadingsCSV(ctx context.Context) error {
	const out = "readings.csv"
	d.heading("Pull the week's readings as CSV (an analyst)")
	if _, err := d.smartx(ctx, invocation{args: []string{"readings", "--device", serial,
		"--from", weekStart, "--to", weekEnd, "--format", "csv", "--out", out}}); err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(d.work, out))
	if err != nil {
		return fmt.Errorf("step %d: %w", d.step, err)
	}
	first, total := firstLines(string(data), 4)
	fmt.Fprint(d.out, first)
	d.note("%s: %d lines, a header and %d readings (7 channels every minute, less what the full spool dropped)", out, total, total-1)
	if total < 2 {
		return fmt.Errorf("step %d: %s holds no reading", d.step, out)
	}
	return nil
}

func (d *demo) stepReadingsPlot(ctx context.Context) error {
	d.heading("The same week as a chart on the terminal: hourly means of the main meter",
		"weekdays at work, nights and the weekend low; the hole is the time the full spool dropped")
	_, err := d.smartx(ctx, invocation{args: []string{"readings", "--device", serial,
		"--from", weekStart, "--to", weekEnd, "--interval", "1h", "--channel", "main", "--plot"}})
	return err
}

func (d *demo) stepToken(ctx context.Context) error {
	d.heading("A read-only token for a script: create it, use it, revoke it, see it refused",
		"the script asks for the building's daily figures, Tuesday to Friday in Paris time: the count",
		"column shows the readings behind each mean, and the day the spool overflowed has fewer")
	out, err := d.smartx(ctx, invocation{args: []string{"token", "create", "--name", "analyst",
		"--scope", "readings:read", "-o", "json"}, capture: true})
	if err != nil {
		return err
	}
	fmt.Fprint(d.out, shortenSecrets(out))
	var tok struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.ID == "" || tok.Secret == "" {
		return fmt.Errorf("step %d: `smartx token create -o json` printed no id and secret: %v", d.step, err)
	}
	d.note("ANALYST_TOKEN below stands for that secret (shortened here; it is shown only once)")
	analyst := invocation{env: []string{"SMARTX_TOKEN=" + tok.Secret}, shownEnv: []string{`SMARTX_TOKEN="$ANALYST_TOKEN"`}}
	daily := []string{"readings", "--site", siteName, "--from", "2025-03-04", "--to", weekEnd, "--tz", "Europe/Paris",
		"--interval", "1d", "--channel", "main", "--format", "csv"}

	use := analyst
	use.args = daily
	if _, err := d.smartx(ctx, use); err != nil {
		return err
	}
	d.note("it reads readings and nothing else:")
	list := analyst
	list.args, list.exit = []string{"device", "list"}, 1
	if _, err := d.smartx(ctx, list); err != nil {
		return err
	}
	if _, err := d.smartx(ctx, invocation{args: []string{"token", "revoke", tok.ID, "--yes"}}); err != nil {
		return err
	}
	d.note("the very next request with it is refused:")
	refused := analyst
	refused.args, refused.exit = daily, 1
	_, err = d.smartx(ctx, refused)
	return err
}

func (d *demo) stepSiteStatus(ctx context.Context) error {
	d.heading("The customer calls: support opens the site at a glance",
		"the watch's run that passed (who sent it, from which address), the device's last contact, the files",
		"its full spool dropped; exit status 1, since a spool loss reported in the last 7 days needs attention")
	var out strings.Builder
	_, err := d.smartx(ctx, invocation{args: []string{"site", "status", siteName}, exit: 1,
		onLine: func(line string) { out.WriteString(line + "\n") }})
	if err != nil {
		return err
	}
	for _, want := range []string{"owner@example.com", serial, "from its full spool"} {
		if !strings.Contains(out.String(), want) {
			return fmt.Errorf("step %d: `smartx site status` does not show %q", d.step, want)
		}
	}
	return nil
}

func (d *demo) stepStop(context.Context) error {
	d.heading("Stop everything the demo started")
	if err := d.stopStarted(); err != nil {
		return err
	}
	d.note("smartx server stopped on an interrupt, as with Ctrl-C, and removed its ephemeral data directory")
	d.note("the DNS and NTP responders are closed")
	return nil
}
