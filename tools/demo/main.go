// Command demo runs smartx end to end on this machine, against loopback stand-ins only: it is
// what `make demo` runs. Nothing it starts talks to any address but 127.0.0.1.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

func main() {
	smartx := flag.String("smartx", "bin/smartx", "path of the smartx binary to demonstrate")
	flag.Parse()
	if err := run(*smartx); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(smartx string) error {
	bin, err := filepath.Abs(smartx)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("smartx binary: %w (run make build first)", err)
	}
	work, err := os.MkdirTemp("", "smartx-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	step("Start loopback stand-ins for the platform: DNS, HTTPS, HTTP and NTP on 127.0.0.1")
	platform, err := preflighttest.StartPlatform(preflighttest.PlatformOptions{})
	if err != nil {
		return err
	}
	defer platform.Close()
	caFile, err := platform.WriteCAFile(work)
	if err != nil {
		return err
	}
	fmt.Printf("    %s resolves to 127.0.0.1 through the DNS server at %s\n", preflighttest.Host, platform.DNS.Addr)

	step("The flows the device needs, as an installer sends them to IT before the visit")
	if err := smartxRun(bin, "preflight", "rules", "--profile", "legacy"); err != nil {
		return err
	}

	report := filepath.Join(work, "demo-it-report.md")
	step("Run every check against the stand-ins (the targets a real site uses are the defaults)")
	err = smartxRun(bin, "preflight",
		"--site", "Demo site",
		"--profile", "legacy",
		"--host", preflighttest.Host,
		"--expect-ip", preflighttest.Loopback,
		"--dns-server", platform.DNS.Addr,
		"--https-port", strconv.Itoa(platform.HTTPS.Port),
		"--http-port", strconv.Itoa(platform.HTTP.Port),
		"--ntp-server", platform.NTP.Addr,
		"--ping-target", preflighttest.Loopback,
		"--ca-file", caFile, "--device-roots-only",
		"--report", report,
	)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(report)
	if err != nil {
		return err
	}
	step("The first lines of the report written for the site's IT department")
	lines := strings.SplitN(string(data), "\n", 16)
	fmt.Println(strings.Join(lines[:min(len(lines), 15)], "\n"))
	fmt.Println("\ndemo finished: every server it started is stopped")
	return nil
}

func step(title string) { fmt.Printf("\n==> %s\n", title) }

func smartxRun(bin string, args ...string) error {
	fmt.Printf("$ smartx %s\n", strings.Join(quoteArgs(args), " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("smartx %s: %w", args[0], err)
	}
	return nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \"'") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return out
}
