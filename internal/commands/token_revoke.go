package commands

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
)

type tokenRevokeOptions struct {
	yes bool
}

func newTokenRevokeCmd(f *Factory) *cobra.Command {
	o := &tokenRevokeOptions{}
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once: its next request is refused",
		Long: `Revoke a token: the very next request that presents it is refused. On a terminal you are
asked to confirm; elsewhere --yes is required.`,
		Example: `  smartx token revoke tok_2Qx8dTq1
  smartx token list -o json | jq -r '.[] | select(.name == "ci") | .id' | xargs smartx token revoke --yes`,
		Args: exactArgs(1, "the token id (tok_...)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenRevoke(cmd.Context(), f, o, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runTokenRevoke(ctx context.Context, f *Factory, o *tokenRevokeOptions, id string) error {
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	err = confirmChange(f, o.yes, "revoking", func() (string, error) {
		t, err := c.Token(ctx, id)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Revoke token %s %q (%s) and every token made with it? Anything using them stops working", t.ID, t.Name, api.JoinScopes(t.Scopes)), nil
	})
	if err != nil {
		return err
	}
	if err := c.RevokeToken(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Token %s revoked\n", f.IO.ErrStyles().OK("✓"), id)
	return nil
}
