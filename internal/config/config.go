// Package config keeps smartx's profiles: named platform servers with their CA file and
// credentials, and resolves which server, CA and token a command uses: flags first, then the
// environment, then the profile.
//
// The profiles live in config.yaml in the user's configuration folder, restricted to the user
// (secretfile: mode 0600 on Unix, an access list on Windows). A profile's token goes to the OS
// credential store (Windows Credential Manager, the macOS Keychain, the Secret Service); the
// file keeps only a marker of where it is, and the token itself only where no credential store
// can be used.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smart-impulse/smartx/internal/secretfile"
)

// FileName is the configuration file inside the smartx folder of the user's config dir.
const FileName = "config.yaml"

// DefaultProfile is the profile used when none is named.
const DefaultProfile = "default"

// Profile is one platform server and how smartx authenticates to it.
type Profile struct {
	// Server is the platform's base URL, https://host[:port].
	Server string `yaml:"server"`
	// CAFile is a PEM bundle of extra certificate authorities for this server.
	CAFile string `yaml:"ca_file,omitempty"`
	// Token is the secret of the session or API token smartx presents, when it is kept in this
	// file (TokenStore "file"); empty when it is in the credential store.
	Token string `yaml:"token,omitempty"`
	// TokenStore says where the token is: TokenInKeyring or TokenInFile. Profiles written
	// before the credential store was used have no marker and their token in the file.
	TokenStore string `yaml:"token_store,omitempty"`
	// TokenID and TokenExpires describe Token, for `auth status` without a request.
	TokenID      string    `yaml:"token_id,omitempty"`
	TokenExpires time.Time `yaml:"token_expires,omitempty"`
	// User is the e-mail of the user logged in, for messages.
	User string `yaml:"user,omitempty"`
}

// File is the whole configuration.
type File struct {
	// Current is the profile used when none is named.
	Current  string              `yaml:"current,omitempty"`
	Profiles map[string]*Profile `yaml:"profiles,omitempty"`

	// dir is the folder the file was loaded from; it names the credential store entries.
	dir string
}

// Dir returns the smartx configuration folder: $SMARTX_CONFIG_DIR when set (tests, portable
// setups), else os.UserConfigDir()/smartx.
func Dir(getenv func(string) string) (string, error) {
	if d := getenv("SMARTX_CONFIG_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user configuration folder: %w (set SMARTX_CONFIG_DIR)", err)
	}
	return filepath.Join(base, "smartx"), nil
}

// Load reads the configuration in dir; a missing file is an empty configuration.
func Load(dir string) (*File, error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{Profiles: map[string]*Profile{}, dir: dir}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f := File{dir: dir}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s is not valid: %w (fix it or remove it and log in again)", path, err)
	}
	if f.Profiles == nil {
		f.Profiles = map[string]*Profile{}
	}
	for name, p := range f.Profiles {
		if p == nil {
			delete(f.Profiles, name)
		}
	}
	return &f, nil
}

// Save writes the configuration to dir for the current user only (it may hold tokens:
// secretfile.Restrict), through a temporary file renamed into place so a crash never leaves
// half a file.
func (f *File) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	data, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, FileName)
	tmp, err := os.CreateTemp(dir, "."+FileName+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := secretfile.Restrict(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateName checks a profile name.
func ValidateName(name string) error {
	if !profileName.MatchString(name) {
		return fmt.Errorf("profile name %q: use letters, digits, dots, dashes and underscores (at most 64)", name)
	}
	return nil
}

// Names returns the profile names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Profiles))
	for n := range f.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Inputs are the places a setting can come from, in decreasing precedence per setting.
type Inputs struct {
	// Flags given on the command line (empty: not given).
	ProfileFlag, ServerFlag, CAFileFlag string
	// Getenv reads SMARTX_PROFILE, SMARTX_SERVER, SMARTX_CA_FILE and SMARTX_TOKEN.
	Getenv func(string) string
	// Keyring is where tokens marked TokenInKeyring are read; nil reads none.
	Keyring Keyring
}

// Resolved is what a command uses to reach the platform, with where each value came from.
type Resolved struct {
	ProfileName string
	Profile     *Profile // nil when the profile does not exist yet
	Server      string
	CAFile      string
	Token       string
	// ServerFrom, CAFileFrom and TokenFrom say "flag", "env", "profile" or "".
	ServerFrom, CAFileFrom, TokenFrom string
	// TokenStore says where a profile's token is kept (TokenInKeyring, TokenInFile); empty
	// when the token comes from SMARTX_TOKEN or there is none.
	TokenStore string
	// TokenErr is why the profile's token could not be read from the credential store.
	TokenErr error
	// ProfileFrom says where the profile's name came from: "flag", "env", "current" (the
	// file's current profile) or "default".
	ProfileFrom string
}

// UnknownProfileError is a profile named on the command line or in SMARTX_PROFILE that the
// configuration does not hold: most often a typo.
type UnknownProfileError struct {
	Name  string
	From  string   // "flag" or "env"
	Known []string // the profiles that exist, sorted
}

// Error names the profiles that exist, or how to create one.
func (e *UnknownProfileError) Error() string {
	where := "--profile"
	if e.From == "env" {
		where = "SMARTX_PROFILE"
	}
	if len(e.Known) == 0 {
		return fmt.Sprintf("%s %s: there is no profile yet: create it with `smartx auth login --profile %s`", where, e.Name, e.Name)
	}
	return fmt.Sprintf("%s %s: no such profile: the profiles are %s (`smartx auth login --profile %s` creates it)", where, e.Name, strings.Join(e.Known, ", "), e.Name)
}

// RequireProfile returns an *UnknownProfileError when r's profile was named explicitly (by
// flag or environment) and does not exist; a profile chosen by default may be missing (the
// environment alone may say which server and token to use).
func (f *File) RequireProfile(r Resolved) error {
	if r.Profile != nil || (r.ProfileFrom != "flag" && r.ProfileFrom != "env") {
		return nil
	}
	return &UnknownProfileError{Name: r.ProfileName, From: r.ProfileFrom, Known: f.Names()}
}

// Resolve applies the precedence flags > environment > profile to the server URL, the CA file
// and the token. The profile is --profile, else SMARTX_PROFILE, else the file's current one,
// else "default".
func (f *File) Resolve(in Inputs) (Resolved, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	r := Resolved{}
	r.ProfileName, r.ProfileFrom = in.ProfileFlag, "flag"
	switch {
	case r.ProfileName != "":
	case getenv("SMARTX_PROFILE") != "":
		r.ProfileName, r.ProfileFrom = getenv("SMARTX_PROFILE"), "env"
	case f.Current != "":
		r.ProfileName, r.ProfileFrom = f.Current, "current"
	default:
		r.ProfileName, r.ProfileFrom = DefaultProfile, "default"
	}
	if err := ValidateName(r.ProfileName); err != nil {
		return r, err
	}
	r.Profile = f.Profiles[r.ProfileName]
	var p Profile
	if r.Profile != nil {
		p = *r.Profile
	}
	r.Server, r.ServerFrom = pick(in.ServerFlag, getenv("SMARTX_SERVER"), p.Server)
	r.CAFile, r.CAFileFrom = pick(in.CAFileFlag, getenv("SMARTX_CA_FILE"), p.CAFile)
	r.Token, r.TokenFrom = pick("", getenv("SMARTX_TOKEN"), p.Token)
	if r.TokenFrom == "" && p.TokenStore == TokenInKeyring {
		if r.Token, r.TokenErr = f.keyringToken(r.ProfileName, in.Keyring); r.TokenErr == nil {
			r.TokenFrom = "profile"
		}
	}
	if r.TokenFrom == "profile" {
		r.TokenStore = p.tokenStore()
	}
	r.Server = strings.TrimRight(r.Server, "/")
	return r, nil
}

func pick(flag, env, profile string) (string, string) {
	switch {
	case flag != "":
		return flag, "flag"
	case env != "":
		return env, "env"
	case profile != "":
		return profile, "profile"
	}
	return "", ""
}
