package commands

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/ui"
)

type deviceRotateKeyOptions struct {
	bundle string
	out    string
}

func newDeviceRotateKeyCmd(f *Factory) *cobra.Command {
	o := &deviceRotateKeyOptions{}
	cmd := &cobra.Command{
		Use:   "rotate-key [ID|SERIAL] --bundle FILE",
		Short: "Give a device a new data file key and write its updated provisioning bundle",
		Long: `Give a device a new AES data file key (key id: the highest so far plus one) and write its
provisioning bundle with the new key, atomically and with mode 0600, so the device can be
provisioned again with it. The bundle given with --bundle is updated in place unless --out
names another file. Older keys stay on the platform: files the device wrote before it
switched still ingest and decode (smartx device key --all lists them).

The device is the bundle's; naming it as well (id or serial) checks they agree. Everything
that can be checked is checked before the key is rotated. Needs devices:keys.`,
		Example: `  smartx device rotate-key --bundle sx-00042.json
  smartx device rotate-key SX-00042 --bundle sx-00042.json --out sx-00042-key2.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("%s takes at most one device id or serial", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			return runDeviceRotateKey(cmd.Context(), f, o, ref)
		},
	}
	cmd.Flags().StringVar(&o.bundle, "bundle", "", "the device's provisioning bundle, updated with the new key (required)")
	cmd.Flags().StringVar(&o.out, "out", "", "write the updated bundle to FILE instead (default: --bundle, in place)")
	return cmd
}

func runDeviceRotateKey(ctx context.Context, f *Factory, o *deviceRotateKeyOptions, ref string) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	if o.bundle == "" {
		return usageErrorf("--bundle is required: the device's provisioning bundle, which gets the new key")
	}
	b, warning, err := device.LoadBundle(o.bundle)
	if err != nil {
		return usageErrorf("--bundle: %w", err)
	}
	if warning != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.ErrStyles().Warn("warning:"), warning)
	}
	out := o.bundle
	if o.out != "" && !sameFile(o.out, o.bundle) {
		out = o.out
		if err := checkBundlePath(out); err != nil { // another file must not be overwritten
			return err
		}
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	if ref != "" {
		d, err := resolveDevice(ctx, c, ref)
		if err != nil {
			return err
		}
		if d.ID != b.DeviceID {
			return usageErrorf("%s is %s but the bundle %s is for %s (%s): give that device's bundle", ref, d.ID, o.bundle, b.Serial, b.DeviceID)
		}
	}
	rotated, err := c.RotateDeviceKey(ctx, b.DeviceID)
	if err != nil {
		return fmt.Errorf("rotate the key of %s: %w", b.Serial, err)
	}
	b.DeviceKey, b.KeyID, b.CreatedAt = rotated.Key.Key, rotated.Key.KeyID, f.Now().UTC()
	if err := device.WriteBundle(out, b); err != nil {
		return fmt.Errorf("%s has a new key (key id %d) but the bundle could not be written (%w): `smartx device key %s` prints it",
			b.Serial, rotated.Key.KeyID, err, b.Serial)
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, struct {
			DeviceID string `json:"device_id"`
			Serial   string `json:"serial"`
			KeyID    uint32 `json:"key_id"`
			Bundle   string `json:"bundle"`
		}{b.DeviceID, b.Serial, rotated.Key.KeyID, out})
	}
	es := f.IO.ErrStyles()
	fmt.Fprintf(f.IO.ErrOut, "%s %s has a new data file key, key id %d (older keys stay valid for the files already written)\n", es.OK("✓"), b.Serial, rotated.Key.KeyID)
	fmt.Fprintf(f.IO.ErrOut, "%s provisioning bundle written to %s (mode 0600): provision the device with it\n", es.OK("✓"), out)
	return nil
}

// sameFile reports whether two paths name the same file (as typed, or once made absolute).
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
