package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newAuth2FACmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "2fa",
		Short: "See and change your second factor: e-mailed codes, or an authenticator app",
		Long: `Every password login asks for a second factor. By default the server e-mails a 6-digit code;
enrolling an authenticator app (TOTP: Google Authenticator, Aegis, 1Password...) replaces it, with
ten one-time recovery codes for the day the phone is lost. If both are lost, an owner of your
account (or the server's operator) resets your second factor.

Changes need a login session (smartx auth login), not an API token.`,
	}
	cmd.AddCommand(newAuth2FAStatusCmd(f), newAuth2FAEnrollCmd(f), newAuth2FADisableCmd(f), newAuth2FARecoveryCodesCmd(f))
	return cmd
}

func newAuth2FAStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show which second factor your logins ask for",
		Example: "  smartx auth 2fa status\n  smartx auth 2fa status -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			st, err := c.TwoFactor(cmd.Context())
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, st)
			}
			factor := "a code e-mailed at each login"
			if st.Method == api.FactorTOTP {
				factor = fmt.Sprintf("an authenticator app (TOTP), since %s; %s left", formatDate(*st.TOTP.EnabledAt),
					ui.Plural(st.RecoveryCodesLeft, "recovery code"))
			}
			rows := [][2]string{{"second factor", factor}}
			if st.TOTP.Pending {
				rows = append(rows, [2]string{"enrolment", "pending: finish it with `smartx auth 2fa enroll --confirm`"})
			}
			if !st.EmailAvailable {
				rows = append(rows, [2]string{"e-mail", "this server sends no e-mail: keep your authenticator app"})
			}
			for _, r := range rows {
				fmt.Fprintf(f.IO.Out, "%-15s %s\n", r[0], r[1])
			}
			return nil
		},
	}
}

type auth2FAEnrollOptions struct {
	confirm   bool
	codeStdin bool
}

func newAuth2FAEnrollCmd(f *Factory) *cobra.Command {
	o := &auth2FAEnrollOptions{}
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Enrol an authenticator app (TOTP) in place of e-mailed codes",
		Long: `Start enrolling an authenticator app: smartx shows the secret as an otpauth:// URI and a QR code
to scan, asks for the first code the app shows, and prints ten recovery codes, once: store them
somewhere safe, each replaces a code once if the phone is lost.

Without a terminal, the secret is printed (-o json for scripts) and the enrolment stays pending
until ` + "`smartx auth 2fa enroll --confirm --code-stdin`" + ` gets a first code.`,
		Example: `  smartx auth 2fa enroll
  smartx auth 2fa enroll -o json > totp.json   # then, with the app's code:
  smartx auth 2fa enroll --confirm --code-stdin < code.txt`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuth2FAEnroll(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.confirm, "confirm", false, "finish a pending enrolment with the app's first code")
	cmd.Flags().BoolVar(&o.codeStdin, "code-stdin", false, "read the code from standard input")
	return cmd
}

func runAuth2FAEnroll(ctx context.Context, f *Factory, o *auth2FAEnrollOptions) error {
	format, c, err := f.tableOrJSONClient()
	if err != nil {
		return err
	}
	if !o.confirm {
		e, err := c.StartTOTP(ctx)
		if err != nil {
			return err
		}
		if format == ui.FormatJSON {
			if err := ui.WriteJSON(f.IO.Out, e); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(f.IO.Out, "Scan this QR code with your authenticator app, or enter the secret by hand.\n\n")
			if err := ui.WriteQR(f.IO.Out, e.URI, f.IO.UTF8()); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "\n  secret   %s\n  account  %s (issuer %s, %d digits every %d s, %s)\n  URI      %s\n\n",
				e.Secret, e.Account, e.Issuer, e.Digits, e.Period, e.Algorithm, e.URI)
		}
		if !o.codeStdin && !f.IO.CanPrompt() {
			fmt.Fprintf(f.IO.ErrOut, "The enrolment is pending: finish it with `smartx auth 2fa enroll --confirm --code-stdin` and the app's code.\n")
			return nil
		}
	}
	code, err := readCode(f, o.codeStdin, "Code shown by the app")
	if err != nil {
		return err
	}
	codes, err := c.ConfirmTOTP(ctx, code)
	if err != nil {
		return err
	}
	return printRecoveryCodes(f, format, codes, "Authenticator app enrolled: your logins now ask for its code.")
}

// readCode reads a code from standard input or the terminal.
func readCode(f *Factory, fromStdin bool, question string) (string, error) {
	if fromStdin {
		code, err := f.IO.ReadSecretLine()
		if err != nil {
			return "", usageErrorf("--code-stdin: %w", err)
		}
		return strings.TrimSpace(code), nil
	}
	code, err := f.IO.Prompt(question)
	if errors.Is(err, ui.ErrNoTerminal) {
		return "", usageErrorf("no terminal to ask the code: pass it on standard input with --code-stdin")
	}
	if err == nil && code == "" {
		err = usageErrorf("no code given")
	}
	return code, err
}

// printRecoveryCodes shows recovery codes once: on standard output, with the warning on stderr.
func printRecoveryCodes(f *Factory, format ui.Format, codes api.RecoveryCodes, done string) error {
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, codes)
	}
	es := f.IO.ErrStyles()
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", es.OK("✓"), done)
	fmt.Fprintf(f.IO.ErrOut, "%s these recovery codes are shown once: store them apart from your phone; each replaces a code once\n", es.Warn("!"))
	for _, c := range codes.RecoveryCodes {
		fmt.Fprintln(f.IO.Out, c)
	}
	return nil
}

type authCodeOptions struct {
	codeStdin bool
}

func newAuth2FADisableCmd(f *Factory) *cobra.Command {
	o := &authCodeOptions{}
	cmd := &cobra.Command{
		Use:   "disable",
		Short: "Turn the authenticator app off: logins go back to e-mailed codes",
		Long: `Turn your authenticator app off; it takes a current code of the app, or one of your recovery
codes. Your next logins ask for a code by e-mail again.`,
		Example: "  smartx auth 2fa disable",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := f.apiClient(false)
			if err != nil {
				return err
			}
			code, err := readCode(f, o.codeStdin, "Code of the app (or a recovery code)")
			if err != nil {
				return err
			}
			if err := c.DisableTOTP(cmd.Context(), code); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "%s Authenticator app disabled: your logins now ask for a code by e-mail.\n", f.IO.ErrStyles().OK("✓"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.codeStdin, "code-stdin", false, "read the code from standard input")
	return cmd
}

func newAuth2FARecoveryCodesCmd(f *Factory) *cobra.Command {
	o := &authCodeOptions{}
	cmd := &cobra.Command{
		Use:   "recovery-codes",
		Short: "Replace your recovery codes with ten new ones",
		Long: `Make ten new recovery codes (the old ones stop working); it takes a current code of your
authenticator app. The codes are shown once.`,
		Example: "  smartx auth 2fa recovery-codes > codes.txt",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			code, err := readCode(f, o.codeStdin, "Code of the app")
			if err != nil {
				return err
			}
			codes, err := c.RegenerateRecoveryCodes(cmd.Context(), code)
			if err != nil {
				return err
			}
			return printRecoveryCodes(f, format, codes, "New recovery codes made; the old ones no longer work.")
		},
	}
	cmd.Flags().BoolVar(&o.codeStdin, "code-stdin", false, "read the code from standard input")
	return cmd
}

type authPasswordOptions struct {
	passwordStdin bool
}

func newAuthPasswordCmd(f *Factory) *cobra.Command {
	o := &authPasswordOptions{}
	cmd := &cobra.Command{
		Use:   "password",
		Short: "Change your password (every session ends: log in again)",
		Long: `Change your password: smartx asks for the current one and the new one twice. The new one
follows the platform's policy (at least 12 characters, not common, not a pattern; a few unrelated
words make a good one). Every session of yours ends, with the tokens they minted; tokens a login
minted stay valid. With --password-stdin, standard input holds the current password, then the
new one, a line each.`,
		Example: "  smartx auth password",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuthPassword(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.passwordStdin, "password-stdin", false, "read the current and the new password from standard input, a line each")
	return cmd
}

func runAuthPassword(ctx context.Context, f *Factory, o *authPasswordOptions) error {
	c, r, err := f.apiClient(false)
	if err != nil {
		return err
	}
	var current, next string
	if o.passwordStdin {
		if current, err = f.IO.ReadSecretLine(); err == nil {
			next, err = f.IO.ReadSecretLine()
		}
		if err != nil {
			return usageErrorf("--password-stdin: %w (give the current password, then the new one, a line each)", err)
		}
	} else {
		if current, err = f.IO.PromptSecret("Current password"); errors.Is(err, ui.ErrNoTerminal) {
			return usageErrorf("no terminal to ask the passwords: give them on standard input with --password-stdin")
		} else if err != nil {
			return err
		}
		if next, err = f.IO.PromptSecret("New password"); err != nil {
			return err
		}
		again, err := f.IO.PromptSecret("New password again")
		if err != nil {
			return err
		}
		if again != next {
			return usageErrorf("the two new passwords differ: nothing was changed")
		}
	}
	if err := c.ChangePassword(ctx, current, next); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Password changed. Your sessions ended: run `smartx auth login` (profile %q).\n", f.IO.ErrStyles().OK("✓"), r.ProfileName)
	return nil
}
