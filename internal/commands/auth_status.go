package commands

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/config"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/ui"
)

// authStatus is the JSON shape of `smartx auth status -o json`.
type authStatus struct {
	Profile    string `json:"profile"`
	Server     string `json:"server"`
	ServerFrom string `json:"server_from"`
	TokenFrom  string `json:"token_from"`
	// TokenStore is where the token is kept: "keyring" (the OS credential store), "file" (the
	// configuration file) or "env" (SMARTX_TOKEN).
	TokenStore string `json:"token_store"`
	// TokenLocation names that place: the credential store, the file's path, the variable.
	TokenLocation string        `json:"token_location"`
	User          api.User      `json:"user"`
	Account       api.Account   `json:"account"`
	Token         api.TokenInfo `json:"token"`
}

// tokenLocation says where the resolved token is kept, as a store id and a place for people.
func (f *Factory) tokenLocation(r config.Resolved) (store, location string) {
	switch r.TokenStore {
	case config.TokenInKeyring:
		return config.TokenInKeyring, config.KeyringName(runtime.GOOS)
	case config.TokenInFile:
		dir, err := f.configDir()
		if err != nil {
			return config.TokenInFile, config.FileName
		}
		return config.TokenInFile, filepath.Join(dir, config.FileName)
	}
	return "env", "SMARTX_TOKEN"
}

func newAuthStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the server, user, account, role and token in use, and where the token is kept",
		Example: `  smartx auth status
  smartx auth status -o json | jq -r .token.expires_at`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuthStatus(cmd.Context(), f)
		},
	}
}

func runAuthStatus(ctx context.Context, f *Factory) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	c, r, err := f.apiClient(false)
	if err != nil {
		return err
	}
	who, err := c.WhoAmI(ctx)
	if err != nil {
		return err
	}
	store, location := f.tokenLocation(r)
	st := authStatus{Profile: r.ProfileName, Server: r.Server, ServerFrom: r.ServerFrom, TokenFrom: r.TokenFrom,
		TokenStore: store, TokenLocation: location, User: who.User, Account: who.Account, Token: who.Token}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, st)
	}
	s := f.IO.Styles()
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "  %-9s %s\n", k, v) }
	fmt.Fprintf(&b, "%s %s\n", s.OK("✓"), s.Bold("Logged in to "+r.Server))
	row("profile", fmt.Sprintf("%s (server from %s, token from %s)", r.ProfileName, r.ServerFrom, r.TokenFrom))
	row("user", fmt.Sprintf("%s (%s)", who.User.Email, who.User.Role))
	row("account", fmt.Sprintf("%s (%s)", who.Account.Name, who.Account.ID))
	tok := who.Token
	row("token", fmt.Sprintf("%s %s %s", tok.Kind, tok.ID, quoteName(tok.Name)))
	row("scopes", api.JoinScopes(tok.Scopes))
	if len(tok.Sites) > 0 {
		row("sites", strings.Join(tok.Sites, ", "))
	}
	row("expires", fmt.Sprintf("%s (in %s)", tok.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"), humanUntil(tok.ExpiresAt, f.Now())))
	switch store {
	case config.TokenInFile:
		row("kept in", fmt.Sprintf("%s, with %s (no credential store)", location, secretfile.Protection()))
	case "env":
		row("kept in", "the environment variable SMARTX_TOKEN")
	default:
		row("kept in", location)
	}
	_, err = fmt.Fprint(f.IO.Out, b.String())
	return err
}

func quoteName(n string) string {
	if n == "" {
		return ""
	}
	return fmt.Sprintf("%q", n)
}

// humanUntil says how long until t, coarsely: "11h 42m", "89 days".
func humanUntil(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "the past: expired"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
