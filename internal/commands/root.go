// Package commands holds the smartx command tree: thin cobra commands that parse flags, call a
// domain package and render its result through internal/ui.
package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/errtext"
	"github.com/smart-impulse/smartx/internal/ui"
)

// Factory carries what every command needs, so tests can swap any of it.
type Factory struct {
	IO     *ui.IOStreams
	Now    func() time.Time
	Getenv func(string) string

	// Global holds the persistent flags, filled in by cobra before a command runs.
	Global GlobalOptions

	// NewClient, when set, builds the API client instead of client.New (tests).
	NewClient func(config.Resolved) (*client.Client, error)

	// Keyring, when set, replaces the OS credential store that keeps profile tokens (tests).
	Keyring config.Keyring
}

// GlobalOptions are the flags every command accepts (design.md section 2).
type GlobalOptions struct {
	Profile string
	Server  string
	Output  string
	CAFile  string
	NoColor bool
	Verbose bool
}

// NewFactory returns a factory on the given streams, the real clock and the real environment.
func NewFactory(io *ui.IOStreams) *Factory {
	return &Factory{IO: io, Now: time.Now, Getenv: os.Getenv}
}

// Execute runs smartx with the process's arguments and returns the exit code.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, NewFactory(ui.System()), os.Args[1:])
}

// Run executes the command tree with args and returns the exit code. Every error is printed as
// one line on stderr; a panic is turned into an error so no stack trace reaches the user.
func Run(ctx context.Context, f *Factory, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(f.IO.ErrOut, "smartx: internal error: %v (this is a bug: please report it with the command you ran)\n", r)
			code = exitFailure
		}
	}()
	root := NewRootCmd(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(f.IO.ErrOut, "smartx: interrupted")
		return exitInterrupted
	}
	code = exitCodeOf(err)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return code
	}
	if isCobraUsageError(err) {
		code = exitUsage
	}
	fmt.Fprintf(f.IO.ErrOut, "smartx: %s\n", errtext.Clean(oneLine(err.Error())))
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(f.IO.ErrOut, "run '%s --help' for usage\n", cmd.CommandPath())
	}
	return code
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "smartx",
		Short: "Install, check and run Smart X energy-metering devices",
		Long: `smartx is the toolkit for the people who install and run Smart X energy-metering devices.

  installers        smartx preflight             check the site's firewall lets the device out
  support           smartx inspect / decode      read the device's encrypted data files
  analysts          smartx readings              pull readings from the platform API
  operators         smartx audit, smartx api     the transaction log; any API route
  everyone          smartx token, smartx auth    manage API access`,
		Version:       buildinfo.Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if f.Global.NoColor {
				f.IO.DisableColor()
			}
			return nil
		},
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetVersionTemplate(`smartx {{.Version}}` + "\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: err}
	})

	pf := root.PersistentFlags()
	pf.StringVar(&f.Global.Profile, "profile", "", "configuration profile to use (env SMARTX_PROFILE)")
	pf.StringVar(&f.Global.Server, "server", "", "platform server URL (env SMARTX_SERVER)")
	pf.StringVarP(&f.Global.Output, "output", "o", "", "output format: table, json, ndjson or csv, as the command supports")
	pf.StringVar(&f.Global.CAFile, "ca-file", "", "PEM file of extra certificate authorities to trust (env SMARTX_CA_FILE)")
	pf.BoolVar(&f.Global.NoColor, "no-color", false, "disable colour (also NO_COLOR=1)")
	pf.BoolVarP(&f.Global.Verbose, "verbose", "v", false, "show more detail")

	root.SuggestionsMinimumDistance = 2
	defer guardParents(root)
	root.AddCommand(
		newVersionCmd(f),
		newPreflightCmd(f),
		newInspectCmd(f),
		newDecodeCmd(f),
		newServerCmd(f),
		newAuthCmd(f),
		newTokenCmd(f),
		newReadingsCmd(f),
		newSiteCmd(f),
		newDeviceCmd(f),
		newUserCmd(f),
		newAuditCmd(f),
		newAPICmd(f),
	)
	registerCompletions(root, f)
	return root
}

// isCobraUsageError recognises the argument errors cobra builds itself (unknown command,
// wrong number of arguments), which carry no type of their own.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// oneLine keeps the first line of an error, but for cobra's unknown command error, whose
// suggestions ("Did you mean this?") follow on other lines: they join the line.
func oneLine(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	if !strings.HasPrefix(first, "unknown command") {
		return first
	}
	var suggestions []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "\t") && strings.TrimSpace(line) != "" {
			suggestions = append(suggestions, strings.TrimSpace(line))
		}
	}
	return first + didYouMean(suggestions)
}

// didYouMean ends an unknown command error: `: did you mean "readings"?`.
func didYouMean(suggestions []string) string {
	if len(suggestions) == 0 {
		return ""
	}
	return ": did you mean " + quoteList(suggestions) + "?"
}

// groupAnnotation marks a command that only groups others (its help is its output).
const groupAnnotation = "smartx:group"

// guardParents makes every command that only groups others (device, site, token...) refuse an
// unknown subcommand with a suggestion, instead of printing its help and exiting 0; alone, it
// still prints its help.
func guardParents(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		guardParents(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() || !cmd.HasParent() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[groupAnnotation] = "true"
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return &usageError{err: fmt.Errorf("unknown command %q for %q%s", args[0], cmd.CommandPath(), didYouMean(cmd.SuggestionsFor(args[0])))}
	}
}
