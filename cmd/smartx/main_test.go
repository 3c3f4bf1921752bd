package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/commands"
	"github.com/smart-impulse/smartx/internal/datafiles/datafilestest"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
	"github.com/smart-impulse/smartx/internal/readings"
)

// TestMain lets the scripts run `smartx` as a real process: testscript re-executes this test
// binary as the smartx command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"smartx": func() { os.Exit(commands.Execute()) },
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gen-datafiles": genDatafiles,
			"waitfile":      waitFile,
			"envfile":       envFile,
			"jsonget":       jsonGet,
			"envfromfile":   envFromFile,
			"upload":        uploadDatafiles,
		},
	})
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
// PLATFORM_HOST, DNS_SERVER, HTTPS_PORT, HTTP_PORT, NTP_SERVER, CA_FILE, CLOSED_PORT, and
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
		"CA_FILE":       ca,
		"CLOSED_PORT":   strconv.Itoa(closed),
		"NO_COLOR":      "1",
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
// (seed 5, from 2026-11-16T00:00Z) with the bundle's key and uploads them to the bundle's server
// with its credential: upload BUNDLE HOURS.
func uploadDatafiles(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: upload BUNDLE HOURS")
	}
	b, _, err := device.LoadBundle(ts.MkAbs(args[0]))
	ts.Check(err)
	key, err := b.Key()
	ts.Check(err)
	hours, err := strconv.Atoi(args[1])
	ts.Check(err)
	g, err := readings.NewGenerator(readings.GeneratorConfig{Seed: 5, Start: time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), Duration: time.Duration(hours) * time.Hour})
	ts.Check(err)
	files, err := datafilestest.Files(datafilestest.Device{Serial: b.Serial, Key: key, KeyID: b.KeyID, Generator: g})
	ts.Check(err)
	pool, err := b.CertPool()
	ts.Check(err)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for _, f := range files {
		req, err := http.NewRequest(http.MethodPost, b.ServerURL+"/v1/ingest", bytes.NewReader(f.Data))
		ts.Check(err)
		req.Header.Set("Authorization", "Bearer "+b.UploadCredential)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := hc.Do(req)
		ts.Check(err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			ts.Fatalf("upload of file %d: %s %s", f.Sequence, resp.Status, body)
		}
	}
	fmt.Fprintf(ts.Stdout(), "uploaded %d files\n", len(files))
}
