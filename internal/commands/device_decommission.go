package commands

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/ui"
)

type deviceDecommissionOptions struct {
	yes bool
}

func newDeviceDecommissionCmd(f *Factory) *cobra.Command {
	o := &deviceDecommissionOptions{}
	cmd := &cobra.Command{
		Use:   "decommission ID|SERIAL",
		Short: "Take a device out of service: its upload credential stops working at once",
		Long: `Decommission a device that was removed or replaced. Its upload credential stops working
at once and its serial is free for a new registration (the same hardware registered again is
a new device). Its record, files and readings stay on the platform, readable by device id and
in its site's exports, until the site is deleted.

On a terminal you are asked to confirm; elsewhere --yes is required. Needs devices:write.`,
		Example: `  smartx device decommission SX-00042
  smartx device decommission dev_8f2kq1 --yes
  smartx device list --all    # decommissioned devices are listed with --all`,
		Args: exactArgs(1, "a device id or serial"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceDecommission(cmd.Context(), f, o, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runDeviceDecommission(ctx context.Context, f *Factory, o *deviceDecommissionOptions, ref string) error {
	format, c, d, err := f.deviceArg(ctx, ref)
	if err != nil {
		return err
	}
	if d.Decommissioned {
		return fmt.Errorf("%s (%s) is already decommissioned (%s)", d.Serial, d.ID, formatOptionalDate(d.DecommissionedAt))
	}
	who := describeDevice(d.Serial, d.ID, siteNames(ctx, c).name(d.SiteID))
	err = confirmChange(f, o.yes, "decommissioning", func() (string, error) {
		return fmt.Sprintf("Decommission %s? Its upload credential stops working at once; its files and readings stay", who), nil
	})
	if err != nil {
		return err
	}
	d, err = c.DecommissionDevice(ctx, d.ID)
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, d)
	}
	fmt.Fprintf(f.IO.ErrOut, "%s %s decommissioned: its upload credential no longer works; its files and readings stay on the platform\n",
		f.IO.ErrStyles().OK("✓"), who)
	return nil
}
