package commands

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/ui"
)

// serverAccountJSON is the JSON shape of an account in operator commands.
type serverAccountJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func newServerAccountAddCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "add --name NAME",
		Short:   "Create an account (with its own encryption keys)",
		Example: `  smartx server account add --data-dir /var/lib/smartx --name "Acme"`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			if name == "" {
				return usageErrorf("--name is required")
			}
			svc, err := openServerService(cmd.Context(), f, data, true)
			if err != nil {
				return err
			}
			defer svc.Close()
			acc, err := svc.CreateAccount(cmd.Context(), name)
			if err != nil {
				return err
			}
			return renderServerAccounts(f, format, []server.Account{acc})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the account's name, such as the customer's company")
	return cmd
}

func renderServerAccounts(f *Factory, format ui.Format, accs []server.Account) error {
	if format == ui.FormatJSON {
		out := make([]serverAccountJSON, len(accs))
		for i, a := range accs {
			out[i] = serverAccountJSON{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt}
		}
		return ui.WriteJSON(f.IO.Out, out)
	}
	t := f.IO.NewTable("ID", "NAME", "CREATED")
	for _, a := range accs {
		t.Row(a.ID, a.Name, a.CreatedAt.Format(time.RFC3339))
	}
	return t.Render()
}
