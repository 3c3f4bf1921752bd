package commands

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/errtext"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/ui"
)

type deviceProvisionOptions struct {
	serial, site string
	dhcp         bool
	ip, netmask  string
	gateway      string
	dns          []string
	proxy        string
	ntpServer    string
	out          string
	dryRun       bool
	// fallbackServers are other addresses of the platform the device tries in order.
	fallbackServers []string
}

func newDeviceProvisionCmd(f *Factory) *cobra.Command {
	o := &deviceProvisionOptions{}
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Register a device and write its provisioning bundle",
		Long: `Register a Smart X with the platform and write its provisioning bundle: device id, serial,
site, server URL and CA, upload credential, device key, and network settings. The bundle holds
secrets: it is written for your user only (mode 0600 on Linux and macOS, an access list on
Windows) and the upload credential in it is shown nowhere else.

The network settings are checked first, all at once, each problem naming the flag and the
fix: a contiguous mask, an address that is a host (not the network or broadcast address, not
link-local 169.254/16), a gateway inside the subnet and not the device itself, one to three
DNS servers, a proxy URL with a port. --dry-run stops after the checks.`,
		Example: `  smartx device provision --serial SX-00042 --site "Paris HQ" --dhcp --out sx-00042.json
  smartx device provision --serial SX-00043 --site "Paris HQ" --ip 192.168.10.50/24 \
      --gateway 192.168.10.1 --dns 192.168.10.1,192.168.10.2 --proxy http://proxy.corp:3128 --out sx-00043.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceProvision(cmd.Context(), f, cmd.Flags(), o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.serial, "serial", "", "the serial printed on the device, e.g. SX-00042 (required)")
	fs.StringVar(&o.site, "site", "", "site id or name (required)")
	fs.BoolVar(&o.dhcp, "dhcp", false, "the device gets its address from the site's DHCP server")
	fs.StringVar(&o.ip, "ip", "", "static address with its prefix length, e.g. 192.168.10.50/24")
	fs.StringVar(&o.netmask, "netmask", "", "the mask, when --ip has no prefix length, e.g. 255.255.255.0")
	fs.StringVar(&o.gateway, "gateway", "", "default gateway (static)")
	fs.StringSliceVar(&o.dns, "dns", nil, "one to three DNS servers, comma-separated (required with --ip)")
	fs.StringVar(&o.proxy, "proxy", "", "proxy the device must use, http://[user:password@]host:port")
	fs.StringVar(&o.ntpServer, "ntp-server", "", "time server, if not the default")
	fs.StringVar(&o.out, "out", "", "where to write the provisioning bundle (required)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "check the settings, register nothing")
	addFallbackServerFlag(fs, &o.fallbackServers)
	return cmd
}

// networkSettings builds and validates the settings, returning every problem at once.
func (o *deviceProvisionOptions) networkSettings(fs *pflag.FlagSet) (device.NetworkSettings, []error) {
	var n device.NetworkSettings
	var errs []error
	switch {
	case o.dhcp && o.ip != "":
		return n, []error{errors.New("--dhcp and --ip: choose one: DHCP, or a static address")}
	case !o.dhcp && o.ip == "":
		return n, []error{errors.New("--dhcp or --ip: say how the device gets its address")}
	case o.dhcp:
		n.Mode = device.ModeDHCP
		for _, name := range []string{"netmask", "gateway"} {
			if fs.Changed(name) {
				errs = append(errs, fmt.Errorf("--%s: only for a static address (--ip); DHCP gives it", name))
			}
		}
	default:
		n.Mode = device.ModeStatic
		p, err := device.ParseAddressMask(o.ip, o.netmask)
		if err != nil {
			errs = append(errs, err)
		}
		n.Address = p
		if o.gateway != "" {
			if n.Gateway, err = netip.ParseAddr(strings.TrimSpace(o.gateway)); err != nil {
				errs = append(errs, fmt.Errorf("--gateway %s: is not an IPv4 address", o.gateway))
			}
		}
	}
	for _, d := range o.dns {
		a, err := netip.ParseAddr(strings.TrimSpace(d))
		if err != nil {
			errs = append(errs, fmt.Errorf("--dns %s: is not an IP address", d))
			continue
		}
		n.DNS = append(n.DNS, a)
	}
	n.Proxy, n.NTPServer = o.proxy, o.ntpServer
	if len(errs) > 0 {
		return n, errs
	}
	if err := n.Validate(); err != nil {
		var fe device.FieldErrors
		if errors.As(err, &fe) {
			for _, e := range fe {
				errs = append(errs, e)
			}
		} else {
			errs = append(errs, err)
		}
	}
	return n, errs
}

func apiNetwork(n device.NetworkSettings) api.NetworkSettings {
	out := api.NetworkSettings{Mode: api.NetworkMode(n.Mode), Proxy: n.Proxy, NTP: n.NTPServer}
	if n.Address.IsValid() {
		out.Address = n.Address.String()
	}
	if n.Gateway.IsValid() {
		out.Gateway = n.Gateway.String()
	}
	for _, d := range n.DNS {
		out.DNS = append(out.DNS, d.String())
	}
	return out
}

func runDeviceProvision(ctx context.Context, f *Factory, fs *pflag.FlagSet, o *deviceProvisionOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	if o.serial == "" || o.site == "" {
		return usageErrorf("--serial and --site are required")
	}
	if err := aescodec.CheckSerial(o.serial); err != nil {
		return usageErrorf("--serial: %w", err)
	}
	if !o.dryRun && o.out == "" {
		return usageErrorf("--out is required: where to write the provisioning bundle")
	}
	network, problems := o.networkSettings(fs)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(f.IO.ErrOut, "  %s\n", p)
		}
		noun := "setting is"
		if len(problems) > 1 {
			noun = "settings are"
		}
		return usageErrorf("%d network %s wrong (listed above): nothing was registered", len(problems), noun)
	}
	es := f.IO.ErrStyles()
	if o.dryRun {
		fmt.Fprintf(f.IO.ErrOut, "%s network settings of %s are valid (%s); --dry-run: nothing registered\n", es.OK("✓"), o.serial, networkText(apiNetwork(network)))
		return nil
	}
	// Check the bundle's place before registering: the credential is shown only once.
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
	siteID, err := resolveSiteID(ctx, c, o.site)
	if err != nil {
		return err
	}
	site, err := c.Site(ctx, siteID)
	if err != nil {
		return err
	}
	caPEM, err := readCAPEM(target.CAFile)
	if err != nil {
		return err
	}
	apiNet := apiNetwork(network)
	prov, err := c.CreateDevice(ctx, api.CreateDeviceRequest{Serial: o.serial, SiteID: siteID, Network: &apiNet})
	if err != nil {
		return err
	}
	bundle := &device.Bundle{
		Version: device.BundleVersion, DeviceID: prov.Device.ID, Serial: prov.Device.Serial,
		SiteID: site.ID, SiteName: site.Name, ServerURL: c.Server(), FallbackServerURLs: o.fallbackServers, CACertificates: caPEM,
		UploadCredential: prov.Credential, DeviceKey: prov.Key.Key, KeyID: prov.Key.KeyID,
		Network: network, CreatedAt: f.Now().UTC(),
	}
	if err := device.WriteBundle(o.out, bundle); err != nil {
		return fmt.Errorf("%s is registered as %s but its bundle could not be written (%s): issue a new credential with the API (POST /v1/devices/%s/credential) once the problem is fixed",
			o.serial, prov.Device.ID, errtext.Of(err), prov.Device.ID)
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, struct {
			Device api.Device `json:"device"`
			Bundle string     `json:"bundle"`
		}{prov.Device, o.out})
	}
	fmt.Fprintf(f.IO.ErrOut, "%s %s registered as %s at %q (%s)\n", es.OK("✓"), prov.Device.Serial, prov.Device.ID, site.Name, networkText(apiNet))
	fmt.Fprintf(f.IO.ErrOut, "%s provisioning bundle written to %s with %s: it holds the device key and upload credential\n", es.OK("✓"), o.out, secretfile.Protection())
	return nil
}
