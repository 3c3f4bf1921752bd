package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSaveLoadRoundTripAndMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "smartx")
	f := &File{Current: "prod", Profiles: map[string]*Profile{
		"prod": {Server: "https://platform.example:8443", Token: "sxs_secret", TokenID: "tok_1", TokenExpires: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), User: "a@example.com"},
	}}
	if err := f.Save(dir); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, want 0600: it holds tokens", info.Mode().Perm())
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Current != "prod" || got.Profiles["prod"].Token != "sxs_secret" || !got.Profiles["prod"].TokenExpires.Equal(f.Profiles["prod"].TokenExpires) {
		t.Fatalf("round trip lost data: %+v", got.Profiles["prod"])
	}
}

func TestLoadMissingIsEmpty(t *testing.T) {
	f, err := Load(t.TempDir())
	if err != nil || len(f.Profiles) != 0 {
		t.Fatalf("Load of an empty dir = %+v, %v", f, err)
	}
}

func TestLoadInvalid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("profiles: [oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Fatal("an invalid file loaded")
	}
}

func TestResolvePrecedence(t *testing.T) {
	f := &File{Current: "lab", Profiles: map[string]*Profile{
		"lab":  {Server: "https://lab.example", CAFile: "/lab-ca.pem", Token: "sxs_lab"},
		"prod": {Server: "https://prod.example", Token: "sxs_prod"},
	}}
	tests := []struct {
		name                  string
		in                    Inputs
		profile, server, from string
		token, tokenFrom      string
		ca                    string
	}{
		{"current profile", Inputs{Getenv: env(nil)}, "lab", "https://lab.example", "profile", "sxs_lab", "profile", "/lab-ca.pem"},
		{"profile from env", Inputs{Getenv: env(map[string]string{"SMARTX_PROFILE": "prod"})}, "prod", "https://prod.example", "profile", "sxs_prod", "profile", ""},
		{"flag beats env", Inputs{ProfileFlag: "lab", Getenv: env(map[string]string{"SMARTX_PROFILE": "prod"})}, "lab", "https://lab.example", "profile", "sxs_lab", "profile", "/lab-ca.pem"},
		{"env server and token beat the profile", Inputs{Getenv: env(map[string]string{"SMARTX_SERVER": "https://env.example/", "SMARTX_TOKEN": "sxt_env", "SMARTX_CA_FILE": "/env.pem"})},
			"lab", "https://env.example", "env", "sxt_env", "env", "/env.pem"},
		{"server flag beats env", Inputs{ServerFlag: "https://flag.example", Getenv: env(map[string]string{"SMARTX_SERVER": "https://env.example"})}, "lab", "https://flag.example", "flag", "sxs_lab", "profile", "/lab-ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := f.Resolve(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.ProfileName != tt.profile || r.Server != tt.server || r.ServerFrom != tt.from || r.Token != tt.token || r.TokenFrom != tt.tokenFrom || r.CAFile != tt.ca {
				t.Fatalf("Resolve = %+v", r)
			}
		})
	}
}

func TestResolveRejectsBadProfileName(t *testing.T) {
	f := &File{}
	if _, err := f.Resolve(Inputs{ProfileFlag: "../etc", Getenv: env(nil)}); err == nil {
		t.Fatal("a path-like profile name was accepted")
	}
}

func TestRequireProfileNamesTheProfilesThatExist(t *testing.T) {
	f := &File{Current: "prod", Profiles: map[string]*Profile{"prod": {Server: "https://a.example"}, "staging": {Server: "https://b.example"}}}
	tests := []struct {
		name    string
		in      Inputs
		wantErr string
	}{
		{"typo on the command line", Inputs{ProfileFlag: "prd", Getenv: env(nil)}, "--profile prd: no such profile: the profiles are prod, staging (`smartx auth login --profile prd` creates it)"},
		{"typo in the environment", Inputs{Getenv: env(map[string]string{"SMARTX_PROFILE": "stagin"})}, "SMARTX_PROFILE stagin: no such profile: the profiles are prod, staging"},
		{"an existing profile", Inputs{ProfileFlag: "staging", Getenv: env(nil)}, ""},
		{"the current one", Inputs{Getenv: env(nil)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := f.Resolve(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			err = f.RequireProfile(r)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("RequireProfile = %v", err)
				}
				return
			}
			var ue *UnknownProfileError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("RequireProfile = %v, want %q", err, tt.wantErr)
			}
		})
	}
	empty := &File{Profiles: map[string]*Profile{}}
	r, _ := empty.Resolve(Inputs{Getenv: env(nil)})
	if err := empty.RequireProfile(r); err != nil {
		t.Fatalf("the default profile may be missing (the environment may say it all): %v", err)
	}
}
