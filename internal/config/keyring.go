package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/zalando/go-keyring"
)

// Where a profile's token is kept (Profile.TokenStore).
const (
	// TokenInKeyring: the OS credential store; the configuration file holds no secret.
	TokenInKeyring = "keyring"
	// TokenInFile: the configuration file, restricted to the user, where no credential store
	// could be used.
	TokenInFile = "file"
)

// keyringService is the service name of smartx's entries in the credential store.
const keyringService = "smartx"

// keyringTimeout bounds every credential store operation: a locked Secret Service waiting
// for a password dialog nobody sees must not hang a command.
const keyringTimeout = 5 * time.Second

// Keyring is the OS credential store as smartx uses it: one secret per service and user.
// SystemKeyring returns the real one; tests use go-keyring's MockInit through it.
type Keyring interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// ErrTokenNotInKeyring means a profile's token was expected in the credential store and is
// not there (removed by hand, or the store was reset).
var ErrTokenNotInKeyring = errors.New("the token is no longer in the credential store")

// ErrTokenLeftInKeyring is matched by ForgetToken's error when the file was saved without the
// token but the credential store would not delete its entry.
var ErrTokenLeftInKeyring = errors.New("the token could not be removed from the credential store")

// SystemKeyring returns the OS credential store: Windows Credential Manager, the macOS
// Keychain, or the Secret Service (GNOME Keyring, KWallet) over D-Bus elsewhere. When none
// may be used (SMARTX_KEYRING=off, or no D-Bus session as in CI and over SSH) every operation
// of the returned Keyring fails with the reason, and tokens go to the file.
func SystemKeyring(getenv func(string) string) Keyring {
	if v := getenv("SMARTX_KEYRING"); v == "off" || v == "0" || v == "false" {
		return unavailableKeyring{errors.New("SMARTX_KEYRING=off")}
	}
	if err := keyringReachable(getenv); err != nil {
		return unavailableKeyring{err}
	}
	return timeoutKeyring{timeout: keyringTimeout}
}

// KeyringName names the credential store of goos for people.
func KeyringName(goos string) string {
	switch goos {
	case "windows":
		return "Windows Credential Manager"
	case "darwin":
		return "the macOS Keychain"
	default:
		return "the Secret Service (GNOME Keyring, KWallet)"
	}
}

// unavailableKeyring is the credential store where there is none: every call says why.
type unavailableKeyring struct{ reason error }

func (k unavailableKeyring) Set(string, string, string) error { return k.reason }

func (k unavailableKeyring) Get(string, string) (string, error) { return "", k.reason }

func (k unavailableKeyring) Delete(string, string) error { return k.reason }

// timeoutKeyring is go-keyring with a deadline on every call. A call that times out keeps
// running in the background until the process exits; that is the price of not hanging.
type timeoutKeyring struct{ timeout time.Duration }

func (k timeoutKeyring) Set(service, user, secret string) error {
	_, err := k.do(func() (string, error) { return "", keyring.Set(service, user, secret) })
	return err
}

func (k timeoutKeyring) Get(service, user string) (string, error) {
	return k.do(func() (string, error) { return keyring.Get(service, user) })
}

func (k timeoutKeyring) Delete(service, user string) error {
	_, err := k.do(func() (string, error) { return "", keyring.Delete(service, user) })
	return err
}

func (k timeoutKeyring) do(op func() (string, error)) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := op()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(k.timeout):
		return "", fmt.Errorf("the credential store did not answer within %s", k.timeout)
	}
}
