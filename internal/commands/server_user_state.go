package commands

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/ui"
)

// serverUserChange is one of the operator's changes to a user by e-mail, offline: disable,
// enable, delete, reset-2fa. Each is recorded in the account's audit log.
type serverUserChange struct {
	use, short, long, example string
	confirm                   string // asked on a terminal (else --yes is needed); "" for none
	done                      string // printed once made, with the e-mail
	apply                     func(ctx context.Context, svc *server.Service, email string) (server.User, error)
}

func newServerUserChangeCmd(f *Factory, data *serverDataFlags, ch serverUserChange) *cobra.Command {
	var email string
	var yes bool
	cmd := &cobra.Command{
		Use:     ch.use + " --email E",
		Short:   ch.short,
		Long:    ch.long,
		Example: ch.example,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			if email == "" {
				return usageErrorf("--email is required")
			}
			if ch.confirm != "" {
				if err := confirmChange(f, yes, ch.use, func() (string, error) { return fmt.Sprintf(ch.confirm, email), nil }); err != nil {
					return err
				}
			}
			svc, err := openServerService(cmd.Context(), f, data, false)
			if err != nil {
				return err
			}
			defer svc.Close()
			u, err := ch.apply(cmd.Context(), svc, email)
			if err != nil {
				return serverError(err, "user")
			}
			if format == ui.FormatJSON {
				return renderServerUsers(f, format, []server.User{u}, "")
			}
			fmt.Fprintf(f.IO.ErrOut, "%s %s %s.\n", f.IO.ErrStyles().OK("✓"), u.Email, ch.done)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's e-mail address")
	if ch.confirm != "" {
		cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	}
	return cmd
}

func newServerUserStateCmds(f *Factory, data *serverDataFlags) []*cobra.Command {
	return []*cobra.Command{
		newServerUserChangeCmd(f, data, serverUserChange{
			use: "disable", short: "Disable a user: their logins are refused and every token of theirs is revoked",
			example: "  smartx server user disable --data-dir /var/lib/smartx --email leaver@acme.example",
			done:    "is disabled; every token of theirs is revoked",
			apply: func(ctx context.Context, svc *server.Service, email string) (server.User, error) {
				return svc.OperatorSetDisabled(ctx, email, true)
			},
		}),
		newServerUserChangeCmd(f, data, serverUserChange{
			use: "enable", short: "Let a disabled user log in again (their old tokens stay revoked)",
			example: "  smartx server user enable --data-dir /var/lib/smartx --email back@acme.example",
			done:    "can log in again",
			apply: func(ctx context.Context, svc *server.Service, email string) (server.User, error) {
				return svc.OperatorSetDisabled(ctx, email, false)
			},
		}),
		newServerUserChangeCmd(f, data, serverUserChange{
			use: "delete", short: "Delete a user, their token key and every token they made",
			long: `Delete a user: their e-mail, password hash, second factor and recovery codes, and their token
key, so every token they made stops working at once, on every server sharing the database.
Nothing of theirs is left readable in the database files (see docs/security.md).`,
			example: "  smartx server user delete --data-dir /var/lib/smartx --email leaver@acme.example --yes",
			confirm: "Delete user %s and every token they made",
			done:    "is deleted, with their token key and tokens",
			apply: func(ctx context.Context, svc *server.Service, email string) (server.User, error) {
				return svc.OperatorDeleteUser(ctx, email)
			},
		}),
		newServerUserChangeCmd(f, data, serverUserChange{
			use: "reset-2fa", short: "Remove a user's authenticator app and recovery codes (both lost)",
			long: `Remove a user's authenticator app and recovery codes, for a user who lost both: their next
login asks for a code by e-mail. Check who is asking first: this is what an attacker who knows the
password would ask for. The reset is written to the account's audit log and the server log.`,
			example: "  smartx server user reset-2fa --data-dir /var/lib/smartx --email ada@acme.example --yes",
			confirm: "Reset the second factor of %s (they will log in with e-mailed codes)",
			done:    "has no authenticator app any more: their logins ask for e-mailed codes",
			apply: func(ctx context.Context, svc *server.Service, email string) (server.User, error) {
				return svc.OperatorResetTwoFactor(ctx, email)
			},
		}),
	}
}
