package preflight

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseSiteFileFull(t *testing.T) {
	sf, err := ParseSiteFile(readTestdata(t, "site", "full.yaml"))
	if err != nil {
		t.Fatalf("ParseSiteFile: %v", err)
	}
	cfg := DefaultConfig()
	sf.Apply(&cfg)
	want := DefaultConfig()
	want.Site = "Lyon warehouse"
	want.NTPServer = "time.google.com:123"
	want.DNSServer = "10.1.2.53"
	want.Proxy = "http://installer:secret@proxy.lyon.example:3128"
	want.CAFile = "certs/site-ca.pem"
	want.ExpectIssuer = "R11"
	want.Timeout = 3 * time.Second
	want.Count = 6
	want.Only = []string{"dns", "tcp-https", "tls", "https", "ntp"}
	want.Skip = []string{"icmp"}
	want.Strict = true
	want.Profile = ProfileLegacy
	if cfg.Site != want.Site || cfg.NTPServer != want.NTPServer || cfg.DNSServer != want.DNSServer ||
		cfg.Proxy != want.Proxy || cfg.CAFile != want.CAFile || cfg.ExpectIssuer != want.ExpectIssuer ||
		cfg.Timeout != want.Timeout || cfg.Count != want.Count || !slices.Equal(cfg.Only, want.Only) ||
		!slices.Equal(cfg.Skip, want.Skip) || cfg.Strict != want.Strict || cfg.Profile != want.Profile ||
		cfg.Host != want.Host || cfg.HTTPSPort != 443 || cfg.HTTPPort != 80 || cfg.DeviceRootsOnly ||
		cfg.Serial != "SX-00042" || cfg.Installer != "Marie Curie, +33 6 12 34 56 78" {
		t.Errorf("applied config:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestParseSiteFile(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		check   func(t *testing.T, cfg Config)
		wantErr string // fragment of the error; empty: no error
	}{
		{name: "empty document", doc: "", check: func(t *testing.T, cfg Config) {
			if cfg.Site != "" || cfg.Host != DefaultHost {
				t.Errorf("empty file changed the config: %+v", cfg)
			}
		}},
		{name: "null document", doc: "~\n"},
		{name: "minimal", doc: "site: Depot 12\ntimeout: 1500ms\n", check: func(t *testing.T, cfg Config) {
			if cfg.Site != "Depot 12" || cfg.Timeout != 1500*time.Millisecond || cfg.Count != DefaultCount {
				t.Errorf("got %+v", cfg)
			}
		}},
		{name: "numeric site name kept as written", doc: "site: 2024\n", check: func(t *testing.T, cfg Config) {
			if cfg.Site != "2024" {
				t.Errorf("site = %q", cfg.Site)
			}
		}},
		{name: "comma separated list", doc: "only: \"dns, tls ,https\"\n", check: func(t *testing.T, cfg Config) {
			if !slices.Equal(cfg.Only, []string{"dns", "tls", "https"}) {
				t.Errorf("only = %q", cfg.Only)
			}
		}},
		{name: "empty list overrides", doc: "skip: []\n", check: func(t *testing.T, cfg Config) {
			if cfg.Skip == nil || len(cfg.Skip) != 0 {
				t.Errorf("skip = %#v, want empty non-nil", cfg.Skip)
			}
		}},
		{name: "aliases resolve", doc: "only: &ids [dns, ntp]\nskip: *ids\n", check: func(t *testing.T, cfg Config) {
			if !slices.Equal(cfg.Skip, []string{"dns", "ntp"}) {
				t.Errorf("skip = %q", cfg.Skip)
			}
		}},
		{name: "booleans", doc: "device-roots-only: true\nstrict: false\n", check: func(t *testing.T, cfg Config) {
			if !cfg.DeviceRootsOnly || cfg.Strict {
				t.Errorf("got %+v", cfg)
			}
		}},
		{name: "unknown key names key and line", doc: "site: Depot\nhots: x\n", wantErr: `line 2: hots: unknown key`},
		{name: "repeated key", doc: "site: A\nsite: B\n", wantErr: "line 2: site: repeated (first at line 1)"},
		{name: "port as text", doc: "https-port: \"443\"\n", wantErr: `line 1: https-port: want an integer, got "443"`},
		{name: "port as list", doc: "https-port: [443]\n", wantErr: "https-port: want an integer, got a list"},
		{name: "timeout without unit", doc: "timeout: 3\n", wantErr: "line 1: timeout: want a duration with a unit"},
		{name: "timeout not a duration", doc: "timeout: soon\n", wantErr: `timeout: want a duration such as 3s, got "soon"`},
		{name: "bool as text", doc: "strict: \"yes\"\n", wantErr: "strict: want true or false"},
		{name: "string given a mapping", doc: "host:\n  name: x\n", wantErr: "line 2: host: want a string, got a mapping"},
		{name: "missing value", doc: "host:\n", wantErr: "host: want a string, got nothing"},
		{name: "list of mappings", doc: "only:\n  - id: dns\n", wantErr: "only: want a check id, got a mapping"},
		{name: "not a mapping", doc: "- dns\n- tls\n", wantErr: "want a mapping of settings"},
		{name: "two documents", doc: "site: A\n---\nsite: B\n", wantErr: "more than one YAML document"},
		{name: "broken yaml", doc: "site: [A\n", wantErr: "not valid YAML"},
		{name: "integer overflow", doc: "count: 99999999999999999999999\n", wantErr: "count:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sf, err := ParseSiteFile([]byte(tt.doc))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSiteFile() = nil error, want %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				var sfe *SiteFileError
				if !errors.As(err, &sfe) || !errors.Is(err, ErrSiteFile) {
					t.Errorf("error %v is not a *SiteFileError wrapping ErrSiteFile", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSiteFile: %v", err)
			}
			cfg := DefaultConfig()
			sf.Apply(&cfg)
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

// TestSiteFilePrecedence shows defaults < file < flags: the caller applies
// the file, then its flags.
func TestSiteFilePrecedence(t *testing.T) {
	sf, err := ParseSiteFile([]byte("site: From file\ncount: 9\ntimeout: 2s\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	sf.Apply(&cfg)
	cfg.Count = 3 // a flag given on the command line
	if cfg.Site != "From file" || cfg.Count != 3 || cfg.Timeout != 2*time.Second || cfg.Host != DefaultHost {
		t.Errorf("got %+v", cfg)
	}
}

// TestSiteFileKeysAreAllHandled keeps SiteFileKeys and the parser in step.
func TestSiteFileKeysAreAllHandled(t *testing.T) {
	for _, key := range SiteFileKeys() {
		_, err := ParseSiteFile([]byte(key + ": [x]\n"))
		if err != nil && strings.Contains(err.Error(), "unknown key") {
			t.Errorf("key %s is listed but not parsed", key)
		}
	}
}

// FuzzParseSiteFile checks the parser never panics and that whatever it
// accepts can be applied.
func FuzzParseSiteFile(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "site"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", "site", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ParseSiteFile(data)
		if err != nil {
			var sfe *SiteFileError
			if !errors.As(err, &sfe) {
				t.Errorf("error %v is not a *SiteFileError", err)
			}
			return
		}
		cfg := DefaultConfig()
		sf.Apply(&cfg)
		_ = cfg.Validate() // must not panic either
	})
}
