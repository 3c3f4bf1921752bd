package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zalando/go-keyring"
)

// tokenStore is where p's token is: its marker, or the file for profiles written before the
// marker existed; empty when p holds no token.
func (p *Profile) tokenStore() string {
	switch {
	case p == nil:
		return ""
	case p.TokenStore != "":
		return p.TokenStore
	case p.Token != "":
		return TokenInFile
	}
	return ""
}

// keyringUser names a profile's entry in the credential store: the profile and the folder of
// its configuration, so two configuration folders (SMARTX_CONFIG_DIR) never share a token.
func keyringUser(profile, dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return profile + "@" + dir
}

// keyringToken reads a profile's token from the credential store.
func (f *File) keyringToken(profile string, kr Keyring) (string, error) {
	if kr == nil {
		return "", errors.New("the credential store was not consulted")
	}
	token, err := kr.Get(keyringService, keyringUser(profile, f.dir))
	if errors.Is(err, keyring.ErrNotFound) || (err == nil && token == "") {
		return "", ErrTokenNotInKeyring
	}
	return token, err
}

// ProfileToken returns the token of profile name, wherever it is kept ("" when it holds
// none).
func (f *File) ProfileToken(name string, kr Keyring) (string, error) {
	p := f.Profiles[name]
	switch p.tokenStore() {
	case TokenInKeyring:
		return f.keyringToken(name, kr)
	case TokenInFile:
		return p.Token, nil
	}
	return "", nil
}

// TokenSaved says where SaveProfile put a token.
type TokenSaved struct {
	// Store is TokenInKeyring or TokenInFile.
	Store string
	// Fallback is why the credential store was not used (Store is TokenInFile).
	Fallback error
	// FirstFallback is true when this profile's token was not in the file before: the time to
	// tell the user, once.
	FirstFallback bool
}

// SaveProfile stores p as profile name with token as its secret, makes it current when there
// was none, and saves the file in dir. The token goes to kr, the credential store; where that
// fails, to the file. A token the profile had in the other place is removed from there.
func (f *File) SaveProfile(dir, name string, p *Profile, token string, kr Keyring) (TokenSaved, error) {
	before := f.Profiles[name].tokenStore()
	f.dir = dir
	user := keyringUser(name, dir)
	saved := TokenSaved{Store: TokenInKeyring}
	if kr == nil {
		saved.Fallback = errors.New("no credential store")
	} else {
		saved.Fallback = kr.Set(keyringService, user, token)
	}
	p.Token, p.TokenStore = "", TokenInKeyring
	if saved.Fallback != nil {
		saved.Store, saved.FirstFallback = TokenInFile, before != TokenInFile
		p.Token, p.TokenStore = token, TokenInFile
		if before == TokenInKeyring {
			_ = kr.Delete(keyringService, user) // best effort: the store failed just now
		}
	}
	f.Profiles[name] = p
	if f.Current == "" {
		f.Current = name
	}
	if err := f.Save(dir); err != nil {
		if saved.Store == TokenInKeyring {
			_ = kr.Delete(keyringService, user)
		}
		return saved, err
	}
	return saved, nil
}

// ForgetToken removes profile name's token from wherever it is kept and saves the file in
// dir; the profile keeps its server and CA. An error of the credential store is returned after
// the file is saved, so the caller can tell the user what is left behind.
func (f *File) ForgetToken(dir, name string, kr Keyring) error {
	p := f.Profiles[name]
	if p == nil {
		return nil
	}
	var storeErr error
	if p.tokenStore() == TokenInKeyring {
		if kr == nil {
			storeErr = errors.New("no credential store")
		} else if err := kr.Delete(keyringService, keyringUser(name, dir)); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			storeErr = err
		}
	}
	p.Token, p.TokenStore, p.TokenID, p.TokenExpires = "", "", "", time.Time{}
	if err := f.Save(dir); err != nil {
		return err
	}
	if storeErr != nil {
		return fmt.Errorf("%w: %w", ErrTokenLeftInKeyring, storeErr)
	}
	return nil
}
