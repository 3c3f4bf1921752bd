package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/commands"
	"github.com/smart-impulse/smartx/internal/datafiles/datafilestest"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
)

// TestMain lets the scripts run `smartx` as a real process: testscript re-executes this test
// binary as the smartx command.
func TestMain(m *testing.M) {
	// The scripts on PostgreSQL share one throwaway cluster, stopped once they have run.
	testscript.Main(pgtest.Wrap(m), map[string]func(){
		"smartx":     func() { os.Exit(commands.Execute()) },
		"mailcode":   func() { os.Exit(mailCodeMain()) },
		"totpcode":   func() { os.Exit(totpCodeMain()) },
		"ssobrowser": func() { os.Exit(ssoBrowserMain()) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script. Each script gets its own loopback
// stand-ins of the platform; their addresses are in the environment (see setupPlatform).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: false,
		Setup:               setupPlatform,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") == "1",
		Cmds:                scriptCommands(),
		Condition:           scriptCondition,
	})
}

// scriptCommands are the custom commands of the scripts (testdata/script and testdata/guides).
func scriptCommands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"gen-datafiles": genDatafiles,
		"waitfile":      waitFile,
		"envfile":       envFile,
		"jsonget":       jsonGet,
		"envfromfile":   envFromFile,
		"upload":        uploadDatafiles,
		"freeport":      freePort,
		"simreadings":   simReadings,
		"waitspool":     waitSpool,
		"waitreceived":  waitReceived,
		"lsdir":         lsDir,
		"checkstatus":   checkStatus,
		"smtpserver":    smtpServer,
		"dbsecrets":     dbSecrets,
		"filesholdany":  filesHold,
		"waithealth":    waitHealth,
		"mkbundle":      mkBundle,
		"netns-segment": netnsSegment,
		"duringwatch":   duringWatch,
		"pgdatabase":    pgDatabase,
		"gencert":       genCert,
		"waitmatch":     waitMatch,
		"oidcprovider":  oidcProvider,
	}
}

// genDatafiles writes a device's data files: gen-datafiles DIR SERIAL KEYHEX HOURS [gaps].
// The readings are the synthetic load curve of seed 5 from 2026-11-16T00:00Z, one file per hour.
func genDatafiles(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: gen-datafiles DIR SERIAL KEYHEX HOURS [gaps]")
	}
	key, err := aescodec.ParseKey(args[2])
	ts.Check(err)
	hours, err := strconv.Atoi(args[3])
	ts.Check(err)
	g, err := readings.NewGenerator(readings.GeneratorConfig{
		Seed:     5,
		Start:    time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC),
		Duration: time.Duration(hours) * time.Hour,
		Gaps:     len(args) > 4 && args[4] == "gaps",
	})
	ts.Check(err)
	_, err = datafilestest.WriteDir(ts.MkAbs(args[0]), datafilestest.Device{Serial: args[1], Key: key, KeyID: 1, Generator: g})
	ts.Check(err)
}

// setupPlatform starts DNS, HTTPS, HTTP and NTP stand-ins on 127.0.0.1 and exposes them:
// PLATFORM_HOST, DNS_SERVER, HTTPS_PORT, HTTP_PORT, NTP_SERVER, NTP_PORT, CA_FILE, CLOSED_PORT, and
// SITE_FILE, a preflight site file pointing at all of them.
func setupPlatform(env *testscript.Env) error {
	p, err := preflighttest.StartPlatform(preflighttest.PlatformOptions{})
	if err != nil {
		return err
	}
	env.Defer(func() { p.Close() })
	ca, err := p.WriteCAFile(env.WorkDir)
	if err != nil {
		return err
	}
	closed, err := preflighttest.ClosedPort()
	if err != nil {
		return err
	}
	vectors, err := filepath.Abs(filepath.Join("..", "..", "internal", "aescodec", "testdata", "vectors"))
	if err != nil {
		return err
	}
	vars := map[string]string{
		"VECTORS":       vectors,
		"VECTOR_KEY":    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"PLATFORM_HOST": preflighttest.Host,
		"DNS_SERVER":    p.DNS.Addr,
		"HTTPS_PORT":    strconv.Itoa(p.HTTPS.Port),
		"HTTP_PORT":     strconv.Itoa(p.HTTP.Port),
		"NTP_SERVER":    p.NTP.Addr,
		"NTP_PORT":      strconv.Itoa(p.NTP.Port),
		"CA_FILE":       ca,
		"CLOSED_PORT":   strconv.Itoa(closed),
		"NO_COLOR":      "1",
		// The preflight history and the profiles stay in the script's folder.
		"SMARTX_CONFIG_DIR": filepath.Join(env.WorkDir, "config"),
		// Scripts never touch the real credential store of the machine running them: tokens
		// go to the configuration file (the keyring path is unit-tested with go-keyring's mock).
		"SMARTX_KEYRING": "off",
		// Under -race, every process sleeps a second at exit (atexit_sleep_ms=1000) in case
		// another goroutine is about to report; scripts run dozens of processes each.
		"GORACE": strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0"),
	}
	for k, v := range vars {
		env.Setenv(k, v)
	}
	site := "host: " + preflighttest.Host + "\nexpect-ip: 127.0.0.1\ndns-server: " + p.DNS.Addr +
		"\nhttps-port: " + vars["HTTPS_PORT"] + "\nhttp-port: " + vars["HTTP_PORT"] + "\nntp-server: " + p.NTP.Addr +
		"\nping-target: 127.0.0.1\nca-file: " + ca + "\ndevice-roots-only: true\ntimeout: 3s\nsite: Test site\n"
	siteFile := filepath.Join(env.WorkDir, "site.yaml")
	if err := os.WriteFile(siteFile, []byte(site), 0o644); err != nil {
		return err
	}
	env.Setenv("SITE_FILE", siteFile)
	return nil
}

// waitFile waits until a file exists and is not empty: waitfile FILE. It polls (a file has no
// signal to wait on) for up to 30 seconds.
func waitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if info, err := os.Stat(path); err == nil && info.Size() > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within 30s", args[0])
}

// waitMatch waits until a file has a line matching a regular expression: waitmatch FILE REGEX.
// It polls for up to 30 seconds, for the output of a background process (smartx audit --follow).
func waitMatch(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitmatch FILE REGEX")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	for deadline := time.Now().Add(pollFor); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if data, err := os.ReadFile(path); err == nil && re.Match(data) {
			return
		}
	}
	ts.Fatalf("no line of %s matches %s after %v", args[0], args[1], pollFor)
}

// envFile sets the KEY=value lines of a file in the script's environment: envfile FILE.
func envFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: envfile FILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k != "" {
			ts.Setenv(k, v)
		}
	}
}

// jsonGet prints a top-level string or number field of a JSON object file on stdout, with no
// newline, so `cp stdout FILE` captures it: jsonget FILE FIELD.
func jsonGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonget FILE FIELD")
	}
	var obj map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &obj))
	v, ok := obj[args[1]]
	if !ok {
		ts.Fatalf("%s has no field %q", args[0], args[1])
	}
	fmt.Fprint(ts.Stdout(), v)
}

// envFromFile sets a variable to the trimmed content of a file: envfromfile VAR FILE.
func envFromFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfromfile VAR FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

// uploadDatafiles plays a device: it writes HOURS one-hour data files of the synthetic load curve
// (seed 5, from 2026-11-16T00:00Z, unless -seed and -start say otherwise) with the bundle's key
// and uploads them to the bundle's server with its credential, but for the sequence numbers
// listed after HOURS, which play files lost on the way; -only uploads just the sequences it
// lists (the same files again, to play late ones):
// upload [-seed N] [-start RFC3339] [-only SEQ,...] BUNDLE HOURS [SKIP]...
//
// With !, the platform must refuse the bundle's credential: the first upload must be a 401.
func uploadDatafiles(ts *testscript.TestScript, neg bool, args []string) {
	seed, start := uint64(5), time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	var only map[uint64]bool
	for len(args) >= 2 && strings.HasPrefix(args[0], "-") {
		var err error
		switch args[0] {
		case "-seed":
			seed, err = strconv.ParseUint(args[1], 10, 64)
		case "-start":
			start, err = time.Parse(time.RFC3339, args[1])
		case "-only":
			only = map[uint64]bool{}
			for _, v := range strings.Split(args[1], ",") {
				n, perr := strconv.ParseUint(v, 10, 64)
				err = cmp.Or(err, perr)
				only[n] = true
			}
		default:
			ts.Fatalf("upload: unknown option %s", args[0])
		}
		ts.Check(err)
		args = args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: [!] upload [-seed N] [-start RFC3339] [-only SEQ,...] BUNDLE HOURS [SKIP]...")
	}
	skip := map[uint64]bool{}
	for _, a := range args[2:] {
		n, err := strconv.ParseUint(a, 10, 64)
		ts.Check(err)
		skip[n] = true
	}
	b, _, err := device.LoadBundle(ts.MkAbs(args[0]))
	ts.Check(err)
	key, err := b.Key()
	ts.Check(err)
	hours, err := strconv.Atoi(args[1])
	ts.Check(err)
	g, err := readings.NewGenerator(readings.GeneratorConfig{Seed: seed, Start: start, Duration: time.Duration(hours) * time.Hour})
	ts.Check(err)
	files, err := datafilestest.Files(datafilestest.Device{Serial: b.Serial, Key: key, KeyID: b.KeyID, Generator: g})
	ts.Check(err)
	pool, err := b.CertPool()
	ts.Check(err)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	uploaded := 0
	for _, f := range files {
		if skip[f.Sequence] || only != nil && !only[f.Sequence] {
			continue
		}
		uploaded++
		req, err := http.NewRequest(http.MethodPost, b.ServerURL+"/v1/ingest", bytes.NewReader(f.Data))
		ts.Check(err)
		req.Header.Set("Authorization", "Bearer "+b.UploadCredential)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := hc.Do(req)
		ts.Check(err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case neg && resp.StatusCode == http.StatusUnauthorized:
			fmt.Fprintf(ts.Stdout(), "refused: %s\n", body)
			return
		case neg:
			ts.Fatalf("upload of file %d with a credential that must be refused: %s %s", f.Sequence, resp.Status, body)
		case resp.StatusCode/100 != 2:
			ts.Fatalf("upload of file %d: %s %s", f.Sequence, resp.Status, body)
		}
	}
	fmt.Fprintf(ts.Stdout(), "uploaded %d files\n", uploaded)
}

// pollFor bounds the waits of the simulator scripts: long enough for a loaded machine, short
// enough that a stuck script fails with a message rather than at the test's deadline.
const pollFor = 30 * time.Second

// freePort sets VAR to a TCP port of 127.0.0.1 that is free: freeport VAR. A server killed
// and restarted must listen on the same port, since the device's bundle pins its URL; port 0
// would pick a new one. The port is taken below the kernel's ephemeral range where there is
// one, so that while the server is down no socket of another process is given it.
func freePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	lo, hi := 0, 0 // port 0: the kernel picks, in its ephemeral range
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if first, err := strconv.Atoi(f[0]); err == nil && first > 11024 {
				lo, hi = first-10000, first
			}
		}
	}
	for try := 0; try < 100; try++ {
		port := 0
		if hi > lo {
			port = lo + rand.IntN(hi-lo)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken: try another
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ts.Check(ln.Close())
		ts.Setenv(args[0], strconv.Itoa(port))
		return
	}
	ts.Fatalf("freeport: no free port found on 127.0.0.1")
}

// simSummary is the part of `smartx device simulate -o json` that says which readings the
// simulator generated.
type simSummary struct {
	Serial       string    `json:"serial"`
	Seed         uint64    `json:"seed"`
	Origin       time.Time `json:"origin"`
	Interval     string    `json:"interval"`
	SimulatedNow time.Time `json:"simulated_now"`
	NextSequence uint64    `json:"next_sequence"`
}

func readSimSummary(ts *testscript.TestScript, name string) simSummary {
	var s simSummary
	if err := json.Unmarshal([]byte(ts.ReadFile(name)), &s); err != nil {
		ts.Fatalf("%s is not the -o json summary of smartx device simulate: %v", name, err)
	}
	if s.Serial == "" || s.Origin.IsZero() || s.Interval == "" {
		ts.Fatalf("%s lacks serial, origin or interval: is it the summary of a run that started?", name)
	}
	return s
}

// simReadings writes to OUT the CSV that `smartx readings --device SERIAL --format csv` must
// return for the readings a simulator generated, and prints their count:
// simreadings SUMMARY OUT [FROM TO]... SUMMARY is the simulator's -o json output (serial,
// seed, origin, interval); the readings are those of [FROM, TO) for each pair of RFC 3339
// times, by default [origin, simulated_now). They come from device.ReadingsGenerator and are
// written by readings.Exporter, the code of the platform's raw export, so the files compare
// byte for byte, reading by reading.
func simReadings(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args)%2 != 0 {
		ts.Fatalf("usage: simreadings SUMMARY OUT [FROM TO]...")
	}
	s := readSimSummary(ts, args[0])
	interval, err := time.ParseDuration(s.Interval)
	ts.Check(err)
	ranges := args[2:]
	if len(ranges) == 0 {
		ranges = []string{s.Origin.Format(time.RFC3339), s.SimulatedNow.Format(time.RFC3339)}
	}
	g, err := device.ReadingsGenerator(s.Seed, s.Origin, interval)
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	defer f.Close()
	exp, err := readings.NewExporter(f, readings.ExportCSV, readings.ExportOptions{})
	ts.Check(err)
	src := exp.Source(s.Serial, g.Schema().Channels)
	var last time.Time
	for i := 0; i < len(ranges); i += 2 {
		from, err := time.Parse(time.RFC3339, ranges[i])
		ts.Check(err)
		to, err := time.Parse(time.RFC3339, ranges[i+1])
		ts.Check(err)
		if !from.Before(to) || from.Before(last) {
			ts.Fatalf("simreadings: the ranges must be in order and not empty: %s %s", ranges[i], ranges[i+1])
		}
		last = to
		for r := range g.Range(from.UnixMilli(), to.UnixMilli()) {
			ts.Check(exp.WriteFrom(src, r))
		}
	}
	ts.Check(exp.Close())
	ts.Check(f.Close())
	fmt.Fprintf(ts.Stdout(), "%d readings\n", exp.Rows())
}

// waitSpool waits until a spool directory holds at least N data files: waitspool DIR N.
// Temporary files do not count: they are not data files yet.
func waitSpool(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitspool DIR N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	dir := ts.MkAbs(args[0])
	n := 0
	for deadline := time.Now().Add(pollFor); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n = countDataFiles(dir); n >= want {
			fmt.Fprintf(ts.Stdout(), "%s holds %d data files\n", args[0], n)
			return
		}
	}
	ts.Fatalf("%s holds %d data files, not %d, after %v", args[0], n, want, pollFor)
}

func countDataFiles(dir string) int {
	entries, _ := os.ReadDir(dir) // not there yet: none
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".sxd") && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// statusClient is a client of the platform in SMARTX_SERVER, with SMARTX_TOKEN and
// SMARTX_CA_FILE, that tries each request once: the waits poll on their own.
func statusClient(ts *testscript.TestScript) *client.Client {
	c, err := client.New(client.Options{
		Server: ts.Getenv("SMARTX_SERVER"), Token: ts.Getenv("SMARTX_TOKEN"), CAFile: ts.Getenv("SMARTX_CA_FILE"),
		Timeout: 5 * time.Second, Retry: client.RetryPolicy{Attempts: 1},
	})
	ts.Check(err)
	return c
}

// waitReceived waits until the platform has received at least N files of the device of a
// bundle, and prints how many it has: waitreceived BUNDLE N. A server that does not answer
// yet (starting, restarting) is waited for too.
func waitReceived(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitreceived BUNDLE N")
	}
	b, _, err := device.LoadBundle(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	c := statusClient(ts)
	var last error
	for deadline := time.Now().Add(pollFor); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.DeviceStatus(ctx, b.DeviceID)
		cancel()
		if last = err; err == nil && st.FilesReceived >= want {
			fmt.Fprintf(ts.Stdout(), "the platform has received %d files of %s\n", st.FilesReceived, b.Serial)
			return
		}
	}
	ts.Fatalf("the platform did not receive %d files of %s within %v (last error: %v)", want, b.Serial, pollFor, last)
}

// lsDir prints the files under DIR, one a line, relative and sorted, directories with a
// trailing slash: lsdir DIR. Scripts match it to check what a spool holds.
func lsDir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lsdir DIR")
	}
	root := ts.MkAbs(args[0])
	var names []string
	ts.Check(filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, rel)
		return nil
	}))
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintln(ts.Stdout(), n)
	}
}

// checkStatus checks what the platform holds of a device against what its simulator did:
// checkstatus STATUS SUMMARY WANT. STATUS is `smartx device status -o json`, SUMMARY the -o json
// summary of the simulator's last run, WANT the CSV of simreadings. Every sequence number from 1
// to the last one used is on the platform exactly once (the store keys files by sequence, so
// "once" is its job; "every" is counted here: a crash must leave no gap either); the platform
// holds exactly the readings of WANT; no loss, no gap.
func checkStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: checkstatus STATUS SUMMARY WANT")
	}
	var st api.DeviceStatus
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &st))
	sum := readSimSummary(ts, args[1])
	wantReadings := int64(strings.Count(ts.ReadFile(args[2]), "\n") - 1) // less the header
	used := sum.NextSequence - 1
	var problems []string
	switch {
	case st.LastSequence == nil:
		problems = append(problems, "the platform received no file")
	case *st.LastSequence != used:
		problems = append(problems, fmt.Sprintf("the last sequence received is %d, the simulator used up to %d", *st.LastSequence, used))
	}
	if got := st.FilesReceived + st.MissingFiles; got != int64(used) {
		problems = append(problems, fmt.Sprintf("%d files received and %d missing do not make the %d sequences used", st.FilesReceived, st.MissingFiles, used))
	}
	if st.MissingFiles != 0 {
		problems = append(problems, fmt.Sprintf("%d sequences missing (%v)", st.MissingFiles, st.SequenceGaps))
	}
	if st.ReadingsReceived != wantReadings {
		problems = append(problems, fmt.Sprintf("%d readings received, %d generated", st.ReadingsReceived, wantReadings))
	}
	if len(st.ReportedLosses) > 0 || len(st.TimeGaps) > 0 {
		problems = append(problems, fmt.Sprintf("losses %v, time gaps %v", st.ReportedLosses, st.TimeGaps))
	}
	if len(problems) > 0 {
		ts.Fatalf("%s: %s", st.Serial, strings.Join(problems, "; "))
	}
	fmt.Fprintf(ts.Stdout(), "%s: sequences 1-%d: %d files received; %d readings\n",
		st.Serial, used, st.FilesReceived, st.ReadingsReceived)
}
