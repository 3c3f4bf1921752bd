//go:build !(linux || freebsd || openbsd || netbsd || dragonfly)

package config

// keyringReachable has nothing to check here: Windows Credential Manager and the macOS
// Keychain are always there (go-keyring reports any other OS as unsupported on first use).
func keyringReachable(func(string) string) error { return nil }
