package commands

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type siteDeleteOptions struct {
	yes bool
}

func newSiteDeleteCmd(f *Factory) *cobra.Command {
	o := &siteDeleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete ID|NAME",
		Short: "Delete a site that has no device in service",
		Long: `Delete a site. The platform refuses while devices are in service there (decommission them
first: smartx device decommission); the site's decommissioned devices, their files and
readings are deleted with it.

On a terminal you are asked to confirm; elsewhere --yes is required. Needs devices:write.`,
		Example: `  smartx site delete "Paris HQ"
  smartx site delete sit_4kq2 --yes`,
		Args: exactArgs(1, "a site id or name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSiteDelete(cmd.Context(), f, o, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runSiteDelete(ctx context.Context, f *Factory, o *siteDeleteOptions, ref string) error {
	c, id, err := f.siteArg(ctx, ref)
	if err != nil {
		return err
	}
	site, err := c.Site(ctx, id)
	if err != nil {
		return err
	}
	err = confirmChange(f, o.yes, "deleting a site", func() (string, error) {
		return fmt.Sprintf("Delete site %q (%s)? Its decommissioned devices, their files and readings are deleted with it", site.Name, site.ID), nil
	})
	if err != nil {
		return err
	}
	if err := c.DeleteSite(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Site %q (%s) deleted\n", f.IO.ErrStyles().OK("✓"), site.Name, site.ID)
	return nil
}
