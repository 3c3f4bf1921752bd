package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newSiteCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "site",
		Short: "Create and list the sites (buildings) devices are installed in",
		Long: `Sites are the buildings where devices are installed. Everywhere a site is asked for, its id
(sit_...) or its unique name works: --site "Paris HQ".`,
	}
	cmd.AddCommand(newSiteCreateCmd(f), newSiteListCmd(f), newSiteShowCmd(f), newSiteUpdateCmd(f), newSiteDeleteCmd(f), newSiteStatusCmd(f))
	return cmd
}

type siteCreateOptions struct {
	name, address, tz string
}

func newSiteCreateCmd(f *Factory) *cobra.Command {
	o := &siteCreateOptions{}
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a site",
		Example: `  smartx site create --name "Paris HQ" --address "1 rue de Rivoli, Paris" --tz Europe/Paris`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSiteCreate(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.name, "name", "", "the site's name, unique in the account (required)")
	cmd.Flags().StringVar(&o.address, "address", "", "postal address")
	cmd.Flags().StringVar(&o.tz, "tz", "UTC", "the site's IANA time zone (daily readings start at its midnight)")
	return cmd
}

func runSiteCreate(ctx context.Context, f *Factory, o *siteCreateOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	if strings.TrimSpace(o.name) == "" {
		return usageErrorf("--name is required")
	}
	if _, err := time.LoadLocation(o.tz); err != nil {
		return usageErrorf("--tz %q is not a time zone: use an IANA name such as Europe/Paris", o.tz)
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	site, err := c.CreateSite(ctx, api.CreateSiteRequest{Name: o.name, Address: o.address, TimeZone: o.tz})
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, site)
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Site %q created\n", f.IO.ErrStyles().OK("✓"), site.Name)
	_, err = fmt.Fprintln(f.IO.Out, site.ID)
	return err
}

func newSiteListCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the sites you can see",
		Example: `  smartx site list
  smartx site list -o csv > sites.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON, ui.FormatCSV)
			if err != nil {
				return &usageError{err: err}
			}
			c, _, err := f.apiClient(false)
			if err != nil {
				return err
			}
			sites, err := c.Sites(cmd.Context(), "")
			if err != nil {
				return err
			}
			switch format {
			case ui.FormatJSON:
				if sites == nil {
					sites = []api.Site{}
				}
				return ui.WriteJSON(f.IO.Out, sites)
			case ui.FormatCSV:
				cw, err := ui.NewCSVWriter(f.IO.Out, "id", "name", "address", "time_zone", "created_at")
				if err != nil {
					return err
				}
				for _, s := range sites {
					if err := cw.Write(s.ID, s.Name, s.Address, s.TimeZone, s.CreatedAt.UTC().Format(time.RFC3339)); err != nil {
						return err
					}
				}
				return cw.Flush()
			}
			if len(sites) == 0 {
				fmt.Fprintln(f.IO.ErrOut, "no sites: create one with `smartx site create --name NAME`")
				return nil
			}
			tbl := f.IO.NewTable("id", "name", "time zone", "address", "created")
			tbl.KeepWhole(0)
			for _, s := range sites {
				tbl.Row(s.ID, s.Name, s.TimeZone, s.Address, formatDate(s.CreatedAt))
			}
			return tbl.Render()
		},
	}
}

func newSiteShowCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show ID|NAME",
		Short:   "Show a site and its devices",
		Example: `  smartx site show "Paris HQ"`,
		Args:    exactArgs(1, "a site id or name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			id, err := resolveSiteID(ctx, c, args[0])
			if err != nil {
				return err
			}
			site, err := c.Site(ctx, id)
			if err != nil {
				return err
			}
			devices, err := c.Devices(ctx, deviceFilterForSite(id))
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				if devices == nil {
					devices = []api.Device{}
				}
				return ui.WriteJSON(f.IO.Out, struct {
					api.Site
					Devices []api.Device `json:"devices"`
				}{site, devices})
			}
			var b strings.Builder
			row := func(k, v string) { fmt.Fprintf(&b, "%-10s %s\n", k, v) }
			row("id", site.ID)
			row("name", site.Name)
			row("address", site.Address)
			row("time zone", site.TimeZone)
			row("created", formatDate(site.CreatedAt))
			row("devices", fmt.Sprint(len(devices)))
			if _, err := fmt.Fprint(f.IO.Out, b.String()); err != nil {
				return err
			}
			if len(devices) == 0 {
				return nil
			}
			fmt.Fprintln(f.IO.Out)
			return renderDeviceTable(f, devices, siteNameMap{site.ID: site.Name})
		},
	}
}
