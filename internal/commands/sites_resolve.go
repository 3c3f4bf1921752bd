package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/ui"
)

// resolveSiteID accepts a site id (sit_...) or its unique name, as users type either.
func resolveSiteID(ctx context.Context, c *client.Client, site string) (string, error) {
	if strings.HasPrefix(site, api.PrefixSite) {
		return site, nil
	}
	sites, err := c.Sites(ctx, site)
	if err != nil {
		return "", err
	}
	if len(sites) == 0 {
		return "", fmt.Errorf("no site named %q: `smartx site list` shows the sites you can see", site)
	}
	return sites[0].ID, nil
}

// deviceArg starts a command on the device named by an argument: the -o format (table or
// JSON, checked before anything is sent), the client and the device.
func (f *Factory) deviceArg(ctx context.Context, ref string) (ui.Format, *client.Client, api.Device, error) {
	format, c, err := f.tableOrJSONClient()
	if err != nil {
		return "", nil, api.Device{}, err
	}
	d, err := resolveDevice(ctx, c, ref)
	return format, c, d, err
}

// siteArg starts a command on the site named by an argument: the client and the site's id.
func (f *Factory) siteArg(ctx context.Context, ref string) (*client.Client, string, error) {
	c, _, err := f.apiClient(false)
	if err != nil {
		return nil, "", err
	}
	id, err := resolveSiteID(ctx, c, ref)
	return c, id, err
}

// resolveSiteIDs resolves several sites (token restrictions).
func resolveSiteIDs(ctx context.Context, c *client.Client, sites []string) ([]string, error) {
	ids := make([]string, 0, len(sites))
	for _, s := range sites {
		id, err := resolveSiteID(ctx, c, s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// resolveDevice finds a device by id or serial: the device in service with that serial, else
// the decommissioned one (its data stays on the platform).
func resolveDevice(ctx context.Context, c *client.Client, device string) (api.Device, error) {
	if strings.HasPrefix(device, api.PrefixDevice) {
		return c.Device(ctx, device)
	}
	devs, err := c.Devices(ctx, client.DeviceFilter{Serial: device, All: true})
	if err != nil {
		return api.Device{}, err
	}
	for _, d := range devs {
		if !d.Decommissioned {
			return d, nil
		}
	}
	if len(devs) > 0 {
		return devs[0], nil
	}
	return api.Device{}, fmt.Errorf("no device with serial %q: `smartx device list` shows the devices you can see", device)
}
