package commands

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newServerUserAddCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	var nu server.NewUser
	var passwordStdin bool
	roles := make([]string, len(api.AllRoles))
	for i, r := range api.AllRoles {
		roles[i] = string(r)
	}
	cmd := &cobra.Command{
		Use:   "add --account ID --email E --role R [--password-stdin]",
		Short: "Add a user to an account; generates a strong password unless one is piped in",
		Example: `  smartx server user add --data-dir /var/lib/smartx --account acc_... --email ops@acme.example --role owner
  pass show smartx/ops | smartx server user add --data-dir /var/lib/smartx --account acc_... --email ops@acme.example --role owner --password-stdin`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			for flag, v := range map[string]string{"--account": nu.AccountID, "--email": nu.Email, "--role": nu.Role} {
				if v == "" {
					return usageErrorf("%s is required", flag)
				}
			}
			if _, err := api.ParseRole(nu.Role); err != nil {
				return usageErrorf("--role: %v", err)
			}
			if passwordStdin {
				if nu.Password, err = readServerPassword(f.IO.In); err != nil {
					return err
				}
			}
			svc, err := openServerService(cmd.Context(), f, data, false)
			if err != nil {
				return err
			}
			defer svc.Close()
			generated := ""
			if !passwordStdin {
				if generated, err = svc.GeneratePassword(); err != nil {
					return err
				}
				nu.Password = generated
			}
			u, err := svc.AddUser(cmd.Context(), nu)
			if err != nil {
				return serverError(err, "account")
			}
			return renderServerUsers(f, format, []server.User{u}, generated)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&nu.AccountID, "account", "", "id of the account (acc_...)")
	fl.StringVar(&nu.Email, "email", "", "the user's e-mail address, their login")
	fl.StringVar(&nu.Role, "role", "", "the user's role: "+strings.Join(roles, ", "))
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}
