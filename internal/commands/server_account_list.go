package commands

import (
	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/ui"
)

func newServerAccountListCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the accounts",
		Example: `  smartx server account list --data-dir /var/lib/smartx`,
		Args:    noArgs,
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
			accs, err := svc.ListAccounts(cmd.Context())
			if err != nil {
				return err
			}
			return renderServerAccounts(f, format, accs)
		},
	}
}
