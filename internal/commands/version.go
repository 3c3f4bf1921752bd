package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/ui"
)

// versionInfo is the JSON shape of `smartx version -o json`.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Date     string `json:"date"`
	Platform string `json:"platform"`
}

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the smartx version, commit and build date",
		Example: `  smartx version
  smartx version -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			v := versionInfo{Version: buildinfo.Version(), Commit: buildinfo.Commit(), Date: buildinfo.Date(), Platform: buildinfo.Platform()}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, v)
			}
			_, err = fmt.Fprintf(f.IO.Out, "smartx %s (commit %s, built %s, %s)\n", v.Version, v.Commit, v.Date, v.Platform)
			return err
		},
	}
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// exactArgs requires n positional arguments, naming what is expected in the usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s needs %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
