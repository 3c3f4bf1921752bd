package commands

import (
	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/ui"
)

func newServerUserListCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	var account string
	cmd := &cobra.Command{
		Use:   "list [--account ID]",
		Short: "List users, of one account or of all",
		Example: `  smartx server user list --data-dir /var/lib/smartx
  smartx server user list --data-dir /var/lib/smartx --account acc_3kq1 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			svc, err := openServerService(cmd.Context(), f, data, false)
			if err != nil {
				return err
			}
			defer svc.Close()
			users, err := svc.ListUsers(cmd.Context(), account)
			if err != nil {
				return err
			}
			return renderServerUsers(f, format, users, "")
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "only this account's users")
	return cmd
}
