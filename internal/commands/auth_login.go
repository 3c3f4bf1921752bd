package commands

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/errtext"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/ui"
)

type authLoginOptions struct {
	email         string
	passwordStdin bool
	withToken     bool
}

func newAuthLoginCmd(f *Factory) *cobra.Command {
	o := &authLoginOptions{}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in with your e-mail and password and keep the session in a profile",
		Long: `Log in to the platform with your e-mail and password. On a terminal both are asked for
(the password without echo); in scripts pass --email and the password on standard input with
--password-stdin. --with-token stores an API token read from standard input instead.

The session (12 hours) is kept in the profile with the server URL and CA file, so the
next commands need nothing more.`,
		Example: `  smartx auth login --server https://platform.example:8443
  smartx auth login --server https://127.0.0.1:8443 --ca-file ca.pem --email ops@acme.example --password-stdin < password.txt
  echo "$TOKEN" | smartx auth login --with-token --profile ci`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuthLogin(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.email, "email", "", "your e-mail (asked for on a terminal)")
	cmd.Flags().BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().BoolVar(&o.withToken, "with-token", false, "store an API token read from standard input instead of logging in")
	return cmd
}

func runAuthLogin(ctx context.Context, f *Factory, o *authLoginOptions) error {
	if o.passwordStdin && o.withToken {
		return usageErrorf("--password-stdin and --with-token cannot be used together")
	}
	cfg, dir, err := f.loadConfig()
	if err != nil {
		return err
	}
	target, err := f.resolveTarget()
	if err != nil {
		return err
	}
	server := target.Server
	if server == "" {
		if server, err = f.IO.Prompt("Platform server URL (https://...)"); err != nil {
			return usageErrorf("no server to log in to: give --server https://... (or set SMARTX_SERVER)")
		}
	}
	base := client.Options{Server: server, CAFile: target.CAFile}
	profile := &config.Profile{Server: strings.TrimRight(server, "/"), CAFile: absPath(target.CAFile)}

	if o.withToken {
		token, err := f.IO.ReadSecretLine()
		if err != nil {
			return usageErrorf("--with-token reads the token from standard input: %w", err)
		}
		base.Token = strings.TrimSpace(token)
		c, err := f.newClient(base)
		if err != nil {
			return err
		}
		who, err := c.WhoAmI(ctx)
		if err != nil {
			return err
		}
		profile.Token, profile.TokenID, profile.TokenExpires, profile.User = base.Token, who.Token.ID, who.Token.ExpiresAt, who.User.Email
		if err := f.saveProfile(cfg, dir, target.ProfileName, profile); err != nil {
			return err
		}
		fmt.Fprintf(f.IO.ErrOut, "%s Token %s (%s) of %s stored in profile %q; it expires %s\n",
			f.IO.ErrStyles().OK("✓"), who.Token.ID, who.Token.Name, who.User.Email, target.ProfileName, who.Token.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
		return nil
	}

	email := o.email
	if email == "" {
		if email, err = f.IO.Prompt("E-mail"); err != nil {
			return usageErrorf("no terminal to ask your e-mail: give --email")
		}
	}
	var password string
	switch {
	case o.passwordStdin:
		if password, err = f.IO.ReadSecretLine(); err != nil {
			return usageErrorf("--password-stdin: %w", err)
		}
	default:
		if password, err = f.IO.PromptSecret("Password"); errors.Is(err, ui.ErrNoTerminal) {
			return usageErrorf("no terminal to ask your password: pass it on standard input with --password-stdin")
		} else if err != nil {
			return err
		}
	}
	c, err := f.newClient(base)
	if err != nil {
		return err
	}
	login, err := c.Login(ctx, email, password)
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized {
		return fmt.Errorf("login to %s failed: %s", server, apiErr.Problem.Detail)
	}
	if err != nil {
		return err
	}
	profile.Token, profile.TokenID, profile.TokenExpires, profile.User = login.Token, login.TokenID, login.ExpiresAt, login.User.Email
	if err := f.saveProfile(cfg, dir, target.ProfileName, profile); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Logged in to %s as %s (%s); the session expires %s. Profile %q saved.\n",
		f.IO.ErrStyles().OK("✓"), profile.Server, login.User.Email, login.User.Role, login.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"), target.ProfileName)
	return nil
}

// newClient builds a client from explicit options (login, before any profile exists).
func (f *Factory) newClient(o client.Options) (*client.Client, error) {
	if f.NewClient != nil {
		return f.NewClient(config.Resolved{Server: o.Server, CAFile: o.CAFile, Token: o.Token})
	}
	o.UserAgent = userAgent()
	c, err := client.New(o)
	if err != nil {
		return nil, &usageError{err: err}
	}
	return c, nil
}

// saveProfile stores p under name and makes it current when there was none. Its token (in
// p.Token) goes to the OS credential store; where there is none, to the configuration file,
// restricted to the user, which is said once per profile.
func (f *Factory) saveProfile(cfg *config.File, dir, name string, p *config.Profile) error {
	saved, err := cfg.SaveProfile(dir, name, p, p.Token, f.keyring())
	if err != nil {
		return err
	}
	if saved.FirstFallback {
		fmt.Fprintf(f.IO.ErrOut, "%s no credential store here (%s): the token of profile %q is kept in %s with %s\n",
			f.IO.ErrStyles().Warn("note:"), errtext.Of(saved.Fallback), name, filepath.Join(dir, config.FileName), secretfile.Protection())
	}
	return nil
}
