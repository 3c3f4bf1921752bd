package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/ui"
)

type tokenCreateOptions struct {
	name    string
	scopes  []string
	sites   []string
	expires string
	login   bool
	credentialInputs
}

func newTokenCreateCmd(f *Factory) *cobra.Command {
	o := &tokenCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print its secret, once",
		Long: `Create an API token and print its secret, once: the server keeps only a hash.

A token made with a session or another token is its child: never wider than it, never
outliving it, revoked with it (a logout ends the tokens its session made). For a token that
lives on its own, up to a year, for an unattended script, make it with a login: --login asks for
your e-mail, password and second factor, as smartx auth login does (site restrictions are then
given by id).`,
		Example: `  smartx token create --name "weekly export" --scope readings:read --site "Paris HQ" --expires 30d
  smartx token create --name installer-laptop --scope devices:read,devices:write -o json
  smartx token create --login --email ops@acme.example --name nightly-export --scope readings:read --expires 180d`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenCreate(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.name, "name", "", "what the token is for (required)")
	fs.StringSliceVar(&o.scopes, "scope", nil, "scopes, comma-separated (required): "+api.JoinScopes(api.AllScopes))
	fs.StringSliceVar(&o.sites, "site", nil, "restrict the token to these sites (id or name; repeatable)")
	fs.StringVar(&o.expires, "expires", "", "lifetime (90d, 12h, 2w) or date; default 90 days (or the creating token's end), at most a year")
	fs.BoolVar(&o.login, "login", false, "make a token of its own with a login (e-mail, password, second factor) instead of the current session")
	o.bind(fs)
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
	if !o.login && (o.email != "" || o.passwordStdin || o.codeStdin) {
		return usageErrorf("--email, --password-stdin and --code-stdin go with --login")
	}
	req := api.CreateTokenRequest{Name: o.name, Scopes: scopes}
	if !expires.IsZero() {
		req.ExpiresAt = &expires
	}
	var tok api.CreateTokenResponse
	if o.login {
		if tok, err = createTokenByLogin(ctx, f, o, req); err != nil {
			return err
		}
	} else {
		c, _, err := f.apiClient(false)
		if err != nil {
			return err
		}
		if req.Sites, err = resolveSiteIDs(ctx, c, o.sites); err != nil {
			return err
		}
		if tok, err = c.CreateToken(ctx, req); err != nil {
			return err
		}
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, tok)
	}
	es := f.IO.ErrStyles()
	fmt.Fprintf(f.IO.ErrOut, "%s Token %s %q created: %s, sites %s, expires %s\n", es.OK("✓"), tok.ID, tok.Name,
		api.JoinScopes(tok.Scopes), sitesText(o.sites), formatDate(tok.ExpiresAt))
	fmt.Fprintf(f.IO.ErrOut, "%s this is the only time the secret is shown: store it now (the server keeps only a hash)\n", es.Warn("!"))
	_, err = fmt.Fprintln(f.IO.Out, tok.Secret)
	return err
}

// createTokenByLogin mints a root token through a login: no session is needed, and the token
// outlives none.
func createTokenByLogin(ctx context.Context, f *Factory, o *tokenCreateOptions, req api.CreateTokenRequest) (api.CreateTokenResponse, error) {
	for _, s := range o.sites {
		if !strings.HasPrefix(s, api.PrefixSite) {
			return api.CreateTokenResponse{}, usageErrorf("with --login, give sites by id (%s...): %q needs a session to be looked up", api.PrefixSite, s)
		}
	}
	req.Sites = o.sites
	c, r, err := f.apiClient(true)
	if err != nil {
		return api.CreateTokenResponse{}, err
	}
	login, err := passwordLogin(ctx, f, c, r.Server, o.credentialInputs, &req)
	if err != nil {
		return api.CreateTokenResponse{}, err
	}
	// The new token itself tells its metadata.
	c2, err := f.newClient(clientOptions(r.Server, r.CAFile, login.Token))
	if err != nil {
		return api.CreateTokenResponse{}, err
	}
	info, err := c2.Token(ctx, login.TokenID)
	if err != nil {
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || apiErr.Code() != api.CodeInsufficientScope {
			return api.CreateTokenResponse{}, err
		}
		// Without tokens:write the token cannot read itself: what the login answered will do.
		info = api.TokenInfo{ID: login.TokenID, Kind: login.Kind, Name: req.Name, UserID: login.User.ID, Scopes: req.Scopes, Sites: req.Sites,
			ExpiresAt: login.ExpiresAt}
	}
	return api.CreateTokenResponse{TokenInfo: info, Secret: login.Token}, nil
}
