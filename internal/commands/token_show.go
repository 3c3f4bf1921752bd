package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newTokenShowCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Short:   "Show one token's metadata",
		Example: `  smartx token show tok_2Qx8dTq1`,
		Args:    exactArgs(1, "the token id (tok_...)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenShow(cmd.Context(), f, args[0])
		},
	}
}

func runTokenShow(ctx context.Context, f *Factory, id string) error {
	format, c, err := f.tableOrJSONClient()
	if err != nil {
		return err
	}
	t, err := c.Token(ctx, id)
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, t)
	}
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-10s %s\n", k, v) }
	row("id", t.ID)
	row("name", t.Name)
	row("kind", string(t.Kind))
	owners := userEmails(ctx, c, false)
	if owners[t.UserID] == "" { // another user's token (admin): the list names them
		owners = userEmails(ctx, c, true)
	}
	row("owner", owners.label(t.UserID))
	row("scopes", api.JoinScopes(t.Scopes))
	row("sites", siteNames(ctx, c).labels(t.Sites))
	row("created", formatDate(t.CreatedAt))
	row("expires", formatDate(t.ExpiresAt))
	row("last used", formatOptionalDate(t.LastUsedAt))
	status := tokenStatus(t, f.Now())
	if t.RevokedAt != nil {
		status += " at " + formatDate(*t.RevokedAt)
	}
	row("status", status)
	_, err = fmt.Fprint(f.IO.Out, b.String())
	return err
}
