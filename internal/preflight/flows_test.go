package preflight

import (
	"slices"
	"testing"
)

func TestRulesFromVendorStatement(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"current", func(*Config) {}, []string{
			"allow UDP and TCP from <device> to the site's DNS servers port 53",
			"allow ICMP from <device> to 8.8.8.8 (echo request and reply)",
			"allow TCP from <device> to 178.33.106.9 (smartx.smart-impulse.com) port 443",
			"allow UDP from <device> to time.google.com port 123",
		}},
		{"legacy adds port 80", func(c *Config) { c.Profile = ProfileLegacy }, []string{
			"allow UDP and TCP from <device> to the site's DNS servers port 53",
			"allow ICMP from <device> to 8.8.8.8 (echo request and reply)",
			"allow TCP from <device> to 178.33.106.9 (smartx.smart-impulse.com) port 443",
			"allow TCP from <device> to 178.33.106.9 (smartx.smart-impulse.com) port 80",
			"allow UDP from <device> to time.google.com port 123",
		}},
		{"site dns server and proxy", func(c *Config) {
			c.DNSServer = "10.0.0.53"
			c.Proxy = "http://user:pw@proxy.site.test:3128"
		}, []string{
			"allow UDP and TCP from <device> to 10.0.0.53 port 53",
			"allow ICMP from <device> to 8.8.8.8 (echo request and reply)",
			"allow TCP from <device> to proxy.site.test port 3128",
			"allow UDP from <device> to time.google.com port 123",
		}},
		{"no expected ip", func(c *Config) { c.ExpectIP = "" }, []string{
			"allow UDP and TCP from <device> to the site's DNS servers port 53",
			"allow ICMP from <device> to 8.8.8.8 (echo request and reply)",
			"allow TCP from <device> to smartx.smart-impulse.com port 443",
			"allow UDP from <device> to time.google.com port 123",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			var got []string
			for _, f := range Rules(cfg) {
				got = append(got, f.Rule())
				if f.Purpose == "" || (f.Profile != "current" && f.Profile != "legacy") {
					t.Errorf("flow %+v lacks a purpose or profile", f)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rules:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLegacyFlowIsMarkedLegacy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Profile = ProfileAll
	for _, f := range Rules(cfg) {
		if f.Port == 80 && f.Profile != "legacy" {
			t.Errorf("port 80 flow has profile %q, want legacy", f.Profile)
		}
	}
}
