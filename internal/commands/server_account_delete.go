package commands

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newServerAccountDeleteCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete ACCOUNT-ID --yes",
		Short: "Delete an account and everything it owns: users, tokens, keys, audit log",
		Long: `Delete an account and everything it owns, in one transaction: its users, their tokens,
the account's keys and its audit log (and its sites, devices and readings). Its tokens stop
working on the next request, even on a running server. There is no undo.`,
		Example: `  smartx server account delete acc_... --yes --data-dir /var/lib/smartx`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("name the account to delete: smartx server account delete ACCOUNT-ID --yes")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usageErrorf("deleting account %s deletes all its users, tokens and data for good: add --yes to confirm", args[0])
			}
			svc, err := openServerService(cmd.Context(), f, data, false)
			if err != nil {
				return err
			}
			defer svc.Close()
			if err := svc.DeleteAccount(cmd.Context(), args[0]); err != nil {
				return serverError(err, "account")
			}
			_, err = fmt.Fprintf(f.IO.ErrOut, "Deleted account %s and everything it owned; its data key is destroyed, so nothing sealed under it can be read again.\n", args[0])
			return err
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}
