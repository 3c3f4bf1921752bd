package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // site time zones validate and bucket the same on every machine

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// siteForbidden is the answer to a token restricted to other sites of the account.
func siteForbidden(detail string) error {
	return newProblemError(api.CodeSiteForbidden, detail)
}

// allowsSite reports whether the caller's token covers the site.
func allowsSite(caller store.Token, siteID string) bool {
	return len(caller.Sites) == 0 || slices.Contains(caller.Sites, siteID)
}

// siteRestriction returns the sites a listing is limited to: nil for every site.
func siteRestriction(caller store.Token) []string {
	if len(caller.Sites) == 0 {
		return nil
	}
	return slices.Clone(caller.Sites)
}

// loadZone checks an IANA time zone name ("" means UTC).
func loadZone(name string) (*time.Location, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "UTC"
	}
	if name == "Local" || len(name) > 64 {
		return nil, "", invalid("time_zone", "%q is not an IANA time zone name such as Europe/Paris", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, "", invalid("time_zone", "%q is not an IANA time zone name such as Europe/Paris", name)
	}
	return loc, name, nil
}

// checkOptionalText is checkText for a field that may be empty.
func checkOptionalText(field, s string, maxBytes int) error {
	if s == "" {
		return nil
	}
	return checkText(field, s, maxBytes)
}

// CreateSite creates a site. A token restricted to sites cannot create one: the new site would
// be outside its restriction.
func (s *Service) CreateSite(ctx context.Context, caller store.Token, req api.CreateSiteRequest) (Site, error) {
	if len(caller.Sites) > 0 {
		return Site{}, siteForbidden("the token is restricted to some sites: it cannot create sites")
	}
	name, address := strings.TrimSpace(req.Name), strings.TrimSpace(req.Address)
	if err := checkText("name", name, api.MaxSiteNameBytes); err != nil {
		return Site{}, err
	}
	if err := checkOptionalText("address", address, api.MaxSiteAddressBytes); err != nil {
		return Site{}, err
	}
	_, zone, err := loadZone(req.TimeZone)
	if err != nil {
		return Site{}, err
	}
	id, err := s.newID(api.PrefixSite)
	if err != nil {
		return Site{}, err
	}
	now := s.nowUTC()
	site, err := s.sealSite(ctx, Site{Site: store.Site{ID: id, AccountID: caller.AccountID, CreatedAt: now, UpdatedAt: now},
		Name: name, Address: address, TimeZone: zone})
	if err != nil {
		return Site{}, err
	}
	if err := s.st.CreateSite(ctx, site.Site); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Site{}, newProblemError(api.CodeConflict, fmt.Sprintf("a site named %q already exists in this account", name))
		}
		return Site{}, err
	}
	return site, nil
}

// Sites lists the sites the caller's token covers, or the one called name.
func (s *Service) Sites(ctx context.Context, caller store.Token, name string) ([]Site, error) {
	f := store.SiteFilter{AccountID: caller.AccountID, IDs: siteRestriction(caller)}
	if name != "" {
		var err error
		if f.NameIndex, err = s.keys.IndexForAccount(ctx, caller.AccountID, indexSiteName, name); err != nil {
			return nil, err
		}
	}
	return s.listSites(ctx, f)
}

// Site returns a site of the caller's account: 404 when there is none, 403 site_forbidden when
// the token does not cover it.
func (s *Service) Site(ctx context.Context, caller store.Token, id string) (Site, error) {
	if !store.ValidID(id, api.PrefixSite) {
		return Site{}, fmt.Errorf("site %q: %w", id, store.ErrNotFound)
	}
	stored, err := s.st.Site(ctx, caller.AccountID, id)
	if err != nil {
		return Site{}, err
	}
	if !allowsSite(caller, id) {
		return Site{}, siteForbidden(fmt.Sprintf("the token is not valid for site %s", id))
	}
	return s.openSite(ctx, stored)
}

// UpdateSite changes a site's name, address or time zone.
func (s *Service) UpdateSite(ctx context.Context, caller store.Token, id string, req api.UpdateSiteRequest) (Site, error) {
	site, err := s.Site(ctx, caller, id)
	if err != nil {
		return Site{}, err
	}
	if req.Name != nil {
		site.Name = strings.TrimSpace(*req.Name)
		if err := checkText("name", site.Name, api.MaxSiteNameBytes); err != nil {
			return Site{}, err
		}
	}
	if req.Address != nil {
		site.Address = strings.TrimSpace(*req.Address)
		if err := checkOptionalText("address", site.Address, api.MaxSiteAddressBytes); err != nil {
			return Site{}, err
		}
	}
	if req.TimeZone != nil {
		if _, site.TimeZone, err = loadZone(*req.TimeZone); err != nil {
			return Site{}, err
		}
	}
	site.UpdatedAt = s.nowUTC()
	if site, err = s.sealSite(ctx, site); err != nil {
		return Site{}, err
	}
	if err := s.st.UpdateSite(ctx, site.Site); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Site{}, newProblemError(api.CodeConflict, fmt.Sprintf("a site named %q already exists in this account", site.Name))
		}
		return Site{}, err
	}
	return site, nil
}

// DeleteSite deletes a site without devices in service, and with it its decommissioned devices
// and their readings.
func (s *Service) DeleteSite(ctx context.Context, caller store.Token, id string) error {
	if _, err := s.Site(ctx, caller, id); err != nil {
		return err
	}
	err := s.st.DeleteSite(ctx, caller.AccountID, id)
	var sne *store.SiteNotEmptyError
	if errors.As(err, &sne) {
		return newProblemError(api.CodeSiteNotEmpty,
			fmt.Sprintf("the site still has %d device(s) in service: decommission them first (DELETE /v1/devices/{id})", sne.Devices))
	}
	return err
}

// checkSerial applies the data file format's rule: 1 to 64 printable ASCII characters, no
// space, so the serial can be matched with the header of every file the device writes.
func checkSerial(serial string) error {
	if aescodec.CheckSerial(serial) != nil {
		return invalid("serial", "must be 1 to %d printable ASCII characters without spaces, such as SX-00042", api.MaxSerialBytes)
	}
	return nil
}

// normalizeNetwork checks the shape of a device's network settings: each field parses as what
// it claims to be. Whether the settings work on site is for `smartx preflight` to tell.
func normalizeNetwork(n *api.NetworkSettings) (api.NetworkSettings, error) {
	if n == nil {
		return api.NetworkSettings{Mode: api.NetworkDHCP}, nil
	}
	out := *n
	out.DNS = slices.Clone(n.DNS)
	switch out.Mode {
	case api.NetworkDHCP:
		if out.Address != "" || out.Gateway != "" {
			return out, invalid("network.mode", "dhcp takes no address or gateway: use static")
		}
	case api.NetworkStatic:
		p, err := netip.ParsePrefix(out.Address)
		if err != nil {
			return out, invalid("network.address", "must be an address with its prefix length, such as 192.0.2.10/24")
		}
		out.Address = p.String()
		if out.Gateway != "" {
			a, err := netip.ParseAddr(out.Gateway)
			if err != nil {
				return out, invalid("network.gateway", "must be an IP address")
			}
			out.Gateway = a.String()
		}
	default:
		return out, invalid("network.mode", "must be dhcp or static")
	}
	if len(out.DNS) > 4 {
		return out, invalid("network.dns", "at most 4 name servers")
	}
	for i, d := range out.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return out, invalid(fmt.Sprintf("network.dns[%d]", i), "must be an IP address")
		}
		out.DNS[i] = a.String()
	}
	if out.Proxy != "" {
		u, err := url.Parse(out.Proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(out.Proxy) > 500 {
			return out, invalid("network.proxy", "must be an http:// or https:// URL, such as http://proxy.example.com:3128")
		}
	}
	if out.NTP != "" && !validHost(out.NTP) {
		return out, invalid("network.ntp", "must be a host name or an IP address")
	}
	return out, nil
}

// validHost accepts an IP address or a DNS name (letters, digits, hyphens, dots).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 || h == "" {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ProvisionedDevice is a new device with its first key and upload credential, which are shown
// once.
type ProvisionedDevice struct {
	Device     Device
	Key        []byte
	KeyID      uint32
	Credential string
	// FirstSequence is set after a replacement: the new unit's first file sequence.
	FirstSequence uint64
}

// CreateDevice registers a device at a site: it draws its key (key id 1) and upload credential.
func (s *Service) CreateDevice(ctx context.Context, caller store.Token, req api.CreateDeviceRequest) (ProvisionedDevice, error) {
	serial := strings.TrimSpace(req.Serial)
	if err := checkSerial(serial); err != nil {
		return ProvisionedDevice{}, err
	}
	if !store.ValidID(req.SiteID, api.PrefixSite) {
		return ProvisionedDevice{}, invalid("site_id", "must be a site id (%s...)", api.PrefixSite)
	}
	network, err := normalizeNetwork(req.Network)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	if _, err := s.Site(ctx, caller, req.SiteID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ProvisionedDevice{}, invalid("site_id", "no site %s in this account", req.SiteID)
		}
		return ProvisionedDevice{}, err
	}
	netJSON, err := json.Marshal(network)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	id, err := s.newID(api.PrefixDevice)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	key, err := auth.NewKey(s.rand)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	const firstKeyID = 1
	sealed, err := s.keys.SealForAccount(ctx, caller.AccountID, deviceKeyPurpose(id, firstKeyID), key[:])
	if err != nil {
		return ProvisionedDevice{}, err
	}
	secret, salt, hash, err := newCredential(id, s.rand)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	now := s.nowUTC()
	d, err := s.sealDevice(ctx, Device{Device: store.Device{ID: id, AccountID: caller.AccountID, SiteID: req.SiteID,
		CredentialSalt: salt, CredentialHash: hash, CreatedAt: now, UpdatedAt: now}, Serial: serial, Network: netJSON})
	if err != nil {
		return ProvisionedDevice{}, err
	}
	d.Stats.CurrentKeyID = firstKeyID
	if err := s.st.CreateDevice(ctx, d.Device, store.DeviceKey{DeviceID: id, KeyID: firstKeyID, SealedKey: sealed, CreatedAt: now}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return ProvisionedDevice{}, newProblemError(api.CodeConflict,
				fmt.Sprintf("a device with serial %s is already in service in this account", serial))
		}
		return ProvisionedDevice{}, err
	}
	return ProvisionedDevice{Device: d, Key: key[:], KeyID: firstKeyID, Credential: secret}, nil
}

// Devices lists the devices the caller's token covers, filtered by site and serial.
func (s *Service) Devices(ctx context.Context, caller store.Token, siteID, serial string, withDecommissioned bool) ([]Device, error) {
	if siteID != "" {
		if _, err := s.Site(ctx, caller, siteID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return []Device{}, nil
			}
			return nil, err
		}
	}
	f := store.DeviceFilter{AccountID: caller.AccountID, SiteID: siteID, SiteIDs: siteRestriction(caller), IncludeDecommissioned: withDecommissioned}
	if serial != "" {
		var err error
		if f.SerialIndex, err = s.serialIndex(ctx, caller.AccountID, serial); err != nil {
			return nil, err
		}
	}
	return s.listDevices(ctx, f)
}

// Device returns a device of the caller's account (decommissioned or not): 404 when there is
// none, and also when the token does not cover its site. A device outside the token's sites is
// not there for it, exactly as in its listings: the same answer whether the device is named by
// id or by serial (GET /v1/readings?device=SX-00042), and a serial, which is guessable, never
// tells a restricted token that it is in use elsewhere in the account.
func (s *Service) Device(ctx context.Context, caller store.Token, id string) (Device, error) {
	if !store.ValidID(id, api.PrefixDevice) {
		return Device{}, fmt.Errorf("device %q: %w", id, store.ErrNotFound)
	}
	d, err := s.st.Device(ctx, caller.AccountID, id)
	if err != nil {
		return Device{}, err
	}
	if !allowsSite(caller, d.SiteID) {
		return Device{}, fmt.Errorf("device %s is outside the token's sites: %w", id, store.ErrNotFound)
	}
	return s.openDevice(ctx, d)
}

// ReplaceDevice swaps the hardware behind a device: the unit with serial takes its place, its
// site and its history, with a new key (the next key id) and a new upload credential; the old
// unit's credential stops working at once. The new unit must number its files from
// FirstSequence on.
func (s *Service) ReplaceDevice(ctx context.Context, caller store.Token, id, serial string) (ProvisionedDevice, error) {
	serial = strings.TrimSpace(serial)
	if err := checkSerial(serial); err != nil {
		return ProvisionedDevice{}, err
	}
	d, err := s.Device(ctx, caller, id)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	if d.Decommissioned() {
		return ProvisionedDevice{}, decommissioned(id)
	}
	if serial == d.Serial {
		return ProvisionedDevice{}, invalid("serial", "is the device's serial already: give the serial of the new unit")
	}
	keys, err := s.st.DeviceKeys(ctx, caller.AccountID, id)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	next := keys[len(keys)-1].KeyID + 1
	key, err := auth.NewKey(s.rand)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	sealedKey, err := s.keys.SealForAccount(ctx, caller.AccountID, deviceKeyPurpose(id, next), key[:])
	if err != nil {
		return ProvisionedDevice{}, err
	}
	secret, salt, hash, err := newCredential(id, s.rand)
	if err != nil {
		return ProvisionedDevice{}, err
	}
	now := s.nowUTC()
	old := d.Serial
	d.Serial, d.UpdatedAt = serial, now
	if d, err = s.sealDevice(ctx, d); err != nil {
		return ProvisionedDevice{}, err
	}
	err = s.st.ReplaceDevice(ctx, caller.AccountID, id, store.DeviceReplacement{SerialIndex: d.SerialIndex, Sealed: d.Sealed,
		CredentialSalt: salt, CredentialHash: hash, Key: store.DeviceKey{DeviceID: id, KeyID: next, SealedKey: sealedKey, CreatedAt: now}, At: now})
	switch {
	case errors.Is(err, store.ErrDecommissioned):
		return ProvisionedDevice{}, decommissioned(id)
	case errors.Is(err, store.ErrConflict):
		return ProvisionedDevice{}, newProblemError(api.CodeConflict,
			fmt.Sprintf("a device with serial %s is already in service in this account, or the device changed meanwhile: check and try again", serial))
	case err != nil:
		return ProvisionedDevice{}, err
	}
	s.devices.invalidate()
	s.log.Info("device hardware replaced", "account", caller.AccountID, "device", id, "old_serial", old, "serial", serial,
		"key_id", next, "user", caller.UserID, "token", caller.ID)
	if d, err = s.Device(ctx, caller, id); err != nil {
		return ProvisionedDevice{}, err
	}
	first := uint64(1)
	if d.Stats.Files > 0 {
		first = d.Stats.LastSequence + 1
	}
	return ProvisionedDevice{Device: d, Key: key[:], KeyID: next, Credential: secret, FirstSequence: first}, nil
}

// decommissioned is the answer to a change of a decommissioned device.
func decommissioned(id string) error {
	return newProblemError(api.CodeDeviceDecommissioned, fmt.Sprintf("device %s was decommissioned: register the hardware again as a new device", id))
}

// DecommissionDevice takes a device out of service: its credential stops working at once, its
// serial is free for a new registration, its files and readings stay until its site or account
// is deleted.
func (s *Service) DecommissionDevice(ctx context.Context, caller store.Token, id string) (Device, error) {
	if _, err := s.Device(ctx, caller, id); err != nil {
		return Device{}, err
	}
	if err := s.st.DecommissionDevice(ctx, caller.AccountID, id, s.nowUTC()); err != nil {
		return Device{}, err
	}
	s.devices.invalidate()
	return s.Device(ctx, caller, id)
}

// NewDeviceCredential replaces a device's upload credential (provisioning it again); the old
// one stops working at once.
func (s *Service) NewDeviceCredential(ctx context.Context, caller store.Token, id string) (string, time.Time, error) {
	d, err := s.Device(ctx, caller, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if d.Decommissioned() {
		return "", time.Time{}, decommissioned(id)
	}
	secret, salt, hash, err := newCredential(id, s.rand)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.nowUTC()
	if err := s.st.SetDeviceCredential(ctx, caller.AccountID, id, salt, hash, now); err != nil {
		if errors.Is(err, store.ErrDecommissioned) {
			return "", time.Time{}, decommissioned(id)
		}
		return "", time.Time{}, err
	}
	s.devices.invalidate()
	return secret, now, nil
}

// PlainDeviceKey is a device key in clear, for the few who may see it.
type PlainDeviceKey struct {
	KeyID     uint32
	Key       []byte
	CreatedAt time.Time
}

// DeviceKeys returns every key of a device in clear, for support engineers decoding its files.
// Each fetch is logged at WARN level with who made it, besides the audit log.
func (s *Service) DeviceKeys(ctx context.Context, caller store.Token, id string) (Device, []PlainDeviceKey, error) {
	d, err := s.Device(ctx, caller, id)
	if err != nil {
		return Device{}, nil, err
	}
	sealed, err := s.st.DeviceKeys(ctx, caller.AccountID, id)
	if err != nil {
		return Device{}, nil, err
	}
	out := make([]PlainDeviceKey, len(sealed))
	for i, sk := range sealed {
		plain, err := s.keys.OpenForAccount(ctx, caller.AccountID, deviceKeyPurpose(id, sk.KeyID), sk.SealedKey)
		if err != nil {
			return Device{}, nil, fmt.Errorf("unseal key %d of device %s: %w", sk.KeyID, id, err)
		}
		out[i] = PlainDeviceKey{KeyID: sk.KeyID, Key: plain, CreatedAt: sk.CreatedAt}
	}
	s.log.Warn("device keys fetched", "account", caller.AccountID, "device", id, "serial", d.Serial,
		"user", caller.UserID, "token", caller.ID, "keys", len(out))
	return d, out, nil
}

// RotateDeviceKey gives a device a new key (the highest key id plus one), returned in clear
// once. Older keys are kept: files written under them still ingest and decode.
func (s *Service) RotateDeviceKey(ctx context.Context, caller store.Token, id string) (PlainDeviceKey, error) {
	d, err := s.Device(ctx, caller, id)
	if err != nil {
		return PlainDeviceKey{}, err
	}
	if d.Decommissioned() {
		return PlainDeviceKey{}, decommissioned(id)
	}
	key, err := auth.NewKey(s.rand)
	if err != nil {
		return PlainDeviceKey{}, err
	}
	// Two rotations at once both pick the same id; the loser retries with the next one.
	for range 5 {
		keys, err := s.st.DeviceKeys(ctx, caller.AccountID, id)
		if err != nil {
			return PlainDeviceKey{}, err
		}
		next := keys[len(keys)-1].KeyID + 1
		sealed, err := s.keys.SealForAccount(ctx, caller.AccountID, deviceKeyPurpose(id, next), key[:])
		if err != nil {
			return PlainDeviceKey{}, err
		}
		now := s.nowUTC()
		err = s.st.CreateDeviceKey(ctx, caller.AccountID, store.DeviceKey{DeviceID: id, KeyID: next, SealedKey: sealed, CreatedAt: now})
		switch {
		case err == nil:
			s.log.Info("device key rotated", "account", caller.AccountID, "device", id, "key_id", next, "user", caller.UserID, "token", caller.ID)
			return PlainDeviceKey{KeyID: next, Key: key[:], CreatedAt: now}, nil
		case errors.Is(err, store.ErrDecommissioned):
			return PlainDeviceKey{}, decommissioned(id)
		case !errors.Is(err, store.ErrConflict):
			return PlainDeviceKey{}, err
		}
	}
	return PlainDeviceKey{}, newProblemError(api.CodeConflict, "the key was rotated concurrently: try again")
}

// hexKey renders a device key as the 64 hexadecimal characters `smartx decode --key` takes.
func hexKey(k []byte) string { return hex.EncodeToString(k) }
