package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newUserCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the users of your account (owners and administrators)",
		Long: `Manage the users of your account over the API: list them, add one (with a generated password,
shown once), change a role, disable or enable, delete, or reset a second factor. These need a
token with the admin scope (an owner's or administrator's), valid for every site. Only an owner
manages owners, and nobody changes their own user here: an account always keeps an active owner.

A user is named by e-mail or by id (usr_...).`,
	}
	cmd.AddCommand(newUserListCmd(f), newUserShowCmd(f), newUserAddCmd(f))
	cmd.AddCommand(newUserChangeCmds(f)...)
	return cmd
}

func newUserListCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the account's users, their roles, second factors and states",
		Example: "  smartx user list\n  smartx user list -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			users, err := c.Users(cmd.Context())
			if err != nil {
				return err
			}
			return renderUsers(f, format, users)
		},
	}
}

func newUserShowCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show USER",
		Short:   "Show one user",
		Example: "  smartx user show ana@acme.example",
		Args:    exactArgs(1, "USER (an e-mail or usr_... id)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			u, err := resolveUser(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, u)
			}
			return renderUsers(f, format, []api.User{u})
		},
	}
}

// resolveUser finds a user by id or e-mail.
func resolveUser(ctx context.Context, c *client.Client, ref string) (api.User, error) {
	if strings.HasPrefix(ref, api.PrefixUser) {
		return c.User(ctx, ref)
	}
	users, err := c.Users(ctx)
	if err != nil {
		return api.User{}, err
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, ref) {
			return u, nil
		}
	}
	return api.User{}, fmt.Errorf("no user %q in this account: `smartx user list` shows them", ref)
}

func renderUsers(f *Factory, format ui.Format, users []api.User) error {
	if format == ui.FormatJSON {
		if users == nil {
			users = []api.User{}
		}
		return ui.WriteJSON(f.IO.Out, users)
	}
	t := ui.NewTable(f.IO.Out, f.IO.Styles(), "ID", "EMAIL", "ROLE", "2FA", "STATE", "CREATED")
	for _, u := range users {
		state := "active"
		if u.Disabled {
			state = "disabled"
		}
		t.Row(u.ID, u.Email, string(u.Role), string(u.TwoFactor), state, u.CreatedAt.UTC().Format(time.DateOnly))
	}
	return t.Render()
}

type userAddOptions struct {
	role string
}

func newUserAddCmd(f *Factory) *cobra.Command {
	o := &userAddOptions{}
	cmd := &cobra.Command{
		Use:   "add EMAIL --role ROLE",
		Short: "Add a user with a generated password, shown once",
		Long: `Add a user to your account. The server generates their first password, shown once on standard
output: hand it over safely; they change it with ` + "`smartx auth password`" + ` after their first login,
which asks for a code e-mailed to them. Roles: ` + joinRoles() + ` (only an owner adds an owner).`,
		Example: "  smartx user add ana@acme.example --role analyst\n  smartx user add ops@acme.example --role admin -o json",
		Args:    exactArgs(1, "EMAIL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			role, err := api.ParseRole(o.role)
			if err != nil {
				return usageErrorf("--role: %v", err)
			}
			created, err := c.CreateUser(cmd.Context(), api.CreateUserRequest{Email: args[0], Role: role})
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, created)
			}
			es := f.IO.ErrStyles()
			fmt.Fprintf(f.IO.ErrOut, "%s User %s added as %s (%s)\n", es.OK("✓"), created.Email, created.Role, created.ID)
			fmt.Fprintf(f.IO.ErrOut, "%s this is the only time the password is shown: hand it over safely\n", es.Warn("!"))
			_, err = fmt.Fprintln(f.IO.Out, created.Password)
			return err
		},
	}
	cmd.Flags().StringVar(&o.role, "role", "", "the user's role: "+joinRoles()+" (required)")
	return cmd
}

func joinRoles() string {
	names := make([]string, len(api.AllRoles))
	for i, r := range api.AllRoles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// userChange is one change to a user: set-role, disable, enable, delete, reset-2fa.
type userChange struct {
	use, short, long, example string
	args                      cobra.PositionalArgs
	confirm                   string // a question asked before an irreversible change; "" for none
	done                      string // printed with the user's e-mail once made
	apply                     func(ctx context.Context, c *client.Client, u api.User, args []string) (api.User, error)
}

func newUserChangeCmds(f *Factory) []*cobra.Command {
	changes := []userChange{
		{use: "set-role USER ROLE", short: "Change a user's role (a demotion revokes their tokens)",
			long: `Change a user's role. When the new role grants fewer scopes, every token of the user is revoked:
a token never outranks its user. Only an owner makes someone owner or changes an owner.`,
			example: "  smartx user set-role ana@acme.example support", args: exactArgs(2, "USER ROLE"), done: "now has role %s",
			apply: func(ctx context.Context, c *client.Client, u api.User, args []string) (api.User, error) {
				role, err := api.ParseRole(args[1])
				if err != nil {
					return api.User{}, usageErrorf("%v", err)
				}
				return c.UpdateUser(ctx, u.ID, api.UpdateUserRequest{Role: &role})
			}},
		{use: "disable USER", short: "Disable a user: logins refused, every token of theirs revoked",
			example: "  smartx user disable leaver@acme.example", args: exactArgs(1, "USER"), done: "is disabled; every token of theirs is revoked",
			apply: func(ctx context.Context, c *client.Client, u api.User, _ []string) (api.User, error) {
				return c.SetUserDisabled(ctx, u.ID, true)
			}},
		{use: "enable USER", short: "Let a disabled user log in again (their old tokens stay revoked)",
			example: "  smartx user enable back@acme.example", args: exactArgs(1, "USER"), done: "can log in again",
			apply: func(ctx context.Context, c *client.Client, u api.User, _ []string) (api.User, error) {
				return c.SetUserDisabled(ctx, u.ID, false)
			}},
		{use: "delete USER", short: "Delete a user, their token key and every token they made",
			long: `Delete a user: their e-mail, password, second factor and token key, so every token they made
stops working at once. Nothing of theirs stays readable on the platform. Asks for confirmation on
a terminal; --yes otherwise.`,
			example: "  smartx user delete leaver@acme.example --yes", args: exactArgs(1, "USER"),
			confirm: "Delete user %s (%s) and every token they made? This cannot be undone", done: "is deleted, with their token key and tokens",
			apply: func(ctx context.Context, c *client.Client, u api.User, _ []string) (api.User, error) {
				return u, c.DeleteUser(ctx, u.ID)
			}},
		{use: "reset-2fa USER", short: "Remove a user's authenticator app and recovery codes (owners only)",
			long: `Remove a user's authenticator app and recovery codes, when they lost both: their next login asks
for an e-mailed code. Check who is asking first: this is what an attacker who knows the password
would ask for. Owners only; written to the audit log.`,
			example: "  smartx user reset-2fa ana@acme.example --yes", args: exactArgs(1, "USER"),
			confirm: "Reset the second factor of %s (%s)? Their logins will ask for e-mailed codes", done: "has no authenticator app any more: their logins ask for e-mailed codes",
			apply: func(ctx context.Context, c *client.Client, u api.User, _ []string) (api.User, error) {
				return c.ResetUserTwoFactor(ctx, u.ID)
			}},
	}
	cmds := make([]*cobra.Command, len(changes))
	for i, ch := range changes {
		cmds[i] = newUserChangeCmd(f, ch)
	}
	return cmds
}

func newUserChangeCmd(f *Factory, ch userChange) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     ch.use,
		Short:   ch.short,
		Long:    ch.long,
		Example: ch.example,
		Args:    ch.args,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, c, err := f.tableOrJSONClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			u, err := resolveUser(ctx, c, args[0])
			if err != nil {
				return err
			}
			if ch.confirm != "" {
				if err := confirmChange(f, yes, strings.Fields(ch.use)[0], func() (string, error) { return fmt.Sprintf(ch.confirm, u.Email, u.ID), nil }); err != nil {
					return err
				}
			}
			changed, err := ch.apply(ctx, c, u, args)
			if err != nil {
				return err
			}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, changed)
			}
			done := ch.done
			if strings.Contains(done, "%s") {
				done = fmt.Sprintf(done, changed.Role)
			}
			fmt.Fprintf(f.IO.ErrOut, "%s %s %s\n", f.IO.ErrStyles().OK("✓"), u.Email, done)
			return nil
		},
	}
	if ch.confirm != "" {
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	}
	return cmd
}
