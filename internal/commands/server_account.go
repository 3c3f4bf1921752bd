package commands

import (
	"github.com/spf13/cobra"
)

func newServerAccountCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Manage the server's accounts, working on its data directory",
		Args:  noArgs,
	}
	cmd.AddCommand(
		newServerAccountAddCmd(f, data),
		newServerAccountListCmd(f, data),
		newServerAccountDeleteCmd(f, data),
		newServerAccountSSOCmd(f, data),
	)
	return cmd
}
