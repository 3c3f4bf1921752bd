package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/readings"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bundles", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseBundleTestdata(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []string // parts of the error; none for a valid bundle
		is   error
	}{
		{"valid-static.json", nil, nil},
		{"valid-dhcp-public-ca.json", nil, nil},
		{"invalid-future-version.json", []string{"version 2", "upgrade smartx"}, ErrUnsupportedBundleVersion},
		{"invalid-several-fields.json", []string{"server_url", "must use https", "upload_credential", "sxt_", "device_key", "64 hexadecimal"}, ErrInvalidBundle},
		{"invalid-network.json", []string{"network", "--ip 192.168.10.255/24", "broadcast"}, ErrInvalidNetworkSettings},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := ParseBundle(readTestdata(t, tt.file))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ParseBundle: %v", err)
				}
				if b.Version != BundleVersion || b.Serial == "" {
					t.Fatalf("parsed %+v", b)
				}
				return
			}
			if err == nil {
				t.Fatal("ParseBundle accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v does not match %v", err, tt.is)
			}
		})
	}
}

// editBundle returns the valid static bundle with its JSON object changed by edit.
func editBundle(t testing.TB, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readTestdata(t, "valid-static.json"), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseBundleRejects(t *testing.T) {
	set := func(key string, v any) func(map[string]any) { return func(m map[string]any) { m[key] = v } }
	for _, tt := range []struct {
		name string
		data func(t *testing.T) []byte
		want string
	}{
		{"not JSON", func(*testing.T) []byte { return []byte("serial: SX-1") }, "not valid JSON"},
		{"empty", func(*testing.T) []byte { return nil }, "not valid JSON"},
		{"too large", func(*testing.T) []byte { return bytes.Repeat([]byte(" "), maxBundleSize+1) }, "larger than"},
		{"no version", func(t *testing.T) []byte {
			return editBundle(t, func(m map[string]any) { delete(m, "bundle_version") })
		}, "not a smartx provisioning bundle"},
		{"version as text", func(t *testing.T) []byte { return editBundle(t, set("bundle_version", "1")) }, "must be a number"},
		{"negative version", func(t *testing.T) []byte { return editBundle(t, set("bundle_version", -1)) }, "not a version smartx ever wrote"},
		{"unknown field", func(t *testing.T) []byte { return editBundle(t, set("device_secret", "x")) }, "unknown field"},
		{"data after the object", func(t *testing.T) []byte { return append(readTestdata(t, "valid-static.json"), "{}"...) }, "not valid JSON"},
		{"key id as text", func(t *testing.T) []byte { return editBundle(t, set("key_id", "3")) }, "key_id"},
		{"device id without prefix", func(t *testing.T) []byte { return editBundle(t, set("device_id", "01J9Z3")) }, "does not start with dev_"},
		{"device id with a space", func(t *testing.T) []byte { return editBundle(t, set("device_id", "dev_a b")) }, "not a platform id"},
		{"missing site id", func(t *testing.T) []byte { return editBundle(t, set("site_id", "")) }, "site_id: missing"},
		{"serial with a space", func(t *testing.T) []byte { return editBundle(t, set("serial", "SX 42")) }, "serial"},
		{"empty site name", func(t *testing.T) []byte { return editBundle(t, set("site_name", " ")) }, "site_name"},
		{"site name with a control character", func(t *testing.T) []byte { return editBundle(t, set("site_name", "HQ\x1b[31m")) }, "site_name"},
		{"plain http server", func(t *testing.T) []byte { return editBundle(t, set("server_url", "http://platform.example.test")) }, "must use https"},
		{"server URL with a user", func(t *testing.T) []byte {
			return editBundle(t, set("server_url", "https://me:pw@platform.example.test"))
		}, "must not carry a user"},
		{"server URL without host", func(t *testing.T) []byte { return editBundle(t, set("server_url", "https:///v1")) }, "no host"},
		{"CA that is not PEM", func(t *testing.T) []byte { return editBundle(t, set("ca_certificates", "MIIBdTCCARugAwIBAgIBATAK")) }, "not a PEM certificate"},
		{"CA with a private key", func(t *testing.T) []byte {
			return editBundle(t, func(m map[string]any) {
				m["ca_certificates"] = m["ca_certificates"].(string) + "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"
			})
		}, "never a key"},
		{"CA with a damaged certificate", func(t *testing.T) []byte {
			return editBundle(t, set("ca_certificates", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
		}, "does not parse"},
		{"CA followed by text", func(t *testing.T) []byte {
			return editBundle(t, func(m map[string]any) { m["ca_certificates"] = m["ca_certificates"].(string) + "trailing" })
		}, "not a PEM certificate"},
		{"API token as credential", func(t *testing.T) []byte { return editBundle(t, set("upload_credential", "sxt_0123456789abcdefghij")) }, "not a device upload credential"},
		{"truncated credential", func(t *testing.T) []byte { return editBundle(t, set("upload_credential", "sxd_0123")) }, "truncated"},
		{"credential with a space", func(t *testing.T) []byte { return editBundle(t, set("upload_credential", "sxd_0123456789 abcdefghij")) }, "damaged"},
		{"no credential", func(t *testing.T) []byte { return editBundle(t, set("upload_credential", "")) }, "upload_credential: missing"},
		{"key of 63 digits", func(t *testing.T) []byte { return editBundle(t, set("device_key", testKeyHex[:63])) }, "64 hexadecimal"},
		{"key that is not hex", func(t *testing.T) []byte { return editBundle(t, set("device_key", strings.Repeat("zz", 32))) }, "64 hexadecimal"},
		{"key with spaces", func(t *testing.T) []byte { return editBundle(t, set("device_key", " "+testKeyHex)) }, "64 hexadecimal"},
		{"invalid network", func(t *testing.T) []byte {
			return editBundle(t, set("network", map[string]any{"mode": "dhcp", "address": "192.168.10.50/24"}))
		}, "--ip 192.168.10.50/24: a static address is not used"},
		{"network address that does not parse", func(t *testing.T) []byte {
			return editBundle(t, set("network", map[string]any{"mode": "static", "address": "192.168.10.50"}))
		}, "network.address \"192.168.10.50\" is not an address with a prefix length"},
		{"unknown network field", func(t *testing.T) []byte {
			return editBundle(t, set("network", map[string]any{"mode": "dhcp", "vlan": 12}))
		}, "unknown field"},
		{"DNS that does not parse", func(t *testing.T) []byte {
			return editBundle(t, set("network", map[string]any{"mode": "dhcp", "dns": []string{"dns.example"}}))
		}, "network.dns"},
		{"no creation time", func(t *testing.T) []byte { return editBundle(t, func(m map[string]any) { delete(m, "created_at") }) }, "created_at: missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBundle(tt.data(t))
			if err == nil {
				t.Fatal("ParseBundle accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseBundle = %v\nwant it to say %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidBundle) {
				t.Errorf("%v does not match ErrInvalidBundle", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
		})
	}
}

func TestParseBundleReportsEveryProblem(t *testing.T) {
	_, err := ParseBundle(readTestdata(t, "invalid-several-fields.json"))
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *BundleFieldError
		if errors.As(e, &fe) {
			fields = append(fields, fe.Field)
		}
	}
	if got := strings.Join(fields, ","); got != "server_url,upload_credential,device_key" {
		t.Errorf("problems of %s: %v", got, err)
	}
}

func TestWriteAndLoadBundle(t *testing.T) {
	want, err := ParseBundle(readTestdata(t, "valid-static.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "SX-00042.bundle.json")
	if err := os.WriteFile(path, []byte("an older bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteBundle(path, want); err != nil {
		t.Fatalf("WriteBundle: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %04o, want 0600", info.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the bundle", len(entries))
	}
	got, warning, err := LoadBundle(path)
	if err != nil || warning != nil {
		t.Fatalf("LoadBundle = %v, %v", warning, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the bundle:\n got %+v\nwant %+v", got, want)
	}

	t.Run("a readable bundle comes with a warning", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no unix permissions")
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		got, warning, err := LoadBundle(path)
		if err != nil || got == nil {
			t.Fatalf("LoadBundle: %v", err)
		}
		if warning == nil || warning.Mode != 0o644 || !strings.Contains(warning.String(), "chmod 600 "+path) {
			t.Errorf("warning %v, want one telling to chmod 600", warning)
		}
	})

	t.Run("an invalid bundle is not written", func(t *testing.T) {
		bad := *want
		bad.ServerURL = "http://x"
		other := filepath.Join(dir, "bad.json")
		if err := WriteBundle(other, &bad); err == nil {
			t.Fatal("WriteBundle accepted an invalid bundle")
		}
		if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a file was written: %v", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		if _, _, err := LoadBundle(filepath.Join(dir, "none.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadBundle = %v, want ErrNotExist", err)
		}
	})

	t.Run("a directory", func(t *testing.T) {
		if _, _, err := LoadBundle(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("LoadBundle = %v", err)
		}
	})
}

func TestBundleKeyLookup(t *testing.T) {
	b, err := ParseBundle(readTestdata(t, "valid-static.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := b.Key()
	if err != nil {
		t.Fatal(err)
	}
	g, err := ReadingsGenerator(1, testStart, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	write := func(serial string, keyID uint32) []byte {
		var buf bytes.Buffer
		w, err := aescodec.NewWriter(&buf, key, aescodec.Header{Serial: serial, KeyID: keyID, Sequence: 1, Created: testStart, Schema: g.Schema()})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(readings.Reading{Time: testStart.UnixMilli(), Value: 5}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, tt := range []struct {
		name   string
		serial string
		keyID  uint32
		want   string // empty: the file decodes
	}{
		{"the bundle's device and key", "SX-00042", 3, ""},
		{"another device", "SX-00099", 3, "the bundle is for SX-00042, the file is from SX-00099"},
		{"another key id", "SX-00042", 4, "key id 3 of SX-00042, the file uses key id 4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := aescodec.NewReader(bytes.NewReader(write(tt.serial, tt.keyID)), b.KeyLookup())
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, aescodec.ErrKeyNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewReader = %v, want ErrKeyNotFound saying %q", err, tt.want)
			}
		})
	}
}

func FuzzParseBundle(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "bundles"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(readTestdata(f, e.Name()))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			if b != nil {
				t.Fatal("a bundle came with an error")
			}
			return
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("a parsed bundle does not validate: %v", err)
		}
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseBundle(out)
		if err != nil {
			t.Fatalf("the re-encoded bundle does not parse: %v", err)
		}
		if !reflect.DeepEqual(again, b) {
			t.Fatalf("round trip changed the bundle: %+v != %+v", again, b)
		}
	})
}
