package commands

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/errtext"
)

func newAuthLogoutCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the profile's session on the server and forget it",
		Long: `Revoke the profile's session on the server and remove its token from wherever smartx
kept it: the system's credential store, or the configuration file. The profile keeps its server
URL and CA file for the next login.`,
		Example: `  smartx auth logout
  smartx auth logout --profile staging`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuthLogout(cmd.Context(), f)
		},
	}
}

func runAuthLogout(ctx context.Context, f *Factory) error {
	cfg, dir, err := f.loadConfig()
	if err != nil {
		return err
	}
	target, err := f.resolveTarget(false)
	if err != nil {
		return err
	}
	p := cfg.Profiles[target.ProfileName] // the loaded file's own copy, saved below
	warn := f.IO.ErrStyles().Warn
	token, err := cfg.ProfileToken(target.ProfileName, f.keyring())
	switch {
	case p == nil || (token == "" && err == nil):
		return fmt.Errorf("profile %q holds no session: nothing to log out of", target.ProfileName)
	case err != nil:
		// The token cannot be read, so it cannot be revoked: forget the profile's marker anyway.
		fmt.Fprintf(f.IO.ErrOut, "%s cannot read the session from %s (%s): it is forgotten here and expires by itself at %s\n",
			warn("warning:"), config.KeyringName(runtime.GOOS), errtext.Of(err), p.TokenExpires.UTC().Format("2006-01-02 15:04 MST"))
	default:
		c, err := f.newClient(clientOptions(p.Server, p.CAFile, token))
		if err == nil {
			err = c.Logout(ctx)
		}
		if err != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s could not revoke the session on the server (%s); it is forgotten here and expires by itself at %s\n",
				warn("warning:"), errtext.Of(err), p.TokenExpires.UTC().Format("2006-01-02 15:04 MST"))
		}
	}
	if err := cfg.ForgetToken(dir, target.ProfileName, f.keyring()); errors.Is(err, config.ErrTokenLeftInKeyring) {
		return fmt.Errorf("logged out of %s, but %s: remove the smartx entry of profile %q from %s by hand",
			p.Server, errtext.Of(err), target.ProfileName, config.KeyringName(runtime.GOOS))
	} else if err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Logged out of %s (profile %q)\n", f.IO.ErrStyles().OK("✓"), p.Server, target.ProfileName)
	if f.Getenv("SMARTX_TOKEN") != "" {
		fmt.Fprintf(f.IO.ErrOut, "%s SMARTX_TOKEN is still set in your environment and still used: unset it\n", warn("note:"))
	}
	return nil
}
