package commands

import (
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newPreflightRulesCmd(f *Factory) *cobra.Command {
	o := &preflightOptions{}
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Print the network flows a Smart X needs, to send to IT before the visit",
		Long: `Print the flows a Smart X needs through the site's firewall: protocol, destination,
name, port and purpose. -o csv gives a file IT can import; --profile legacy adds port 80
for devices delivered before September 2024.`,
		Example: `  smartx preflight rules
  smartx preflight rules --profile legacy -o csv > smartx-flows.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPreflightRules(f, cmd.Flags(), o)
		},
	}
	bindPreflightTargets(cmd.Flags(), o)
	return cmd
}

func runPreflightRules(f *Factory, fs *pflag.FlagSet, o *preflightOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatCSV, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	cfg, err := resolvePreflightConfig(f, fs, o)
	if err != nil {
		return err
	}
	flows := preflight.Rules(cfg)
	switch format {
	case ui.FormatJSON:
		return ui.WriteJSON(f.IO.Out, flows)
	case ui.FormatCSV:
		cw, err := ui.NewCSVWriter(f.IO.Out, "protocol", "destination", "fqdn", "port", "purpose", "profile", "rule")
		if err != nil {
			return err
		}
		for _, fl := range flows {
			if err := cw.Write(fl.Protocol, fl.Destination, fl.FQDN, csvPort(fl.Port), fl.Purpose, fl.Profile, fl.Rule()); err != nil {
				return err
			}
		}
		return cw.Flush()
	}
	tbl := f.IO.NewTable("protocol", "destination", "name", "port", "purpose", "devices")
	for _, fl := range flows {
		tbl.Row(fl.Protocol, fl.Destination, fl.FQDN, portText(fl.Port), fl.Purpose, fl.Profile)
	}
	return tbl.Render()
}

func portText(p int) string {
	if p == 0 {
		return "-"
	}
	return strconv.Itoa(p)
}

func csvPort(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}
