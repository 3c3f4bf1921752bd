package commands

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/ui"
)

type deviceReplaceOptions struct {
	serial          string
	out             string
	fallbackServers []string
}

func newDeviceReplaceCmd(f *Factory) *cobra.Command {
	o := &deviceReplaceOptions{}
	cmd := &cobra.Command{
		Use:   "replace DEVICE --serial NEW-SERIAL --out BUNDLE",
		Short: "Swap a device's hardware: the new unit keeps its site and history",
		Long: `Replace the unit behind a device, when one fails or is swapped on site: the new unit (--serial)
takes the device's place, site, network settings and history (its readings stay one series).
The platform draws a new key and upload credential for it, written to a new provisioning bundle
(--out); the old unit's credential stops working at once. The bundle tells the new unit to
number its files after the old one's last, so the history goes on without a conflict.`,
		Example: "  smartx device replace SX-00042 --serial SX-00107 --out sx-00107.json",
		Args:    exactArgs(1, "DEVICE (its serial or dev_... id)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceReplace(cmd.Context(), f, o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.serial, "serial", "", "the serial of the new unit (required)")
	cmd.Flags().StringVar(&o.out, "out", "", "where to write the new unit's provisioning bundle (required)")
	addFallbackServerFlag(cmd.Flags(), &o.fallbackServers)
	return cmd
}

func runDeviceReplace(ctx context.Context, f *Factory, o *deviceReplaceOptions, ref string) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	if o.serial == "" || o.out == "" {
		return usageErrorf("--serial and --out are required: the new unit's serial and where to write its bundle")
	}
	if err := aescodec.CheckSerial(o.serial); err != nil {
		return usageErrorf("--serial: %w", err)
	}
	if err := checkBundlePath(o.out); err != nil {
		return err
	}
	if err := checkFallbackServers(o.fallbackServers); err != nil {
		return err
	}
	c, target, err := f.apiClient(false)
	if err != nil {
		return err
	}
	old, err := resolveDevice(ctx, c, ref)
	if err != nil {
		return err
	}
	site, err := c.Site(ctx, old.SiteID)
	if err != nil {
		return err
	}
	network, err := deviceNetwork(old.Network)
	if err != nil {
		return fmt.Errorf("the platform's network settings of %s: %w", old.Serial, err)
	}
	caPEM, err := readCAPEM(target.CAFile)
	if err != nil {
		return err
	}
	prov, err := c.ReplaceDevice(ctx, old.ID, o.serial)
	if err != nil {
		return err
	}
	bundle := &device.Bundle{
		Version: device.BundleVersion, DeviceID: prov.Device.ID, Serial: prov.Device.Serial,
		SiteID: site.ID, SiteName: site.Name, ServerURL: c.Server(), FallbackServerURLs: o.fallbackServers, CACertificates: caPEM,
		UploadCredential: prov.Credential, DeviceKey: prov.Key.Key, KeyID: prov.Key.KeyID,
		Network: network, CreatedAt: f.Now().UTC(), FirstSequence: prov.FirstSequence,
	}
	if err := device.WriteBundle(o.out, bundle); err != nil {
		return fmt.Errorf("%s now stands for %s but its bundle could not be written (%w): issue a new credential with the API (POST /v1/devices/%s/credential) once the problem is fixed",
			o.serial, old.ID, err, old.ID)
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, struct {
			Device        api.Device `json:"device"`
			Replaced      string     `json:"replaced_serial"`
			FirstSequence uint64     `json:"first_sequence"`
			Bundle        string     `json:"bundle"`
		}{prov.Device, old.Serial, prov.FirstSequence, o.out})
	}
	es := f.IO.ErrStyles()
	fmt.Fprintf(f.IO.ErrOut, "%s %s replaces %s as %s at %q (key id %d; its files start at sequence %d)\n", es.OK("✓"),
		prov.Device.Serial, old.Serial, prov.Device.ID, site.Name, prov.Key.KeyID, prov.FirstSequence)
	fmt.Fprintf(f.IO.ErrOut, "%s provisioning bundle written to %s; the old unit's credential no longer works\n", es.OK("✓"), o.out)
	return nil
}

// addFallbackServerFlag adds --fallback-server to a command that writes a bundle.
func addFallbackServerFlag(fs *pflag.FlagSet, urls *[]string) {
	fs.StringArrayVar(urls, "fallback-server", nil, "another https URL of the platform (a replica, another load balancer) the device tries, in order, when the server cannot be reached (repeatable)")
}

// checkFallbackServers checks --fallback-server before anything is registered.
func checkFallbackServers(urls []string) error {
	if len(urls) > device.MaxFallbackServers {
		return usageErrorf("--fallback-server: %d addresses, a bundle holds at most %d", len(urls), device.MaxFallbackServers)
	}
	for _, u := range urls {
		if err := device.CheckServerURL(u); err != nil {
			return usageErrorf("--fallback-server %s: %v", u, err)
		}
	}
	return nil
}

// checkBundlePath refuses a bundle path that exists (another device's secrets) or whose folder
// does not, before anything is asked of the platform: credentials are shown once.
func checkBundlePath(path string) error {
	if _, err := os.Stat(path); err == nil {
		return usageErrorf("--out %s already exists: it may hold another device's secrets; choose another file or remove it", path)
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || !info.IsDir() {
		return usageErrorf("--out %s: folder %s does not exist", path, filepath.Dir(path))
	}
	if err := secretfile.CheckFolder(filepath.Dir(path)); err != nil {
		return usageErrorf("--out %s: %w, and the bundle holds the device key: write it to a folder of your user profile first", path, err)
	}
	return nil
}

// readCAPEM returns the server CA a bundle carries, "" when the server uses a public CA.
func readCAPEM(caFile string) (string, error) {
	if caFile == "" {
		return "", nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return "", fmt.Errorf("read the server's CA file for the bundle: %w", err)
	}
	return string(data), nil
}

// deviceNetwork is the inverse of apiNetwork: the platform's record of a device's settings, as
// a bundle holds them.
func deviceNetwork(n api.NetworkSettings) (device.NetworkSettings, error) {
	out := device.NetworkSettings{Mode: device.NetworkMode(n.Mode), Proxy: n.Proxy, NTPServer: n.NTP}
	var err error
	if n.Address != "" {
		if out.Address, err = netip.ParsePrefix(n.Address); err != nil {
			return out, err
		}
	}
	if n.Gateway != "" {
		if out.Gateway, err = netip.ParseAddr(n.Gateway); err != nil {
			return out, err
		}
	}
	for _, d := range n.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return out, err
		}
		out.DNS = append(out.DNS, a)
	}
	return out, nil
}
