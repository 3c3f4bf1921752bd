package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/ui"
)

type siteUpdateOptions struct {
	name, address, tz string
}

func newSiteUpdateCmd(f *Factory) *cobra.Command {
	o := &siteUpdateOptions{}
	cmd := &cobra.Command{
		Use:   "update ID|NAME",
		Short: "Rename a site, change its address or time zone",
		Long: `Change a site's name, address or time zone; what is not given keeps its value (--address ""
clears the address). The time zone places the daily buckets of readings (--interval 1d).
Needs devices:write.`,
		Example: `  smartx site update "Paris HQ" --name "Paris Rivoli"
  smartx site update sit_4kq2 --tz Europe/Brussels --address "12 rue Royale, Bruxelles"`,
		Args: exactArgs(1, "a site id or name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSiteUpdate(cmd.Context(), f, cmd.Flags(), o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.name, "name", "", "the new name, unique in the account")
	cmd.Flags().StringVar(&o.address, "address", "", "the new postal address")
	cmd.Flags().StringVar(&o.tz, "tz", "", "the new IANA time zone, e.g. Europe/Paris")
	return cmd
}

func runSiteUpdate(ctx context.Context, f *Factory, fs *pflag.FlagSet, o *siteUpdateOptions, ref string) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	var req api.UpdateSiteRequest
	if fs.Changed("name") {
		if strings.TrimSpace(o.name) == "" {
			return usageErrorf("--name cannot be empty")
		}
		req.Name = &o.name
	}
	if fs.Changed("address") {
		req.Address = &o.address
	}
	if fs.Changed("tz") {
		if _, err := time.LoadLocation(o.tz); err != nil || o.tz == "" {
			return usageErrorf("--tz %q is not a time zone: use an IANA name such as Europe/Paris", o.tz)
		}
		req.TimeZone = &o.tz
	}
	if req.Name == nil && req.Address == nil && req.TimeZone == nil {
		return usageErrorf("nothing to change: give --name, --address or --tz")
	}
	c, id, err := f.siteArg(ctx, ref)
	if err != nil {
		return err
	}
	site, err := c.UpdateSite(ctx, id, req)
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, site)
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Site %q (%s) updated: time zone %s, address %q\n", f.IO.ErrStyles().OK("✓"), site.Name, site.ID, site.TimeZone, site.Address)
	return nil
}
