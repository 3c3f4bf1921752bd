package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newAuthLogoutCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the profile's session on the server and forget it",
		Args:  noArgs,
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
	target, err := f.resolveTarget()
	if err != nil {
		return err
	}
	p := cfg.Profiles[target.ProfileName] // the loaded file's own copy, saved below
	if p == nil || p.Token == "" {
		return fmt.Errorf("profile %q holds no session: nothing to log out of", target.ProfileName)
	}
	warn := f.IO.ErrStyles().Warn
	c, err := f.newClient(clientOptions(p.Server, p.CAFile, p.Token))
	if err == nil {
		err = c.Logout(ctx)
	}
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s could not revoke the session on the server (%v); it is forgotten here and expires by itself at %s\n",
			warn("warning:"), err, p.TokenExpires.UTC().Format("2006-01-02 15:04 MST"))
	}
	p.Token, p.TokenID, p.TokenExpires = "", "", time.Time{}
	if err := cfg.Save(dir); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Logged out of %s (profile %q)\n", f.IO.ErrStyles().OK("✓"), p.Server, target.ProfileName)
	if f.Getenv("SMARTX_TOKEN") != "" {
		fmt.Fprintf(f.IO.ErrOut, "%s SMARTX_TOKEN is still set in your environment and still used: unset it\n", warn("note:"))
	}
	return nil
}
