package commands

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/datafiles"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/secretfile"
)

// keySourceOptions are the flags that say where a device key comes from, shared by inspect and
// decode: a key file, a provisioning bundle, the platform API, or SMARTX_DEVICE_KEY.
type keySourceOptions struct {
	keyFile   string
	bundles   []string
	device    string
	fetchKeys bool
}

func (o *keySourceOptions) bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.keyFile, "key-file", "", "file holding the device key: 64 hex digits or 32 raw bytes (or set SMARTX_DEVICE_KEY)")
	fs.StringArrayVar(&o.bundles, "bundle", nil, "take the keys from provisioning bundles (repeat for several devices)")
	fs.StringVar(&o.device, "device", "", "fetch one device's keys from the platform (serial or id; needs devices:keys)")
	fs.BoolVar(&o.fetchKeys, "fetch-keys", false, "fetch each device's keys from the platform, by the serial in its files (needs devices:keys)")
}

// keys returns the key lookup the user asked for, or nil when no key was given. A key is never
// taken from a plain flag, so it does not show in the process list. files are the data files
// to read: --fetch-keys fetches the keys of the devices their headers name.
func (o *keySourceOptions) keys(ctx context.Context, f *Factory, files []datafiles.File) (aescodec.KeyLookup, error) {
	given := 0
	for _, v := range []bool{o.keyFile != "", len(o.bundles) > 0, o.device != "", o.fetchKeys} {
		if v {
			given++
		}
	}
	if given > 1 {
		return nil, usageErrorf("give the keys one way: --key-file, --bundle, --device or --fetch-keys")
	}
	switch {
	case o.keyFile != "":
		data, err := os.ReadFile(o.keyFile)
		if err != nil {
			return nil, usageErrorf("read --key-file: %w", err)
		}
		if len(data) == aescodec.KeySize && !isHexText(data) {
			return aescodec.StaticKey(data), nil
		}
		// A text key may come with what editors add: a BOM, CRLF, UTF-16 (Notepad).
		key, err := aescodec.ParseKey(secretfile.Text(data))
		if err != nil {
			return nil, usageErrorf("--key-file %s: %w, or exactly %d raw bytes", o.keyFile, err, aescodec.KeySize)
		}
		return aescodec.StaticKey(key), nil
	case len(o.bundles) > 0:
		return bundleKeys(f, o.bundles)
	case o.fetchKeys:
		return fetchDeviceKeys(ctx, f, files)
	case o.device != "":
		c, _, err := f.apiClient(false)
		if err != nil {
			return nil, err
		}
		d, err := resolveDevice(ctx, c, o.device)
		if err != nil {
			return nil, err
		}
		ring := ringLookup{ring: keyRing{}, source: "the keys fetched from the platform"}
		return ring, ring.fetch(ctx, c, d)
	}
	if v := f.Getenv("SMARTX_DEVICE_KEY"); v != "" {
		key, err := aescodec.ParseKey(v)
		if err != nil {
			return nil, usageErrorf("SMARTX_DEVICE_KEY: %w", err)
		}
		return aescodec.StaticKey(key), nil
	}
	return nil, nil
}

// sourceBundles names the keys of --bundle in messages.
const sourceBundles = "the bundles given"

// keyRing is a KeyLookup over the keys of several devices: by serial, then key id.
type keyRing map[string]map[uint32][]byte

// add keeps one key of a device.
func (r keyRing) add(serial string, keyID uint32, key []byte) {
	if r[serial] == nil {
		r[serial] = map[uint32][]byte{}
	}
	r[serial][keyID] = key
}

// bundleKeys reads every bundle: a folder of several devices' files decodes with their bundles.
func bundleKeys(f *Factory, paths []string) (aescodec.KeyLookup, error) {
	ring := ringLookup{ring: keyRing{}, source: sourceBundles}
	for _, p := range paths {
		b, warning, err := device.LoadBundle(p)
		if err != nil {
			return nil, usageErrorf("--bundle: %w", err)
		}
		if warning != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.ErrStyles().Warn("warning:"), warning)
		}
		key, err := b.Key()
		if err != nil {
			return nil, usageErrorf("--bundle %s: %w", p, err)
		}
		ring.ring.add(b.Serial, b.KeyID, key)
	}
	return ring, nil
}

// fetchDeviceKeys fetches, for each device the files name, every key the platform holds: one
// list of the devices, then one request per device (each audited by the platform). A serial
// the platform does not know fails only its own files.
func fetchDeviceKeys(ctx context.Context, f *Factory, files []datafiles.File) (aescodec.KeyLookup, error) {
	serials := map[string]bool{}
	for _, file := range files {
		if file.Err == nil {
			serials[file.Header.Serial] = true
		}
	}
	ring := ringLookup{ring: keyRing{}, source: "the keys fetched from the platform", missing: map[string]string{}}
	if len(serials) == 0 {
		return ring, nil
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return nil, err
	}
	devs, err := c.Devices(ctx, client.DeviceFilter{All: true})
	if err != nil {
		return nil, fmt.Errorf("list the devices to find their keys: %w", err)
	}
	// A serial registered again after a decommission names two devices: the one in service
	// wins, else the last registered.
	bySerial := map[string]api.Device{}
	for _, d := range devs {
		prev, seen := bySerial[d.Serial]
		if !seen || (prev.Decommissioned && (!d.Decommissioned || d.CreatedAt.After(prev.CreatedAt))) {
			bySerial[d.Serial] = d
		}
	}
	for _, serial := range slices.Sorted(maps.Keys(serials)) {
		d, ok := bySerial[serial]
		if !ok {
			ring.missing[serial] = "the platform has no device " + serial + " (or your token does not cover its site)"
			continue
		}
		if err := ring.fetch(ctx, c, d); err != nil {
			return nil, err
		}
	}
	return ring, nil
}

// fetch adds every key the platform holds for d (one request, audited by the platform).
func (r ringLookup) fetch(ctx context.Context, c *client.Client, d api.Device) error {
	keys, err := c.DeviceKeys(ctx, d.ID)
	if err != nil {
		return fmt.Errorf("fetch the keys of %s: %w", d.Serial, err)
	}
	for _, k := range keys.Keys {
		raw, err := aescodec.ParseKey(k.Key)
		if err != nil {
			return fmt.Errorf("key id %d of %s from the platform: %w", k.KeyID, d.Serial, err)
		}
		r.ring.add(d.Serial, k.KeyID, raw)
	}
	return nil
}

// ringLookup is the KeyLookup of a keyRing, saying where a missing key was looked for.
type ringLookup struct {
	ring    keyRing
	source  string
	missing map[string]string // serial: why the platform has none
}

// DeviceKey implements aescodec.KeyLookup.
func (r ringLookup) DeviceKey(serial string, keyID uint32) ([]byte, error) {
	keys, ok := r.ring[serial]
	if !ok {
		if why := r.missing[serial]; why != "" {
			return nil, fmt.Errorf("%w: %s", aescodec.ErrKeyNotFound, why)
		}
		if r.source == sourceBundles {
			return nil, fmt.Errorf("%w: the bundles given are for %s: add %s's bundle", aescodec.ErrKeyNotFound,
				strings.Join(slices.Sorted(maps.Keys(r.ring)), ", "), serial)
		}
		return nil, fmt.Errorf("%w: no key of %s in %s", aescodec.ErrKeyNotFound, serial, r.source)
	}
	key, ok := keys[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: no key id %d of %s in %s", aescodec.ErrKeyNotFound, keyID, serial, r.source)
	}
	return key, nil
}

func isHexText(b []byte) bool {
	for _, c := range bytes.TrimSpace(b) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
