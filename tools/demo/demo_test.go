package main

import (
	"slices"
	"strings"
	"testing"
)

func TestCommandLineReadsBackInAShell(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"plain words", nil, []string{"device", "status", "SX-00042"}, "smartx device status SX-00042"},
		{"a space", nil, []string{"site", "create", "--name", "Demo building"}, "smartx site create --name 'Demo building'"},
		{"a single quote", nil, []string{"--address", "l'usine"}, `smartx --address 'l'\''usine'`},
		{"an outage", nil, []string{"--outage", "+3d18h+30h"}, "smartx --outage +3d18h+30h"},
		{"an empty argument", nil, []string{"--expect-ip", ""}, "smartx --expect-ip ''"},
		{"shown environment", []string{`SMARTX_TOKEN="$T"`}, []string{"device", "list"}, `SMARTX_TOKEN="$T" smartx device list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commandLine(tt.env, tt.args); got != tt.want {
				t.Errorf("commandLine = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestShortenSecrets(t *testing.T) {
	token := "sxt_eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..Ng9b5VhstNkTy1Wx.yLw1DMD9Uph-aC5V_2Bt.vmnK5sMbyQKZl1nwow1VyA"
	in := `"secret": "` + token + `"` + "\nexport SMARTX_TOKEN=" + token + "\n"
	got := shortenSecrets(in)
	if strings.Contains(got, "Ng9b5") || strings.Count(got, "sxt_eyJhbGciOiJk...") != 2 {
		t.Errorf("shortenSecrets left a secret or lost a token:\n%s", got)
	}
	if plain := "tok_h5wqbmsvfac5hnrn sxt_ alone"; shortenSecrets(plain) != plain {
		t.Errorf("shortenSecrets changed text without a token: %s", shortenSecrets(plain))
	}
}

func TestParseEnvFile(t *testing.T) {
	env, err := parseEnvFile([]byte("SMARTX_SERVER=https://127.0.0.1:4242\nSMARTX_CA_FILE='/tmp/a b/ca.pem'\n\nSMARTX_DEV_PASSWORD='it'\\''s'\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"SMARTX_SERVER": "https://127.0.0.1:4242", "SMARTX_CA_FILE": "/tmp/a b/ca.pem", "SMARTX_DEV_PASSWORD": "it's"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, bad := range []string{"no equals sign\n", "K='unterminated\n"} {
		if _, err := parseEnvFile([]byte(bad)); err == nil {
			t.Errorf("parseEnvFile(%q) accepted it", bad)
		}
	}
}

func TestFirstLines(t *testing.T) {
	head, total := firstLines("a\nb\nc\n", 2)
	if head != "a\nb\n" || total != 3 {
		t.Errorf("firstLines = %q, %d", head, total)
	}
	if head, total = firstLines("a\nb", 5); head != "a\nb" || total != 2 {
		t.Errorf("firstLines without a final newline = %q, %d", head, total)
	}
}

func TestDemoEnvLeavesTheUsersSettingsOut(t *testing.T) {
	env := demoEnv([]string{"HOME=/home/me", "SMARTX_TOKEN=sxt_mine", "smartx_profile=prod", "TMPDIR=/var/tmp", "PATH=/bin"}, "/tmp/demo")
	for _, kv := range env {
		if strings.Contains(kv, "sxt_mine") || strings.Contains(kv, "prod") || kv == "TMPDIR=/var/tmp" {
			t.Errorf("the user's %s reached the demo", kv)
		}
	}
	for _, kv := range []string{"HOME=/home/me", "PATH=/bin", "SMARTX_CONFIG_DIR=/tmp/demo/config", "TMPDIR=/tmp/demo"} {
		if !slices.Contains(env, kv) {
			t.Errorf("%s missing from %v", kv, env)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var out strings.Builder
	var lines []string
	w := &lineWriter{out: &out, fn: func(l string) { lines = append(lines, l) }}
	for _, chunk := range []string{"first line\nsec", "ond line\n", "third", " line\nno end"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"first line", "second line", "third line"}; !slices.Equal(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if out.String() != "first line\nsecond line\nthird line\nno end" {
		t.Errorf("output = %q", out.String())
	}
}
