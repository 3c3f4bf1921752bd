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
		Args:  exactArgs(1, "the token id (tok_...)"),
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
	if !o.yes {
		if !f.IO.CanPrompt() {
			return usageErrorf("revoking cannot be undone: confirm with --yes")
		}
		t, err := c.Token(ctx, id)
		if err != nil {
			return err
		}
		ok, err := f.IO.Confirm(fmt.Sprintf("Revoke token %s %q (%s)? Anything using it stops working", t.ID, t.Name, api.JoinScopes(t.Scopes)))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("not revoked")
		}
	}
	if err := c.RevokeToken(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s Token %s revoked\n", f.IO.ErrStyles().OK("✓"), id)
	return nil
}
