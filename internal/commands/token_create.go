package commands

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/ui"
)

type tokenCreateOptions struct {
	name    string
	scopes  []string
	sites   []string
	expires string
}

func newTokenCreateCmd(f *Factory) *cobra.Command {
	o := &tokenCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print its secret, once",
		Example: `  smartx token create --name "weekly export" --scope readings:read --site "Paris HQ" --expires 30d
  smartx token create --name installer-laptop --scope devices:read,devices:write -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenCreate(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.name, "name", "", "what the token is for (required)")
	fs.StringSliceVar(&o.scopes, "scope", nil, "scopes, comma-separated (required): "+api.JoinScopes(api.AllScopes))
	fs.StringSliceVar(&o.sites, "site", nil, "restrict the token to these sites (id or name; repeatable)")
	fs.StringVar(&o.expires, "expires", "", "lifetime (90d, 12h, 2w) or date; default 90 days, at most a year")
	return cmd
}

func runTokenCreate(ctx context.Context, f *Factory, o *tokenCreateOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	if o.name == "" {
		return usageErrorf("--name is required: say what the token is for")
	}
	if len(o.scopes) == 0 {
		return usageErrorf("--scope is required: one or more of %s", api.JoinScopes(api.AllScopes))
	}
	scopes, err := api.ParseScopes(o.scopes)
	if err != nil {
		return &usageError{err: fmt.Errorf("--scope: %w", err)}
	}
	expires, err := parseExpiry(o.expires, f.Now())
	if err != nil {
		return err
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	req := api.CreateTokenRequest{Name: o.name, Scopes: scopes}
	if !expires.IsZero() {
		req.ExpiresAt = &expires
	}
	if req.Sites, err = resolveSiteIDs(ctx, c, o.sites); err != nil {
		return err
	}
	tok, err := c.CreateToken(ctx, req)
	if err != nil {
		return err
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, tok)
	}
	es := f.IO.ErrStyles()
	fmt.Fprintf(f.IO.ErrOut, "%s Token %s %q created: %s, sites %s, expires %s\n", es.OK("✓"), tok.ID, tok.Name,
		api.JoinScopes(tok.Scopes), sitesText(tok.Sites), formatDate(tok.ExpiresAt))
	fmt.Fprintf(f.IO.ErrOut, "%s this is the only time the secret is shown: store it now (the server keeps only a hash)\n", es.Warn("!"))
	_, err = fmt.Fprintln(f.IO.Out, tok.Secret)
	return err
}
