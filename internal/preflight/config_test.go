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

func TestDefaultConfigMatchesVendorStatement(t *testing.T) {
	cfg := DefaultConfig()
	checks := []struct {
		name      string
		got, want any
	}{
		{"host", cfg.Host, "smartx.smart-impulse.com"},
		{"expect-ip", cfg.ExpectIP, "178.33.106.9"},
		{"https-port", cfg.HTTPSPort, 443},
		{"http-port", cfg.HTTPPort, 80},
		{"ping-target", cfg.PingTarget, "8.8.8.8"},
		{"ntp-server", cfg.NTPServer, "time.google.com"},
		{"dns-server", cfg.DNSServer, ""},
		{"timeout", cfg.Timeout, 5 * time.Second},
		{"count", cfg.Count, 4},
		{"profile", cfg.Profile, ProfileCurrent},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("default configuration does not validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	goodPEM := caFile(t, newCA(t, "Validate CA"))

	tests := []struct {
		name    string
		edit    func(*Config)
		wantKey string // empty: valid
		wantIs  error
	}{
		{"defaults", func(*Config) {}, "", nil},
		{"host and ports of a test platform", func(c *Config) { c.Host, c.HTTPSPort, c.HTTPPort = "platform.test", 8443, 8080 }, "", nil},
		{"ipv6 dns server with port", func(c *Config) { c.DNSServer = "[::1]:5353" }, "", nil},
		{"ntp server with port", func(c *Config) { c.NTPServer = "127.0.0.1:1123" }, "", nil},
		{"proxy with credentials", func(c *Config) { c.Proxy = "http://user:secret@proxy.site.test:3128" }, "", nil},
		{"https proxy without port", func(c *Config) { c.Proxy = "https://proxy.site.test" }, "", nil},
		{"ca-file with a certificate", func(c *Config) { c.CAFile, c.DeviceRootsOnly = goodPEM, true }, "", nil},
		{"empty expect-ip disables the comparison", func(c *Config) { c.ExpectIP = "" }, "", nil},
		{"empty host", func(c *Config) { c.Host = "" }, "host", nil},
		{"host with a space", func(c *Config) { c.Host = "smart x" }, "host", nil},
		{"expect-ip not an address", func(c *Config) { c.ExpectIP = "178.33.106" }, "expect-ip", nil},
		{"https port zero", func(c *Config) { c.HTTPSPort = 0 }, "https-port", nil},
		{"http port too high", func(c *Config) { c.HTTPPort = 70000 }, "http-port", nil},
		{"ntp port out of range", func(c *Config) { c.NTPServer = "time.google.com:99999" }, "ntp-server", nil},
		{"empty ntp server", func(c *Config) { c.NTPServer = "" }, "ntp-server", nil},
		{"dns server garbage", func(c *Config) { c.DNSServer = "dns server" }, "dns-server", nil},
		{"proxy with socks scheme", func(c *Config) { c.Proxy = "socks5://proxy:1080" }, "proxy", nil},
		{"proxy without host", func(c *Config) { c.Proxy = "http://:3128" }, "proxy", nil},
		{"proxy without scheme", func(c *Config) { c.Proxy = "proxy.site.test:3128" }, "proxy", nil},
		{"missing ca-file", func(c *Config) { c.CAFile = filepath.Join(dir, "absent.pem") }, "ca-file", os.ErrNotExist},
		{"ca-file without certificate", func(c *Config) { c.CAFile = notPEM }, "ca-file", nil},
		{"device-roots-only without ca-file", func(c *Config) { c.DeviceRootsOnly = true }, "device-roots-only", nil},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "timeout", nil},
		{"count zero", func(c *Config) { c.Count = 0 }, "count", nil},
		{"unknown profile", func(c *Config) { c.Profile = "old" }, "profile", nil},
		{"unknown only id", func(c *Config) { c.Only = []string{"dns", "tls13"} }, "only", ErrUnknownCheck},
		{"unknown skip id", func(c *Config) { c.Skip = []string{"ping"} }, "skip", ErrUnknownCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error about %s", tt.wantKey)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tt.wantKey {
				t.Errorf("error %v: want a *ConfigError for key %s", err, tt.wantKey)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks a credential: %v", err)
			}
		})
	}
}

func TestValidateUnknownCheckListsValidIDs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Only = []string{"ping"}
	err := cfg.Validate()
	for _, id := range CheckIDs() {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not list valid id %s", err, id)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTPSPort, cfg.Count, cfg.Timeout = -1, 0, -time.Second
	err := cfg.Validate()
	for _, key := range []string{"https-port", "count", "timeout"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not mention %s", err, key)
		}
	}
}

func TestSelectedChecks(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"current profile", func(*Config) {}, []string{"local-network", "dns", "icmp", "tcp-https", "tls", "https", "ntp"}},
		{"legacy adds port 80", func(c *Config) { c.Profile = ProfileLegacy },
			[]string{"local-network", "dns", "icmp", "tcp-https", "tls", "https", "tcp-http", "http", "ntp"}},
		{"all includes proxy", func(c *Config) { c.Profile = ProfileAll }, CheckIDs()},
		{"proxy configured", func(c *Config) { c.Proxy = "http://proxy.test:3128" },
			[]string{"local-network", "dns", "icmp", "tcp-https", "tls", "https", "ntp", "proxy"}},
		{"only keeps display order", func(c *Config) { c.Only = []string{"ntp", "dns"} }, []string{"dns", "ntp"}},
		{"only may name a legacy check", func(c *Config) { c.Only = []string{"http"} }, []string{"http"}},
		{"skip removes", func(c *Config) { c.Skip = []string{"icmp", "local-network"} },
			[]string{"dns", "tcp-https", "tls", "https", "ntp"}},
		{"skip wins over only", func(c *Config) { c.Only, c.Skip = []string{"dns", "tls"}, []string{"tls"} }, []string{"dns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			if got := SelectedChecks(cfg); !slices.Equal(got, tt.want) {
				t.Errorf("SelectedChecks() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://proxy.test:3128", "http://proxy.test:3128"},
		{"http://user:secret@proxy.test:3128", "http://redacted@proxy.test:3128"},
		{"https://user@proxy.test/", "https://redacted@proxy.test/"},
		{"user:secret@proxy.test:3128", "redacted@proxy.test:3128"},
		{"proxy.test:3128", "proxy.test:3128"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := redactURL(tt.in); got != tt.want {
				t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckMetadata(t *testing.T) {
	ids := CheckIDs()
	titles := Titles()
	if len(titles) != len(ids) {
		t.Fatalf("%d titles for %d ids", len(titles), len(ids))
	}
	for _, c := range Checks() {
		if titles[c.ID] == "" || c.Group == "" {
			t.Errorf("check %s lacks a title or group", c.ID)
		}
		if c.Needs != "" && checkOrder(c.Needs) >= checkOrder(c.ID) {
			t.Errorf("check %s needs %s, which is displayed after it", c.ID, c.Needs)
		}
		if _, ok := checkFuncs[c.ID]; !ok {
			t.Errorf("check %s has no implementation", c.ID)
		}
	}
	titles["dns"] = "changed"
	if Titles()["dns"] == "changed" {
		t.Error("Titles returns shared state")
	}
}
