package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/smart-impulse/smartx/internal/secretfile"
)

// mockKeyring is the credential store path with go-keyring's in-memory mock behind it.
func mockKeyring(t *testing.T, err error) Keyring {
	t.Helper()
	if err != nil {
		keyring.MockInitWithError(err)
	} else {
		keyring.MockInit()
	}
	return timeoutKeyring{timeout: time.Second}
}

func fileText(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestTokenInKeyring(t *testing.T) {
	kr := mockKeyring(t, nil)
	dir := filepath.Join(t.TempDir(), "smartx")
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := f.SaveProfile(dir, "prod", &Profile{Server: "https://platform.example", TokenID: "tok_1"}, "sxs_secret", kr)
	if err != nil || saved.Store != TokenInKeyring || saved.Fallback != nil || saved.FirstFallback {
		t.Fatalf("SaveProfile = %+v, %v; want the keyring", saved, err)
	}
	if text := fileText(t, dir); strings.Contains(text, "sxs_secret") || !strings.Contains(text, "token_store: keyring") {
		t.Fatalf("the file holds the secret or no marker:\n%s", text)
	}

	f, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Resolve(Inputs{Getenv: env(nil), Keyring: kr})
	if err != nil || r.Token != "sxs_secret" || r.TokenFrom != "profile" || r.TokenStore != TokenInKeyring {
		t.Fatalf("Resolve = %+v, %v", r, err)
	}
	// SMARTX_TOKEN still wins, and the store is not the token's then.
	r, _ = f.Resolve(Inputs{Getenv: env(map[string]string{"SMARTX_TOKEN": "sxt_env"}), Keyring: kr})
	if r.Token != "sxt_env" || r.TokenFrom != "env" || r.TokenStore != "" {
		t.Fatalf("Resolve with SMARTX_TOKEN = %+v", r)
	}
	if tok, err := f.ProfileToken("prod", kr); tok != "sxs_secret" || err != nil {
		t.Fatalf("ProfileToken = %q, %v", tok, err)
	}

	if err := f.ForgetToken(dir, "prod", kr); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Get(keyringService, keyringUser("prod", dir)); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("the token is still in the keyring after ForgetToken: %v", err)
	}
	f, _ = Load(dir)
	if p := f.Profiles["prod"]; p == nil || p.Server == "" || p.tokenStore() != "" {
		t.Fatalf("after ForgetToken the profile is %+v; want its server and no token", p)
	}
}

func TestTokenRemovedFromKeyringByHand(t *testing.T) {
	kr := mockKeyring(t, nil)
	dir := t.TempDir()
	f, _ := Load(dir)
	if _, err := f.SaveProfile(dir, "default", &Profile{Server: "https://x"}, "sxs_secret", kr); err != nil {
		t.Fatal(err)
	}
	if err := kr.Delete(keyringService, keyringUser("default", dir)); err != nil {
		t.Fatal(err)
	}
	f, _ = Load(dir)
	r, err := f.Resolve(Inputs{Getenv: env(nil), Keyring: kr})
	if err != nil || r.Token != "" || !errors.Is(r.TokenErr, ErrTokenNotInKeyring) {
		t.Fatalf("Resolve = %+v, %v; want no token and ErrTokenNotInKeyring", r, err)
	}
}

// Without a credential store (no D-Bus session, as in CI) the token goes to the file,
// restricted to the user, and the caller is told the first time only.
func TestTokenFallsBackToTheFile(t *testing.T) {
	kr := mockKeyring(t, errors.New("no D-Bus session to reach the Secret Service"))
	dir := t.TempDir()
	f, _ := Load(dir)
	saved, err := f.SaveProfile(dir, "ci", &Profile{Server: "https://x"}, "sxs_first", kr)
	if err != nil || saved.Store != TokenInFile || saved.Fallback == nil || !saved.FirstFallback {
		t.Fatalf("first SaveProfile = %+v, %v; want the file, said once", saved, err)
	}
	saved, err = f.SaveProfile(dir, "ci", &Profile{Server: "https://x"}, "sxs_second", kr)
	if err != nil || saved.Store != TokenInFile || saved.FirstFallback {
		t.Fatalf("second SaveProfile = %+v, %v; want the file, not said again", saved, err)
	}
	if text := fileText(t, dir); !strings.Contains(text, "sxs_second") || !strings.Contains(text, "token_store: file") {
		t.Fatalf("file:\n%s", text)
	}
	if open, err := secretfile.Exposed(filepath.Join(dir, FileName)); err != nil || open {
		t.Fatalf("the file holding a token can be read by others: %v, %v", open, err)
	}
	f, _ = Load(dir)
	r, _ := f.Resolve(Inputs{Getenv: env(nil), Keyring: kr})
	if r.Token != "sxs_second" || r.TokenStore != TokenInFile {
		t.Fatalf("Resolve = %+v", r)
	}
	if err := f.ForgetToken(dir, "ci", kr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fileText(t, dir), "sxs_second") {
		t.Fatal("ForgetToken left the token in the file")
	}
}

// A profile written before the credential store was used moves there on the next login.
func TestLegacyFileTokenMovesToKeyring(t *testing.T) {
	dir := t.TempDir()
	legacy := "current: default\nprofiles:\n  default:\n    server: https://x\n    token: sxs_old\n"
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	kr := mockKeyring(t, nil)
	f, _ := Load(dir)
	r, _ := f.Resolve(Inputs{Getenv: env(nil), Keyring: kr})
	if r.Token != "sxs_old" || r.TokenStore != TokenInFile {
		t.Fatalf("legacy profile resolves to %+v", r)
	}
	saved, err := f.SaveProfile(dir, "default", &Profile{Server: "https://x"}, "sxs_new", kr)
	if err != nil || saved.Store != TokenInKeyring {
		t.Fatalf("SaveProfile = %+v, %v", saved, err)
	}
	if strings.Contains(fileText(t, dir), "sxs_") {
		t.Fatalf("a token is left in the file:\n%s", fileText(t, dir))
	}
}

func TestSystemKeyring(t *testing.T) {
	off := SystemKeyring(env(map[string]string{"SMARTX_KEYRING": "off"}))
	if err := off.Set(keyringService, "u", "s"); err == nil || !strings.Contains(err.Error(), "SMARTX_KEYRING=off") {
		t.Fatalf("SMARTX_KEYRING=off: Set = %v", err)
	}
	if _, ok := SystemKeyring(env(map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"})).(timeoutKeyring); !ok {
		t.Fatal("with a D-Bus session address the real credential store is not used")
	}
}

func TestKeyringTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	_, err := timeoutKeyring{timeout: 10 * time.Millisecond}.do(func() (string, error) { <-block; return "", nil })
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("a hung credential store returned %v", err)
	}
}

func TestKeyringName(t *testing.T) {
	for goos, want := range map[string]string{"windows": "Windows Credential Manager", "darwin": "Keychain", "linux": "Secret Service"} {
		if got := KeyringName(goos); !strings.Contains(got, want) {
			t.Errorf("KeyringName(%s) = %q, want it to name %q", goos, got, want)
		}
	}
}
