package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newDeviceCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Provision devices, see their status and communication losses, fetch their keys",
		Long: `Devices are addressed by id (dev_...) or serial (SX-...).

  provision     register a device and write its provisioning bundle (installers)
  replace       swap a device's hardware: the new unit keeps its site and history
  list, show    the devices you can see
  status        last contact, files and readings received, communication losses
  key           the device's data file keys, for support engineers (audited)
  rotate-key    a new data file key, written into the device's provisioning bundle
  decommission  take a device out of service (its files and readings stay)
  simulate      a Smart X in software, from a provisioning bundle`,
	}
	cmd.AddCommand(newDeviceProvisionCmd(f), newDeviceListCmd(f), newDeviceShowCmd(f), newDeviceStatusCmd(f), newDeviceKeyCmd(f),
		newDeviceRotateKeyCmd(f), newDeviceDecommissionCmd(f), newDeviceSimulateCmd(f), newDeviceReplaceCmd(f))
	return cmd
}

func deviceFilterForSite(site string) client.DeviceFilter { return client.DeviceFilter{Site: site} }

func deviceState(d api.Device) string {
	if d.Decommissioned {
		return "decommissioned"
	}
	return "in service"
}

// renderDeviceTable lists devices with their sites' names (ids where a name is unknown).
func renderDeviceTable(f *Factory, devices []api.Device, sites siteNameMap) error {
	tbl := f.IO.NewTable("id", "serial", "site", "network", "key id", "last contact", "state")
	tbl.KeepWhole(0, 1)
	for _, d := range devices {
		last := "never"
		if d.LastContactAt != nil {
			last = formatDate(*d.LastContactAt)
		}
		tbl.Row(d.ID, d.Serial, sites.label(d.SiteID), networkText(d.Network), fmt.Sprint(d.CurrentKeyID), last, deviceState(d))
	}
	return tbl.Render()
}

func networkText(n api.NetworkSettings) string {
	s := string(n.Mode)
	if n.Address != "" {
		s += " " + n.Address
	}
	if n.Proxy != "" {
		s += " via proxy"
	}
	return s
}

func newDeviceListCmd(f *Factory) *cobra.Command {
	var site string
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List devices",
		Long: `List the devices you can see, in service (--all adds the decommissioned ones), with their
site, network settings, current key id and last contact.`,
		Example: `  smartx device list
  smartx device list --site "Paris HQ" --all
  smartx device list -o json | jq -r '.[].serial'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			filter := client.DeviceFilter{All: all}
			if site != "" {
				if filter.Site, err = resolveSiteID(ctx, c, site); err != nil {
					return err
				}
			}
			devices, err := c.Devices(ctx, filter)
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				if devices == nil {
					devices = []api.Device{}
				}
				return ui.WriteJSON(f.IO.Out, devices)
			}
			if len(devices) == 0 {
				fmt.Fprintln(f.IO.ErrOut, "no devices: provision one with `smartx device provision`")
				return nil
			}
			return renderDeviceTable(f, devices, siteNames(ctx, c))
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "only the devices of this site (id or name)")
	cmd.Flags().BoolVar(&all, "all", false, "include decommissioned devices")
	return cmd
}

func newDeviceShowCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show ID|SERIAL",
		Short:   "Show a device",
		Example: `  smartx device show SX-00042`,
		Args:    exactArgs(1, "a device id or serial"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			d, err := resolveDevice(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, d)
			}
			var b strings.Builder
			row := func(k, v string) { fmt.Fprintf(&b, "%-13s %s\n", k, v) }
			row("id", d.ID)
			row("serial", d.Serial)
			if name := siteNames(cmd.Context(), c).name(d.SiteID); name != "" {
				row("site", fmt.Sprintf("%s (%s)", name, d.SiteID))
			} else {
				row("site", d.SiteID)
			}
			row("state", deviceState(d))
			row("network", networkText(d.Network))
			if d.Network.Gateway != "" {
				row("gateway", d.Network.Gateway)
			}
			if len(d.Network.DNS) > 0 {
				row("dns", strings.Join(d.Network.DNS, ", "))
			}
			if d.Network.Proxy != "" {
				row("proxy", d.Network.Proxy)
			}
			if d.Network.NTP != "" {
				row("ntp", d.Network.NTP)
			}
			row("key id", fmt.Sprint(d.CurrentKeyID))
			row("registered", formatDate(d.CreatedAt))
			if d.LastContactAt != nil {
				row("last contact", formatDate(*d.LastContactAt))
			} else {
				row("last contact", "never")
			}
			_, err = fmt.Fprint(f.IO.Out, b.String())
			return err
		},
	}
}

func newDeviceStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "status ID|SERIAL",
		Short: "Last contact, what was received, and the communication losses",
		Example: `  smartx device status SX-00042
  smartx device status SX-00042 -o json | jq .sequence_gaps`,
		Long: `Show what the platform received from a device: last contact, files and readings, the
period covered, and the communication losses: missing files (sequence gaps), periods
without readings, and the files the device reports it dropped because its spool (about a
month) was full. Exit status 1 when files are missing that the device did not report dropping
(a loss nobody explained: look at the device's connection and spool).`,
		Args: exactArgs(1, "a device id or serial"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceStatus(cmd.Context(), f, args[0])
		},
	}
}

func runDeviceStatus(ctx context.Context, f *Factory, ref string) error {
	format, c, d, err := f.deviceArg(ctx, ref)
	if err != nil {
		return err
	}
	s, err := c.DeviceStatus(ctx, d.ID)
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		err = ui.WriteJSON(f.IO.Out, s)
	} else {
		err = renderDeviceStatus(f.IO.Out, f.IO.Styles(), s, f.Now())
	}
	if err != nil {
		return err
	}
	if unreportedGaps(s) {
		return silentExit(exitFailure)
	}
	return nil
}

// unreportedGaps reports whether files are missing that the device did not report dropping.
func unreportedGaps(s api.DeviceStatus) bool {
	for _, g := range s.SequenceGaps {
		if !g.Reported {
			return true
		}
	}
	return s.SequenceGapsTotal > len(s.SequenceGaps) // older runs, not listed: assume the worst
}

func renderDeviceStatus(w interface{ Write([]byte) (int, error) }, st *ui.Styles, s api.DeviceStatus, now time.Time) error {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "  %-14s %s\n", k, v) }
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", formatDate(*t), humanSince(*t, now))
	}
	fmt.Fprintf(&b, "%s  %s\n", st.Bold(s.Serial), st.Muted(s.DeviceID))
	row("last contact", when(s.LastContactAt))
	row("last upload", when(s.LastUploadAt))
	if s.LastRejection != nil {
		row("last refusal", fmt.Sprintf("%s: %s %s", formatDate(s.LastRejection.At), s.LastRejection.Code, s.LastRejection.Reason))
	}
	if s.LastSequence != nil {
		row("last file", fmt.Sprintf("sequence %d", *s.LastSequence))
	}
	row("received", ui.Plural(s.FilesReceived, "file")+", "+ui.Plural(s.ReadingsReceived, "reading"))
	if s.FirstReadingAt != nil && s.LastReadingAt != nil {
		row("covering", fmt.Sprintf("%s → %s", formatDate(*s.FirstReadingAt), formatDate(*s.LastReadingAt)))
	}
	b.WriteString("\n")
	losses := len(s.SequenceGaps) + len(s.TimeGaps) + len(s.ReportedLosses)
	switch {
	case losses == 0 && s.FilesReceived == 0:
		fmt.Fprintf(&b, "  %s nothing received yet: check the device is powered and run 'smartx preflight' on its network\n", st.Warn("!"))
	case losses == 0:
		fmt.Fprintf(&b, "  %s no communication loss\n", st.OK("✓"))
	}
	if len(s.ReportedLosses) > 0 {
		fmt.Fprintf(&b, "  %s reported by the device (spool full, files dropped):\n", st.Warn("losses"))
		for _, l := range s.ReportedLosses {
			fmt.Fprintf(&b, "    files %d–%d (%d), %s → %s\n", l.FirstSequence, l.LastSequence, l.Files, formatDate(l.From), formatDate(l.To))
		}
	}
	if len(s.SequenceGaps) > 0 {
		fmt.Fprintf(&b, "  %s %s never received:\n", st.Warn("missing"), ui.Plural(s.MissingFiles, "file"))
		for _, g := range s.SequenceGaps {
			period := ""
			if g.From != nil && g.To != nil {
				period = fmt.Sprintf(", %s → %s", formatDate(*g.From), formatDate(*g.To))
			}
			note := ""
			if g.Reported {
				note = st.Muted(" (reported as dropped)")
			}
			fmt.Fprintf(&b, "    files %d–%d (%d)%s%s\n", g.FirstSequence, g.LastSequence, g.Files, period, note)
		}
		if s.SequenceGapsTotal > len(s.SequenceGaps) {
			fmt.Fprintf(&b, "    … %d runs in all (-o json lists the most recent %d)\n", s.SequenceGapsTotal, len(s.SequenceGaps))
		}
	}
	if len(s.TimeGaps) > 0 {
		fmt.Fprintf(&b, "  %s periods without readings:\n", st.Warn("gaps"))
		for _, g := range s.TimeGaps {
			fmt.Fprintf(&b, "    %s → %s  %s  (%s)\n", formatDate(g.From), formatDate(g.To), shortDuration(time.Duration(g.Seconds*float64(time.Second))), strings.ReplaceAll(g.Where, "_", " "))
		}
		if s.TimeGapsTotal > len(s.TimeGaps) {
			fmt.Fprintf(&b, "    … %d in all\n", s.TimeGapsTotal)
		}
	}
	_, err := w.Write([]byte(b.String()))
	return err
}

// humanSince says how long ago t was, coarsely.
func humanSince(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

type deviceKeyOptions struct {
	keyID uint32
	all   bool
}

func newDeviceKeyCmd(f *Factory) *cobra.Command {
	o := &deviceKeyOptions{}
	cmd := &cobra.Command{
		Use:   "key ID|SERIAL",
		Short: "Print a device's data file key (support engineers; the access is audited)",
		Long: `Print the device's current key as 64 hex digits on stdout, ready for
--key-file or SMARTX_DEVICE_KEY; --key-id picks an older key, --all lists them all.
Needs the devices:keys scope; every access is recorded in the platform's audit log.`,
		Example: `  smartx device key SX-00042 > sx-00042.key
  smartx inspect --key-file sx-00042.key capture/`,
		Args: exactArgs(1, "a device id or serial"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if o.all && o.keyID != 0 {
				return usageErrorf("--all and --key-id cannot be used together: --all lists every key")
			}
			format, c, d, err := f.deviceArg(ctx, args[0])
			if err != nil {
				return err
			}
			keys, err := c.DeviceKeys(ctx, d.ID)
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, keys)
			}
			if o.all {
				tbl := f.IO.NewTable("key id", "key", "created", "current")
				tbl.KeepWhole(1)
				for _, k := range keys.Keys {
					tbl.Row(fmt.Sprint(k.KeyID), k.Key, formatDate(k.CreatedAt), fmt.Sprint(k.Current))
				}
				return tbl.Render()
			}
			for _, k := range keys.Keys {
				if (o.keyID == 0 && k.Current) || (o.keyID != 0 && k.KeyID == o.keyID) {
					fmt.Fprintf(f.IO.ErrOut, "key id %d of %s (keep it secret: it decrypts the device's files)\n", k.KeyID, keys.Serial)
					_, err := fmt.Fprintln(f.IO.Out, k.Key)
					return err
				}
			}
			return fmt.Errorf("%s has no key id %d (it has %s: --all lists them)", keys.Serial, o.keyID, ui.Plural(len(keys.Keys), "key"))
		},
	}
	cmd.Flags().Uint32Var(&o.keyID, "key-id", 0, "an older key id (default: the current key)")
	cmd.Flags().BoolVar(&o.all, "all", false, "list every key the device has had")
	return cmd
}
