package commands

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/ui"
)

type tokenListOptions struct {
	all  bool
	kind string
}

func newTokenListCmd(f *Factory) *cobra.Command {
	o := &tokenListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (metadata only: secrets are never shown again)",
		Long: `List your API tokens (--all: every user's, with the admin scope), with their owner, scopes,
the sites they are restricted to (by name), expiry, last use and status.`,
		Example: `  smartx token list
  smartx token list --all --kind all
  smartx token list -o json | jq -r '.[] | select(.revoked | not) | .name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenList(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.all, "all", false, "every user's tokens (needs the admin scope)")
	cmd.Flags().StringVar(&o.kind, "kind", "api", "api, session or all")
	return cmd
}

func runTokenList(ctx context.Context, f *Factory, o *tokenListOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	switch o.kind {
	case "api", "session", "all":
	default:
		return usageErrorf("--kind %q: use api, session or all", o.kind)
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	opts := client.TokenListOptions{Kind: o.kind}
	if o.all {
		opts.User = "all"
	}
	toks, err := c.Tokens(ctx, opts)
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		if toks == nil {
			toks = []api.TokenInfo{}
		}
		return ui.WriteJSON(f.IO.Out, toks)
	}
	st := f.IO.Styles()
	now := f.Now()
	sites, owners := siteNames(ctx, c), userEmails(ctx, c, o.all)
	tbl := f.IO.NewTable("id", "name", "owner", "scopes", "sites", "created", "expires", "last used", "status")
	tbl.KeepWhole(0)
	for _, t := range toks {
		status := tokenStatus(t, now)
		switch status {
		case "active":
			status = st.OK(status)
		default:
			status = st.Muted(status)
		}
		tbl.Row(t.ID, t.Name, owners.label(t.UserID), api.JoinScopes(t.Scopes), sites.labels(t.Sites), formatDate(t.CreatedAt), formatDate(t.ExpiresAt), formatOptionalDate(t.LastUsedAt), status)
	}
	if tbl.Len() == 0 {
		_, err := f.IO.ErrOut.Write([]byte("no tokens: create one with `smartx token create`\n"))
		return err
	}
	return tbl.Render()
}
