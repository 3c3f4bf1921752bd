package commands

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/ui"
)

// memKeyring is a credential store in memory; err, when set, makes every call fail.
type memKeyring struct {
	secrets map[string]string
	err     error
}

func (k *memKeyring) Set(service, user, secret string) error {
	if k.err != nil {
		return k.err
	}
	k.secrets[service+"/"+user] = secret
	return nil
}

func (k *memKeyring) Get(service, user string) (string, error) {
	if k.err != nil {
		return "", k.err
	}
	s, ok := k.secrets[service+"/"+user]
	if !ok {
		return "", errors.New("not found")
	}
	return s, nil
}

func (k *memKeyring) Delete(service, user string) error {
	if k.err != nil {
		return k.err
	}
	delete(k.secrets, service+"/"+user)
	return nil
}

func keyringFactory(t *testing.T, kr *memKeyring) (*Factory, string, *strings.Builder) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "config")
	ios, _, _, _ := ui.Test()
	f := NewFactory(ios)
	f.Now = time.Now
	f.Getenv = func(k string) string {
		if k == "SMARTX_CONFIG_DIR" {
			return dir
		}
		return ""
	}
	f.Keyring = kr
	var b strings.Builder
	ios.ErrOut = &b
	return f, dir, &b
}

func TestSaveProfileUsesTheCredentialStore(t *testing.T) {
	kr := &memKeyring{secrets: map[string]string{}}
	f, dir, errOut := keyringFactory(t, kr)
	cfg, _, err := f.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.saveProfile(cfg, dir, "default", &config.Profile{Server: "https://127.0.0.1:8443", Token: "sxs_secret"}); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() != 0 {
		t.Errorf("saving to the credential store said %q; want nothing", errOut)
	}
	data, _ := os.ReadFile(filepath.Join(dir, config.FileName))
	if strings.Contains(string(data), "sxs_secret") || len(kr.secrets) != 1 {
		t.Fatalf("the token is in the file or not in the store:\n%s", data)
	}
	r, err := f.resolveTarget(false)
	if err != nil || r.Token != "sxs_secret" {
		t.Fatalf("resolveTarget = %+v, %v", r, err)
	}
	if store, where := f.tokenLocation(r); store != config.TokenInKeyring || where != config.KeyringName(runtime.GOOS) {
		t.Errorf("tokenLocation = %s, %s", store, where)
	}

	// The store lost it (removed by hand): commands say so and how to fix it.
	clear(kr.secrets)
	kr.err = errors.New("the Secret Service is locked")
	_, _, err = f.apiClient(false)
	if err == nil || !strings.Contains(err.Error(), "cannot read the token of profile \"default\"") || !strings.Contains(err.Error(), "auth login") {
		t.Fatalf("apiClient without the stored token: %v", err)
	}
}

func TestSaveProfileFallsBackToTheFileOnce(t *testing.T) {
	kr := &memKeyring{secrets: map[string]string{}, err: errors.New("no D-Bus session to reach the Secret Service")}
	f, dir, errOut := keyringFactory(t, kr)
	for i := range 2 {
		cfg, _, err := f.loadConfig()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.saveProfile(cfg, dir, "ci", &config.Profile{Server: "https://127.0.0.1:8443", Token: "sxs_secret"}); err != nil {
			t.Fatal(err)
		}
		if i == 0 && !strings.Contains(errOut.String(), "no credential store here (no D-Bus session to reach the Secret Service): the token of profile \"ci\" is kept in "+filepath.Join(dir, config.FileName)+" with "+secretfile.Protection()) {
			t.Fatalf("first fallback said %q", errOut)
		}
	}
	if strings.Count(errOut.String(), "note:") != 1 {
		t.Fatalf("the fallback was not said exactly once: %q", errOut)
	}
	f.Global.Profile = "ci"
	r, err := f.resolveTarget(false)
	if err != nil || r.Token != "sxs_secret" {
		t.Fatalf("resolveTarget = %+v, %v", r, err)
	}
	if store, where := f.tokenLocation(r); store != config.TokenInFile || where != filepath.Join(dir, config.FileName) {
		t.Errorf("tokenLocation = %s, %s", store, where)
	}
}
