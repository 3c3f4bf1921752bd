package commands

import (
	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newServerUserPasswdCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	var email string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "passwd --email E [--password-stdin]",
		Short: "Set a user's password and end their sessions; generates one unless piped in",
		Example: `  smartx server user passwd --data-dir /var/lib/smartx --email ops@acme.example
  smartx server user passwd --data-dir /var/lib/smartx --email ops@acme.example --password-stdin < new.txt`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			if email == "" {
				return usageErrorf("--email is required")
			}
			password := ""
			if passwordStdin {
				if password, err = readServerPassword(f.IO.In); err != nil {
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
				password = generated
			}
			u, err := svc.SetPassword(cmd.Context(), email, password)
			if err != nil {
				return serverError(err, "user")
			}
			return renderServerUsers(f, format, []server.User{u}, generated)
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's e-mail address")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}
