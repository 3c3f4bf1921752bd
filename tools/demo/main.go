// Command demo runs smartx end to end on this machine: it is what `make demo` runs.
//
// It starts a throwaway platform server (`smartx server --dev`) and small DNS and NTP
// responders, all on 127.0.0.1, then plays the whole chain as the people who use smartx do:
// the installer's preflight (a watch whose run that passed goes to the site) and provisioning,
// a simulated Smart X that goes offline twice (once for longer than its spool holds), the
// support engineer's status, inspect and decode, the analyst's readings, a read-only token
// that is used, revoked and refused, and the site at a glance as support sees it. Each step
// prints the smartx command line it runs, so a reader can replay it, and the command's output.
//
// Everything lives in a temporary directory removed at the end; every process it starts is
// stopped, on success, on a failed step and on Ctrl-C. Nothing talks to any address but
// 127.0.0.1. Exit status: 0 when every step did what it should, 1 with a one-line reason when
// one did not, 130 when interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	smartx := flag.String("smartx", "bin/smartx", "path of the smartx binary to demonstrate")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, *smartx, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run plays the demo and returns the exit status. Whatever happens in the scenario, the
// cleanup runs before it returns.
func run(ctx context.Context, smartx string, stdout *os.File, stderr io.Writer) int {
	started := time.Now()
	d, err := newDemo(smartx, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	err = d.scenario(ctx)
	if err != nil && ctx.Err() == nil {
		d.showServerLog()
	}
	cleanupErr := d.cleanup()
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "\ndemo: interrupted after %s; everything it started is stopped and its files are removed\n",
			time.Since(started).Round(100*time.Millisecond))
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	case cleanupErr != nil:
		fmt.Fprintf(stderr, "demo: %v\n", cleanupErr)
		return 1
	}
	fmt.Fprintf(stdout, "\ndemo finished in %s: every step did what it should; the server and the responders are stopped and %s is removed\n",
		time.Since(started).Round(100*time.Millisecond), d.work)
	return 0
}
