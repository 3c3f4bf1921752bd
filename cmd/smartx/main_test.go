package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/commands"
	"github.com/smart-impulse/smartx/internal/datafiles/datafilestest"
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
