package commands

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/errtext"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/ui"
)

type authLoginOptions struct {
	credentialInputs
	ssoLoginOptions
	withToken bool
}

// credentialInputs are how a password login gets its e-mail, password and second-factor code.
type credentialInputs struct {
	email         string
	passwordStdin bool
	codeStdin     bool
}

func (c *credentialInputs) bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.email, "email", "", "your e-mail (asked for on a terminal)")
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from standard input")
	fs.BoolVar(&c.codeStdin, "code-stdin", false, "read the second-factor code from standard input (after the password, with --password-stdin)")
}

func newAuthLoginCmd(f *Factory) *cobra.Command {
	o := &authLoginOptions{}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in with your e-mail, password and second factor, and keep the session in a profile",
		Long: `Log in to the platform with your e-mail and password, then the code of your second factor:
the 6-digit code the server e-mails you, or, once you enrolled one (smartx auth 2fa enroll), the
code of your authenticator app or one of your recovery codes. On a terminal everything is asked
for (the password without echo; an empty code sends a new e-mail). In scripts pass --email, the
password on standard input with --password-stdin and, rarely, the code on the next line with
--code-stdin. --with-token stores an API token read from standard input instead: the one
credential of unattended scripts.

--sso signs in through the identity provider of your account instead (single sign-on, when
the account is linked to one): smartx opens your browser at the provider (or prints the URL
when it cannot; SMARTX_BROWSER or BROWSER choose the browser) and waits for its redirect on
127.0.0.1. --device-code, for a machine without a browser, prints a code to enter at the
provider on another device. Your e-mail's domain names the account.

The session (12 hours) is kept in the profile with the server URL and CA file, so the
next commands need nothing more.`,
		Example: `  smartx auth login --server https://platform.example:8443
  smartx auth login --server https://127.0.0.1:8443 --ca-file ca.pem --email ops@acme.example --password-stdin < password.txt
  echo "$TOKEN" | smartx auth login --with-token --profile ci
  smartx auth login --sso --email ana@acme.example
  smartx auth login --sso --device-code --email ana@acme.example`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuthLogin(cmd.Context(), f, o)
		},
	}
	o.bind(cmd.Flags())
	cmd.Flags().BoolVar(&o.withToken, "with-token", false, "store an API token read from standard input instead of logging in")
	cmd.Flags().BoolVar(&o.sso, "sso", false, "sign in through your account's identity provider (single sign-on), in a browser")
	cmd.Flags().BoolVar(&o.deviceCode, "device-code", false, "with --sso, sign in by entering a code at the provider on another device")
	return cmd
}

func runAuthLogin(ctx context.Context, f *Factory, o *authLoginOptions) error {
	if (o.passwordStdin || o.codeStdin) && o.withToken {
		return usageErrorf("--password-stdin and --code-stdin log in with a password; --with-token stores a token instead: use one or the other")
	}
	if err := o.checkSSOFlags(o.withToken || o.passwordStdin || o.codeStdin); err != nil {
		return err
	}
	cfg, dir, err := f.loadConfig()
	if err != nil {
		return err
	}
	target, err := f.resolveTarget(true)
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

	c, err := f.newClient(base)
	if err != nil {
		return err
	}
	var login api.LoginResponse
	if o.sso {
		login, err = ssoLogin(ctx, f, c, server, o.email, o.deviceCode)
	} else {
		login, err = passwordLogin(ctx, f, c, server, o.credentialInputs, nil)
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

// passwordLogin runs both steps of a password login against c: the e-mail and password, then
// the second factor's code, asking on the terminal for what in did not give. tokenReq, when
// set, asks the login for an API token instead of a session.
func passwordLogin(ctx context.Context, f *Factory, c *client.Client, server string, in credentialInputs, tokenReq *api.CreateTokenRequest) (api.LoginResponse, error) {
	if in.codeStdin && !in.passwordStdin && !f.IO.CanPrompt() {
		return api.LoginResponse{}, usageErrorf("--code-stdin reads the code after the password: add --password-stdin")
	}
	email := in.email
	var err error
	if email == "" {
		if email, err = f.IO.Prompt("E-mail"); err != nil {
			return api.LoginResponse{}, usageErrorf("no terminal to ask your e-mail: give --email")
		}
	}
	var password string
	switch {
	case in.passwordStdin:
		if password, err = f.IO.ReadSecretLine(); err != nil {
			return api.LoginResponse{}, usageErrorf("--password-stdin: %w", err)
		}
	default:
		if password, err = f.IO.PromptSecret("Password"); errors.Is(err, ui.ErrNoTerminal) {
			return api.LoginResponse{}, usageErrorf("no terminal to ask your password: pass it on standard input with --password-stdin")
		} else if err != nil {
			return api.LoginResponse{}, err
		}
	}
	ch, err := c.Login(ctx, email, password)
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Code() == api.CodeUnauthenticated {
		return api.LoginResponse{}, fmt.Errorf("login to %s failed: %s", server, apiErr.Problem.Detail)
	}
	if errors.As(err, &apiErr) {
		return api.LoginResponse{}, fmt.Errorf("login to %s failed: %w", server, err)
	}
	if err != nil {
		return api.LoginResponse{}, err
	}
	return secondFactor(ctx, f, c, ch, in.codeStdin, tokenReq)
}

// secondFactor finishes a login: it says where the code is, reads it (standard input, or the
// terminal, where an empty answer e-mails a new code and a wrong one may be typed again), and
// verifies it.
func secondFactor(ctx context.Context, f *Factory, c *client.Client, ch api.LoginChallenge, fromStdin bool, tokenReq *api.CreateTokenRequest) (api.LoginResponse, error) {
	es := f.IO.ErrStyles()
	switch ch.Method {
	case api.FactorTOTP:
		fmt.Fprintf(f.IO.ErrOut, "Two-factor login: enter the %d-digit code of your authenticator app, or one of your recovery codes.\n", ch.CodeLength)
	default:
		fmt.Fprintf(f.IO.ErrOut, "Two-factor login: a %d-digit code was e-mailed to %s; it expires at %s.\n", ch.CodeLength, ch.SentTo,
			ch.ExpiresAt.UTC().Format("15:04 MST"))
	}
	interactive := !fromStdin
	if interactive && !f.IO.CanPrompt() {
		return api.LoginResponse{}, usageErrorf("no terminal to ask the code: pass it on standard input with --code-stdin")
	}
	question := "Code"
	if ch.Method == api.FactorEmail {
		question = "Code (Enter alone sends a new one)"
	}
	for {
		var code string
		var err error
		if fromStdin {
			if code, err = f.IO.ReadSecretLine(); err != nil {
				return api.LoginResponse{}, usageErrorf("--code-stdin: %w", err)
			}
		} else if code, err = f.IO.Prompt(question); err != nil {
			return api.LoginResponse{}, err
		}
		code = strings.TrimSpace(code)
		if code == "" {
			if !interactive || ch.Method != api.FactorEmail {
				return api.LoginResponse{}, usageErrorf("no code given")
			}
			sent, err := c.ResendLogin(ctx, ch.Challenge)
			var apiErr *client.Error
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusTooManyRequests {
				fmt.Fprintf(f.IO.ErrOut, "%s a new code can be sent in %s: wait, or type the last one\n", es.Warn("!"), max(apiErr.RetryAfter, time.Second).Round(time.Second))
				continue
			}
			if err != nil {
				return api.LoginResponse{}, fmt.Errorf("login failed: %w", err)
			}
			fmt.Fprintf(f.IO.ErrOut, "A new code was e-mailed to %s; it expires at %s.\n", sent.SentTo, sent.ExpiresAt.UTC().Format("15:04 MST"))
			continue
		}
		login, err := c.VerifyLogin(ctx, api.LoginVerifyRequest{Challenge: ch.Challenge, Code: code, Token: tokenReq})
		var apiErr *client.Error
		if interactive && errors.As(err, &apiErr) && retryableCode(apiErr.Code(), ch.Method) {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", es.Warn("!"), apiErr.Problem.Detail)
			continue
		}
		if err != nil {
			return api.LoginResponse{}, fmt.Errorf("login failed: %w", err)
		}
		if login.RecoveryCodesLeft != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s a recovery code was used: %d left (smartx auth 2fa recovery-codes makes new ones)\n", es.Warn("!"), *login.RecoveryCodesLeft)
		}
		return login, nil
	}
}

// retryableCode reports whether, on a terminal, the user can simply type another code: a wrong
// one, or, for e-mailed codes, an expired one or one past its tries (a new one is an Enter away).
func retryableCode(code api.Code, method api.SecondFactor) bool {
	switch code {
	case api.CodeCodeInvalid:
		return true
	case api.CodeCodeExpired, api.CodeTooManyAttempts:
		return method == api.FactorEmail
	}
	return false
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
