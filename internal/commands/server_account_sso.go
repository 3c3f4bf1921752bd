package commands

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newServerAccountSSOCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sso",
		Short: "Link an account to its OpenID Connect identity provider (single sign-on)",
		Long: `Link an account to its OpenID Connect identity provider, so its people sign in with
smartx auth login --sso; owners do the same through the API (PUT /v1/account/sso). See
docs/operator.md for the fields Entra ID, Google Workspace and Keycloak need.`,
		Args: noArgs,
	}
	cmd.AddCommand(newServerAccountSSOSetCmd(f, data), newServerAccountSSOShowCmd(f, data), newServerAccountSSORemoveCmd(f, data))
	return cmd
}

type serverAccountSSOSetOptions struct {
	issuer, clientID string
	secretStdin      bool
	secretFile       string
	domains          []string
	roleClaim        string
	roleMap          []string
	defaultRole      string
	requireSSO       bool
	breakGlass       string
	skipDiscovery    bool
}

func newServerAccountSSOSetCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	o := &serverAccountSSOSetOptions{}
	cmd := &cobra.Command{
		Use:   "set ACCOUNT-ID --issuer URL --client-id ID --client-secret-stdin --domain DOMAIN [flags]",
		Short: "Link an account to its identity provider, or change the link",
		Long: `Link an account to its OpenID Connect identity provider, replacing any link it had. The
provider is discovered from its issuer first (--skip-discovery to store the link while it
cannot be reached). The client secret is read from standard input or a file (never a flag)
and sealed under the account's data key; leave both out to keep the stored secret while the
issuer and client id stay the same.

People of the --domain e-mail domains sign in through the provider; one who is not a user yet
is made one at their first sign-in, with the role of the first --role-map rule whose value
the --role-claim holds, else --default-role (single sign-on never makes owners).
--require-sso refuses password logins to every user of the account but the --break-glass
owner's, who keeps a password for the day the provider is down.`,
		Example: `  echo "$CLIENT_SECRET" | smartx server account sso set acc_... --data-dir /var/lib/smartx \
      --issuer https://login.microsoftonline.com/TENANT-ID/v2.0 --client-id APP-ID --client-secret-stdin \
      --domain acme.example --role-claim roles --role-map smartx.admin=admin --default-role analyst
  smartx server account sso set acc_... --data-dir /var/lib/smartx --issuer ... --client-id ... \
      --domain acme.example --default-role analyst --require-sso --break-glass ops@acme.example`,
		Args: exactlyOneAccount("set"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			req, err := o.request(f)
			if err != nil {
				return err
			}
			svc, err := openServerService(cmd.Context(), f, data, false)
			if err != nil {
				return err
			}
			defer svc.Close()
			if o.breakGlass != "" {
				u, err := svc.UserByEmail(cmd.Context(), o.breakGlass)
				if errors.Is(err, store.ErrNotFound) || (err == nil && u.AccountID != args[0]) {
					return usageErrorf("--break-glass %s is not a user of account %s: name one of its owners", o.breakGlass, args[0])
				}
				if err != nil {
					return err
				}
				req.BreakGlassUserID = u.ID
			}
			out, err := svc.OperatorSetSSO(cmd.Context(), args[0], req)
			if err != nil {
				return ssoOperatorError(err)
			}
			return renderServerSSO(f, format, args[0], out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.issuer, "issuer", "", "the provider's issuer URL, as its discovery document names it")
	fl.StringVar(&o.clientID, "client-id", "", "the client (application) id the provider gave the platform")
	fl.BoolVar(&o.secretStdin, "client-secret-stdin", false, "read the client secret from standard input")
	fl.StringVar(&o.secretFile, "client-secret-file", "", "read the client secret from this file")
	fl.StringSliceVar(&o.domains, "domain", nil, "e-mail domain whose people sign in through the provider (repeat, or separate with commas)")
	fl.StringVar(&o.roleClaim, "role-claim", "", "the claim whose values --role-map maps to roles (groups, roles, realm_access.roles...)")
	fl.StringArrayVar(&o.roleMap, "role-map", nil, "VALUE=ROLE: a claim value and the role it gives (repeat; the first match wins)")
	fl.StringVar(&o.defaultRole, "default-role", "", "role of a user made at first sign-in when no --role-map rule matches (analyst, installer, support, admin)")
	fl.BoolVar(&o.requireSSO, "require-sso", false, "refuse password logins to the account's users, but the --break-glass owner's")
	fl.StringVar(&o.breakGlass, "break-glass", "", "e-mail of the owner who may still log in with a password (required with --require-sso)")
	fl.BoolVar(&o.skipDiscovery, "skip-discovery", false, "store the link without reading the provider's discovery document")
	return cmd
}

// request builds the API request from the flags, reading the secret.
func (o *serverAccountSSOSetOptions) request(f *Factory) (api.SSOSettingsRequest, error) {
	switch {
	case o.issuer == "" || o.clientID == "":
		return api.SSOSettingsRequest{}, usageErrorf("--issuer and --client-id are required: the provider gives them when the platform is registered as a client")
	case len(o.domains) == 0:
		return api.SSOSettingsRequest{}, usageErrorf("--domain is required: the e-mail domains whose people sign in through the provider")
	case o.secretStdin && o.secretFile != "":
		return api.SSOSettingsRequest{}, usageErrorf("--client-secret-stdin and --client-secret-file both give the secret: use one")
	case o.requireSSO && o.breakGlass == "":
		return api.SSOSettingsRequest{}, usageErrorf("--require-sso needs --break-glass OWNER-EMAIL: an owner who can still log in with a password when the provider is down")
	}
	req := api.SSOSettingsRequest{Issuer: o.issuer, ClientID: o.clientID, Domains: o.domains, RoleClaim: o.roleClaim,
		DefaultRole: api.Role(o.defaultRole), RequireSSO: o.requireSSO, SkipDiscovery: o.skipDiscovery}
	for _, rule := range o.roleMap {
		value, role, ok := strings.Cut(rule, "=")
		if !ok || strings.TrimSpace(value) == "" || strings.TrimSpace(role) == "" {
			return api.SSOSettingsRequest{}, usageErrorf("--role-map %q: write VALUE=ROLE, such as smartx-admins=admin", rule)
		}
		req.RoleMap = append(req.RoleMap, api.SSORoleRule{Value: strings.TrimSpace(value), Role: api.Role(strings.TrimSpace(role))})
	}
	var err error
	switch {
	case o.secretStdin:
		if req.ClientSecret, err = f.IO.ReadSecretLine(); err != nil {
			return api.SSOSettingsRequest{}, usageErrorf("--client-secret-stdin: %w", err)
		}
	case o.secretFile != "":
		if req.ClientSecret, err = secretfile.ReadText(o.secretFile); err != nil {
			return api.SSOSettingsRequest{}, usageErrorf("--client-secret-file: %w", err)
		}
		if open, err := secretfile.Exposed(o.secretFile); err == nil && open {
			fmt.Fprintf(f.IO.ErrOut, "%s %s is readable by other users: run `%s`\n", f.IO.ErrStyles().Warn("warning:"), o.secretFile, secretfile.FixHint(o.secretFile))
		}
	}
	return req, nil
}

// ssoOperatorError words the service's refusals for the operator: a validation error names
// the flag, as the API names the field.
func ssoOperatorError(err error) error {
	var ve *server.ValidationError
	if errors.As(err, &ve) {
		flag := map[string]string{"issuer": "--issuer", "client_id": "--client-id", "client_secret": "the client secret",
			"default_role": "--default-role", "role_claim": "--role-claim", "break_glass_user_id": "--break-glass"}[ve.Field]
		if flag == "" {
			switch {
			case strings.HasPrefix(ve.Field, "domains"):
				flag = "--domain"
			case strings.HasPrefix(ve.Field, "role_map"):
				flag = "--role-map"
			default:
				flag = ve.Field
			}
		}
		return usageErrorf("%s %s", flag, ve.Message)
	}
	return serverError(err, "account")
}

func newServerAccountSSOShowCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "show ACCOUNT-ID",
		Short:   "Show an account's link to its identity provider (never the client secret)",
		Example: `  smartx server account sso show acc_... --data-dir /var/lib/smartx -o json`,
		Args:    exactlyOneAccount("show"),
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
			out, err := svc.SSO(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("account %s has no single sign-on (or no such account): link it with `smartx server account sso set`", args[0])
			}
			if err != nil {
				return err
			}
			return renderServerSSO(f, format, args[0], out)
		},
	}
}

func newServerAccountSSORemoveCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "remove ACCOUNT-ID --yes",
		Short: "Unlink an account from its identity provider",
		Long: `Unlink an account from its identity provider: its users' identities and refresh tokens at
the provider are deleted, password logins are allowed again, and the users stay. Users made
at their first sign-in have no password: set one with smartx server user passwd.`,
		Example: `  smartx server account sso remove acc_... --yes --data-dir /var/lib/smartx`,
		Args:    exactlyOneAccount("remove"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usageErrorf("unlinking account %s from its identity provider stops its single sign-on: add --yes to confirm", args[0])
			}
			svc, err := openServerService(cmd.Context(), f, data, false)
			if err != nil {
				return err
			}
			defer svc.Close()
			if err := svc.OperatorRemoveSSO(cmd.Context(), args[0]); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("account %s has no single sign-on (or no such account): nothing to remove", args[0])
			} else if err != nil {
				return err
			}
			_, err = fmt.Fprintf(f.IO.ErrOut, "Account %s no longer signs in through its identity provider; its users stay.\n", args[0])
			return err
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm")
	return cmd
}

// exactlyOneAccount requires the account id of `smartx server account sso VERB`.
func exactlyOneAccount(verb string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("name the account: smartx server account sso %s ACCOUNT-ID (smartx server account list shows them)", verb)
		}
		return nil
	}
}

// serverSSOJSON is the JSON shape of a link in operator commands: the API's, with the account.
type serverSSOJSON struct {
	AccountID string `json:"account_id"`
	api.SSOSettings
}

func renderServerSSO(f *Factory, format ui.Format, accountID string, s api.SSOSettings) error {
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, serverSSOJSON{AccountID: accountID, SSOSettings: s})
	}
	rules := make([]string, len(s.RoleMap))
	for i, r := range s.RoleMap {
		rules[i] = r.Value + "=" + string(r.Role)
	}
	secret := "not set"
	if s.ClientSecretSet {
		secret = "set (sealed)"
	}
	breakGlass := "-"
	if s.BreakGlassEmail != "" {
		breakGlass = s.BreakGlassEmail
	}
	rows := [][2]string{
		{"Account", accountID}, {"Issuer", s.Issuer}, {"Client id", s.ClientID}, {"Client secret", secret},
		{"Domains", strings.Join(s.Domains, ", ")}, {"Role claim", orDash(s.RoleClaim)}, {"Role map", orDash(strings.Join(rules, ", "))},
		{"Default role", orDash(string(s.DefaultRole))}, {"Require SSO", fmt.Sprint(s.RequireSSO)}, {"Break-glass owner", breakGlass},
		{"Updated", s.UpdatedAt.Format(time.RFC3339)},
	}
	for _, kv := range rows {
		if _, err := fmt.Fprintf(f.IO.Out, "%-18s %s\n", kv[0]+":", kv[1]); err != nil {
			return err
		}
	}
	return nil
}
