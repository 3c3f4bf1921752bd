package commands

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/errtext"
	"github.com/smart-impulse/smartx/internal/ui"
)

// configDir returns where profiles are kept.
func (f *Factory) configDir() (string, error) { return config.Dir(f.Getenv) }

// loadConfig reads the profiles.
func (f *Factory) loadConfig() (*config.File, string, error) {
	dir, err := f.configDir()
	if err != nil {
		return nil, "", err
	}
	cfg, err := config.Load(dir)
	return cfg, dir, err
}

// keyring is the credential store profile tokens are kept in.
func (f *Factory) keyring() config.Keyring {
	if f.Keyring == nil {
		f.Keyring = config.SystemKeyring(f.Getenv)
	}
	return f.Keyring
}

// resolveTarget says which server, CA file and token the command uses: flags, then the
// environment, then the profile. A profile named explicitly must exist (a typo says which
// ones do), but for `auth login`, which creates it (newProfile).
func (f *Factory) resolveTarget(newProfile bool) (config.Resolved, error) {
	cfg, _, err := f.loadConfig()
	if err != nil {
		return config.Resolved{}, err
	}
	r, err := cfg.Resolve(config.Inputs{ProfileFlag: f.Global.Profile, ServerFlag: f.Global.Server, CAFileFlag: f.Global.CAFile,
		Getenv: f.Getenv, Keyring: f.keyring()})
	if err == nil && !newProfile {
		err = cfg.RequireProfile(r)
	}
	if err != nil {
		return r, &usageError{err: err}
	}
	return r, nil
}

// tableOrJSONClient is the start of a command that prints a table or JSON from the API: the -o
// format, checked before anything is sent, and the client.
func (f *Factory) tableOrJSONClient() (ui.Format, *client.Client, error) {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return "", nil, &usageError{err: err}
	}
	c, _, err := f.apiClient(false)
	return format, c, err
}

// apiClient builds the API client once per command, from the resolved target. The token is
// required unless anonymous is true (health, login).
func (f *Factory) apiClient(anonymous bool) (*client.Client, config.Resolved, error) {
	r, err := f.resolveTarget(false)
	if err != nil {
		return nil, r, err
	}
	if r.Server == "" {
		return nil, r, client.ErrNoServer
	}
	if _, err := client.ParseServerURL(r.Server); err != nil {
		return nil, r, &usageError{err: fmt.Errorf("%w (from %s)", err, where(r.ServerFrom))}
	}
	if !anonymous && r.Token == "" && r.TokenErr != nil {
		return nil, r, fmt.Errorf("cannot read the token of profile %q from %s (%s): run `smartx auth login` again or set SMARTX_TOKEN",
			r.ProfileName, config.KeyringName(runtime.GOOS), errtext.Of(r.TokenErr))
	}
	if !anonymous && r.Token == "" {
		return nil, r, fmt.Errorf("not logged in to %s (profile %q): run `smartx auth login` or set SMARTX_TOKEN", r.Server, r.ProfileName)
	}
	c, err := f.newClient(clientOptions(r.Server, r.CAFile, r.Token))
	return c, r, err
}

func clientOptions(server, caFile, token string) client.Options {
	return client.Options{Server: server, CAFile: caFile, Token: token}
}

func userAgent() string { return buildinfo.UserAgent() }

// absPath makes a path given on the command line absolute before it is stored in a profile.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// where names the origin of a setting for an error message.
func where(from string) string {
	switch from {
	case "flag":
		return "--server"
	case "env":
		return "SMARTX_SERVER"
	}
	return "the profile"
}
