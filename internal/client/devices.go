package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/smart-impulse/smartx/internal/api"
)

// CreateSite creates a site (not retried: a lost answer could create it twice... by name it
// would conflict, but the user should see that).
func (c *Client) CreateSite(ctx context.Context, req api.CreateSiteRequest) (api.Site, error) {
	var out api.Site
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathSites, body: req}, &out)
	return out, err
}

// Sites lists the account's sites the token may see; name, when set, selects the one site with
// that exact name.
func (c *Client) Sites(ctx context.Context, name string) ([]api.Site, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	var out api.SiteList
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathSites, query: q, idempotent: true}, &out)
	return out.Sites, err
}

// Site returns one site.
func (c *Client) Site(ctx context.Context, id string) (api.Site, error) {
	var out api.Site
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathSites + "/" + url.PathEscape(id), idempotent: true}, &out)
	return out, err
}

// UpdateSite changes a site's name, address or time zone.
func (c *Client) UpdateSite(ctx context.Context, id string, req api.UpdateSiteRequest) (api.Site, error) {
	var out api.Site
	err := c.do(ctx, request{method: http.MethodPatch, path: api.PathSites + "/" + url.PathEscape(id), body: req, idempotent: true}, &out)
	return out, err
}

// DeleteSite deletes a site that has no device in service.
func (c *Client) DeleteSite(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: api.PathSites + "/" + url.PathEscape(id), idempotent: true}, nil)
}

// CreateDevice registers a device; the answer holds its key and upload credential, shown once.
// Not retried: a retry after a lost answer would fail on the serial, and the credential would be
// lost.
func (c *Client) CreateDevice(ctx context.Context, req api.CreateDeviceRequest) (api.ProvisionedDevice, error) {
	var out api.ProvisionedDevice
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathDevices, body: req}, &out)
	return out, err
}

// DeviceFilter selects devices: by site id and/or serial, in service only unless All.
type DeviceFilter struct {
	Site   string
	Serial string
	// All includes decommissioned devices (their files and readings stay on the platform).
	All bool
}

// Devices lists devices.
func (c *Client) Devices(ctx context.Context, f DeviceFilter) ([]api.Device, error) {
	q := url.Values{}
	if f.Site != "" {
		q.Set("site", f.Site)
	}
	if f.Serial != "" {
		q.Set("serial", f.Serial)
	}
	if f.All {
		q.Set("state", "all")
	}
	var out api.DeviceList
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathDevices, query: q, idempotent: true}, &out)
	return out.Devices, err
}

// Device returns one device.
func (c *Client) Device(ctx context.Context, id string) (api.Device, error) {
	var out api.Device
	err := c.do(ctx, request{method: http.MethodGet, path: devicePath(id, ""), idempotent: true}, &out)
	return out, err
}

// DecommissionDevice retires a device: its credential stops working at once; its record, files
// and readings stay. It returns the device as it is now.
func (c *Client) DecommissionDevice(ctx context.Context, id string) (api.Device, error) {
	var out api.Device
	err := c.do(ctx, request{method: http.MethodDelete, path: devicePath(id, ""), idempotent: true}, &out)
	return out, err
}

// DeviceKeys returns every key the device has had (scope devices:keys; the server audits it).
func (c *Client) DeviceKeys(ctx context.Context, id string) (api.DeviceKeys, error) {
	var out api.DeviceKeys
	err := c.do(ctx, request{method: http.MethodGet, path: devicePath(id, "/key"), idempotent: true}, &out)
	return out, err
}

// RotateDeviceKey makes a new current key; older ones stay valid for old files.
func (c *Client) RotateDeviceKey(ctx context.Context, id string) (api.RotatedKey, error) {
	var out api.RotatedKey
	err := c.do(ctx, request{method: http.MethodPost, path: devicePath(id, "/rotate-key")}, &out)
	return out, err
}

// NewDeviceCredential replaces a device's upload credential; the new one is shown once.
func (c *Client) NewDeviceCredential(ctx context.Context, id string) (api.DeviceCredential, error) {
	var out api.DeviceCredential
	err := c.do(ctx, request{method: http.MethodPost, path: devicePath(id, "/credential")}, &out)
	return out, err
}

// DeviceStatus returns what arrived from a device and the communication losses.
func (c *Client) DeviceStatus(ctx context.Context, id string) (api.DeviceStatus, error) {
	var out api.DeviceStatus
	err := c.do(ctx, request{method: http.MethodGet, path: devicePath(id, "/status"), idempotent: true}, &out)
	return out, err
}

func devicePath(id, action string) string {
	return api.PathDevices + "/" + url.PathEscape(id) + action
}
