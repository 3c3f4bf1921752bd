package commands

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/secretfile"
)

// keySourceOptions are the flags that say where a device key comes from, shared by inspect and
// decode: a key file, a provisioning bundle, the platform API, or SMARTX_DEVICE_KEY.
type keySourceOptions struct {
	keyFile string
	bundle  string
	device  string
}

func (o *keySourceOptions) bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.keyFile, "key-file", "", "file holding the device key: 64 hex digits or 32 raw bytes (or set SMARTX_DEVICE_KEY)")
	fs.StringVar(&o.bundle, "bundle", "", "take the key from the device's provisioning bundle")
	fs.StringVar(&o.device, "device", "", "fetch the device's keys from the platform (serial or id; needs devices:keys)")
}

// keys returns the key lookup the user asked for, or nil when no key was given. A key is never
// taken from a plain flag, so it does not show in the process list.
func (o *keySourceOptions) keys(ctx context.Context, f *Factory) (aescodec.KeyLookup, error) {
	given := 0
	for _, v := range []string{o.keyFile, o.bundle, o.device} {
		if v != "" {
			given++
		}
	}
	if given > 1 {
		return nil, usageErrorf("give the key one way: --key-file, --bundle or --device")
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
	case o.bundle != "":
		b, warning, err := device.LoadBundle(o.bundle)
		if err != nil {
			return nil, usageErrorf("--bundle: %w", err)
		}
		if warning != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.ErrStyles().Warn("warning:"), warning)
		}
		return b.KeyLookup(), nil
	case o.device != "":
		c, _, err := f.apiClient(false)
		if err != nil {
			return nil, err
		}
		d, err := resolveDevice(ctx, c, o.device)
		if err != nil {
			return nil, err
		}
		keys, err := c.DeviceKeys(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		return apiKeys(keys)
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

// deviceKeys is a KeyLookup over every key the platform holds for one device.
type deviceKeys struct {
	serial string
	keys   map[uint32][]byte
}

func apiKeys(k api.DeviceKeys) (aescodec.KeyLookup, error) {
	dk := deviceKeys{serial: k.Serial, keys: map[uint32][]byte{}}
	for _, key := range k.Keys {
		raw, err := aescodec.ParseKey(key.Key)
		if err != nil {
			return nil, fmt.Errorf("key id %d of %s from the platform: %w", key.KeyID, k.Serial, err)
		}
		dk.keys[key.KeyID] = raw
	}
	return dk, nil
}

// DeviceKey implements aescodec.KeyLookup.
func (d deviceKeys) DeviceKey(serial string, keyID uint32) ([]byte, error) {
	if !strings.EqualFold(serial, d.serial) {
		return nil, fmt.Errorf("%w: the keys fetched are those of %s, the file is %s's", aescodec.ErrKeyNotFound, d.serial, serial)
	}
	key, ok := d.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no key id %d on the platform", aescodec.ErrKeyNotFound, serial, keyID)
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
