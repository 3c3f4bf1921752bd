package commands

import (
	"bytes"

	"os"

	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/aescodec"
)

// keySourceOptions are the flags that say where a device key comes from, shared by inspect and
// decode.
type keySourceOptions struct {
	keyFile string
}

func (o *keySourceOptions) bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.keyFile, "key-file", "", "file holding the device key: 64 hex digits or 32 raw bytes (or set SMARTX_DEVICE_KEY)")
}

// keys returns the key lookup the user asked for, or nil when no key was given. The key is
// never taken from a plain flag, so it does not show in the process list.
func (o *keySourceOptions) keys(f *Factory) (aescodec.KeyLookup, error) {
	if o.keyFile != "" {
		data, err := os.ReadFile(o.keyFile)
		if err != nil {
			return nil, usageErrorf("read --key-file: %w", err)
		}
		if len(data) == aescodec.KeySize && !isHexText(data) {
			return aescodec.StaticKey(data), nil
		}
		key, err := aescodec.ParseKey(string(data))
		if err != nil {
			return nil, usageErrorf("--key-file %s: %w, or exactly %d raw bytes", o.keyFile, err, aescodec.KeySize)
		}
		return aescodec.StaticKey(key), nil
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

func isHexText(b []byte) bool {
	for _, c := range bytes.TrimSpace(b) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
