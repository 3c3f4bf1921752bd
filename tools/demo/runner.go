package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// demo holds what every step shares: the binary, the working directory every command runs in,
// their environment, and what was started, so cleanup can stop it.
type demo struct {
	bin   string   // absolute path of the smartx binary
	work  string   // temporary directory: the commands' working directory, removed at the end
	env   []string // environment of every smartx command
	out   *os.File // where everything is printed, the commands' stdout and stderr included
	color bool     // bold headings (a terminal, and NO_COLOR unset)
	step  int

	server     *devServer
	responders *responders
	opened     *preflighttest.Server // the port the watch step opens, passing connections to the server
}

func newDemo(smartx string, out *os.File) (*demo, error) {
	bin, err := filepath.Abs(smartx)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("no smartx binary at %s: run `make build` first, or give its path with -smartx", bin)
	}
	work, err := os.MkdirTemp("", "smartx-demo-")
	if err != nil {
		return nil, fmt.Errorf("create the demo's temporary directory: %w", err)
	}
	d := &demo{bin: bin, work: work, out: out, color: isTerminal(out) && os.Getenv("NO_COLOR") == ""}
	d.env = demoEnv(os.Environ(), work)
	return d, nil
}

// demoEnv is the environment of every command: the user's, without any SMARTX_ setting (their
// profiles, servers and tokens stay out of the demo), with a configuration folder and a
// temporary folder of the demo's own.
func demoEnv(environ []string, work string) []string {
	env := make([]string, 0, len(environ)+5)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToUpper(name), "SMARTX_"):
		case name == "TMPDIR", name == "TMP", name == "TEMP":
		default:
			env = append(env, kv)
		}
	}
	return append(env,
		"SMARTX_CONFIG_DIR="+filepath.Join(work, "config"),
		// The dev server's ephemeral data directory lands in the demo's, so nothing survives it.
		"TMPDIR="+work, "TMP="+work, "TEMP="+work)
}

// heading starts a step.
func (d *demo) heading(title string, lines ...string) {
	d.step++
	h := fmt.Sprintf("==> %d. %s", d.step, title)
	if d.color {
		h = "\x1b[1m" + h + "\x1b[0m"
	}
	fmt.Fprintf(d.out, "\n%s\n", h)
	for _, l := range lines {
		fmt.Fprintf(d.out, "    %s\n", l)
	}
}

// note prints a line of the demo's own, told apart from the commands' output by its marker.
func (d *demo) note(format string, args ...any) {
	fmt.Fprintf(d.out, "  > %s\n", fmt.Sprintf(format, args...))
}

// invocation is one smartx command of a step.
type invocation struct {
	args []string
	// env is added to the environment; shownEnv is how it appears on the printed command line
	// (SMARTX_TOKEN="$ANALYST_TOKEN" rather than the secret).
	env, shownEnv []string
	// exit is the expected exit status.
	exit int
	// capture returns stdout instead of printing it, for the step to print what it wants.
	capture bool
	// suffix is printed after the command line, as in "| head -n 8".
	suffix string
	// onLine, when set, gets each line of stdout as it is printed (stdout is then a pipe).
	onLine func(line string)
}

// smartx runs one command in the working directory and checks its exit status. Its stderr,
// and its stdout unless captured, go straight to the demo's output, so a terminal gets
// smartx's own colours and live progress and a pipe gets its plain text.
func (d *demo) smartx(ctx context.Context, inv invocation) (string, error) {
	line := commandLine(inv.shownEnv, inv.args)
	if inv.suffix != "" {
		line += " " + inv.suffix
	}
	fmt.Fprintf(d.out, "$ %s\n", line)
	cmd := exec.CommandContext(ctx, d.bin, inv.args...)
	cmd.Dir = d.work
	cmd.Env = append(append([]string(nil), d.env...), inv.env...)
	cmd.Stderr = d.out
	var stdout bytes.Buffer
	switch {
	case inv.capture:
		cmd.Stdout = &stdout
	case inv.onLine != nil:
		cmd.Stdout = &lineWriter{out: d.out, fn: inv.onLine}
	default:
		cmd.Stdout = d.out
	}
	cmd.SysProcAttr = childProcAttr()
	cmd.Cancel = func() error { return interrupt(cmd.Process) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		return "", fmt.Errorf("step %d, smartx %s: %w", d.step, inv.args[0], err)
	}
	if code != inv.exit {
		return stdout.String(), fmt.Errorf("step %d, `%s` exited with status %d, expected %d", d.step, shortLine(line), code, inv.exit)
	}
	if code != 0 {
		fmt.Fprintf(d.out, "  > exit status %d, as expected\n", code)
	}
	return stdout.String(), nil
}

// commandLine prints a command as a POSIX shell would read it back.
func commandLine(env, args []string) string {
	parts := append([]string(nil), env...)
	parts = append(parts, "smartx")
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shortLine keeps an error message to one readable line.
func shortLine(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

var tokenPattern = regexp.MustCompile(`sx[ts]_[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]+`)

// shortenSecrets cuts API and session tokens down to their first characters: they are hundreds
// of characters long and would fill the screen. The demo says where it does this.
func shortenSecrets(s string) string {
	return tokenPattern.ReplaceAllStringFunc(s, func(t string) string {
		return t[:16] + "..."
	})
}

// firstLines returns the first n lines of s and how many lines it has.
func firstLines(s string, n int) (head string, total int) {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines[:min(n, len(lines))], ""), len(lines)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
