package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// Single sign-on through OpenID Connect, per account (docs/security.md, "Single sign-on"). An
// account's link names its provider (issuer, client id, client secret), the e-mail domains it
// signs in, and how the provider's claims map to roles. The settings and the secret are sealed
// under the account's data key; the domains are found by a platform-wide blind index, since a
// sign-in names an e-mail before its account is known. The provider is discovered from its
// issuer and its keys cached (coreos/go-oidc); this file keeps the links, sso_login.go signs
// people in, sso_check.go asks the provider whether they still exist.

// Purposes of the sealed values and blind indexes of single sign-on.
const (
	indexSSODomain  = "sso-domain"  // platform-wide
	indexSSOSubject = "sso-subject" // per account: issuer and subject
	purposeSSOLogin = "sso-login"   // the pending sign-ins' handles, under the platform key
)

func ssoSettingsPurpose(accountID string) string { return "sso-settings/" + accountID }
func ssoSecretPurpose(accountID string) string   { return "sso-client-secret/" + accountID }
func ssoRefreshPurpose(userID string) string     { return "sso-refresh/" + userID }

// Limits of the settings.
const (
	maxSSODomains   = 50
	maxSSORoleRules = 50
	maxSSOSecret    = 1024
)

// ssoSettings is the clear form of store.SSOLink.Sealed.
type ssoSettings struct {
	Issuer      string            `json:"issuer"`
	ClientID    string            `json:"client_id"`
	Domains     []string          `json:"domains"`
	RoleClaim   string            `json:"role_claim,omitempty"`
	RoleMap     []api.SSORoleRule `json:"role_map,omitempty"`
	DefaultRole api.Role          `json:"default_role,omitempty"`
}

// ssoLink is an account's link with its settings and client secret in clear.
type ssoLink struct {
	store.SSOLink
	ssoSettings
	secret string
}

func (s *Service) openSSOLink(ctx context.Context, l store.SSOLink) (ssoLink, error) {
	out := ssoLink{SSOLink: l}
	if err := s.openJSON(ctx, l.AccountID, ssoSettingsPurpose(l.AccountID), l.Sealed, &out.ssoSettings); err != nil {
		return ssoLink{}, err
	}
	secret, err := s.keys.OpenForAccount(ctx, l.AccountID, ssoSecretPurpose(l.AccountID), l.SealedSecret)
	if err != nil {
		return ssoLink{}, errUnreadable("client secret of account "+l.AccountID, err)
	}
	out.secret = string(secret)
	return out, nil
}

func (s *Service) ssoLink(ctx context.Context, accountID string) (ssoLink, error) {
	l, err := s.st.SSOLink(ctx, accountID)
	if err != nil {
		return ssoLink{}, err
	}
	return s.openSSOLink(ctx, l)
}

// ssoDomainIndex is the blind index an e-mail's domain is found by at sign-in.
func (s *Service) ssoDomainIndex(domain string) []byte {
	return s.keys.PlatformIndex(indexSSODomain, strings.ToLower(domain))
}

// checkIssuer accepts an https URL, or http on a loopback address (a provider on this machine,
// for tests): the discovery document and the keys that verify every ID token come from it.
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return invalid("issuer", "%q is not an issuer URL: give the provider's issuer, such as https://login.microsoftonline.com/TENANT/v2.0", issuer)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return invalid("issuer", "%q must be an https:// URL (http:// only on this machine's loopback address)", issuer)
}

// checkDomain normalizes an e-mail domain: lower case, DNS labels, at least one dot.
func checkDomain(field, d string) (string, error) {
	d = strings.ToLower(strings.TrimSpace(d))
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return "", invalid(field, "%q is not an e-mail domain such as acme.example", d)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' || strings.TrimFunc(l, func(r rune) bool {
			return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-'
		}) != "" {
			return "", invalid(field, "%q is not an e-mail domain such as acme.example (ASCII letters, digits and hyphens; IDNs in their xn-- form)", d)
		}
	}
	return d, nil
}

// ssoRole parses a role single sign-on may give: any but owner, whom only an owner makes.
func ssoRole(field string, r api.Role) (api.Role, error) {
	role, err := api.ParseRole(string(r))
	if err != nil {
		return "", invalid(field, "%v", err)
	}
	if role == api.RoleOwner {
		return "", invalid(field, "single sign-on does not make owners: map the claim to admin, and make owners with `smartx user set-role`")
	}
	return role, nil
}

// checkSSOSettings validates a link's settings and returns them normalized.
func checkSSOSettings(req api.SSOSettingsRequest) (ssoSettings, error) {
	out := ssoSettings{Issuer: strings.TrimSpace(req.Issuer), ClientID: strings.TrimSpace(req.ClientID), RoleClaim: strings.TrimSpace(req.RoleClaim)}
	if err := checkIssuer(out.Issuer); err != nil {
		return ssoSettings{}, err
	}
	if err := checkText("client_id", out.ClientID, 255); err != nil {
		return ssoSettings{}, err
	}
	if len(req.Domains) == 0 || len(req.Domains) > maxSSODomains {
		return ssoSettings{}, invalid("domains", "name 1 to %d e-mail domains whose users sign in through the provider", maxSSODomains)
	}
	for i, d := range req.Domains {
		d, err := checkDomain(fmt.Sprintf("domains[%d]", i), d)
		if err != nil {
			return ssoSettings{}, err
		}
		out.Domains = append(out.Domains, d)
	}
	slices.Sort(out.Domains)
	out.Domains = slices.Compact(out.Domains)
	if out.RoleClaim != "" {
		if err := checkText("role_claim", out.RoleClaim, 100); err != nil {
			return ssoSettings{}, err
		}
	}
	if (out.RoleClaim == "") != (len(req.RoleMap) == 0) {
		return ssoSettings{}, invalid("role_map", "a role claim and its rules go together: give both, or neither and a default role")
	}
	if len(req.RoleMap) > maxSSORoleRules {
		return ssoSettings{}, invalid("role_map", "at most %d rules", maxSSORoleRules)
	}
	for i, r := range req.RoleMap {
		value := strings.TrimSpace(r.Value)
		if err := checkText(fmt.Sprintf("role_map[%d].value", i), value, 200); err != nil {
			return ssoSettings{}, err
		}
		role, err := ssoRole(fmt.Sprintf("role_map[%d].role", i), r.Role)
		if err != nil {
			return ssoSettings{}, err
		}
		out.RoleMap = append(out.RoleMap, api.SSORoleRule{Value: value, Role: role})
	}
	if req.DefaultRole != "" {
		role, err := ssoRole("default_role", req.DefaultRole)
		if err != nil {
			return ssoSettings{}, err
		}
		out.DefaultRole = role
	}
	if out.DefaultRole == "" && len(out.RoleMap) == 0 {
		return ssoSettings{}, invalid("default_role", "give a default role, or a role claim with rules: a user made at first sign-in needs a role")
	}
	return out, nil
}

// SetSSO links an account to its OpenID Connect provider, replacing any link it had. Unless
// req.SkipDiscovery, the provider's discovery document is read first, so a mistyped issuer is
// refused now rather than at the first sign-in. A new issuer or client id needs the client
// secret again, and a new issuer forgets the users' identities at the old one.
func (s *Service) SetSSO(ctx context.Context, accountID string, req api.SSOSettingsRequest) (api.SSOSettings, error) {
	settings, err := checkSSOSettings(req)
	if err != nil {
		return api.SSOSettings{}, err
	}
	secret := strings.TrimSpace(req.ClientSecret)
	if len(secret) > maxSSOSecret || strings.IndexFunc(secret, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return api.SSOSettings{}, invalid("client_secret", "must be at most %d printable characters", maxSSOSecret)
	}
	if _, err := s.account(ctx, accountID); err != nil {
		return api.SSOSettings{}, err
	}
	old, err := s.ssoLink(ctx, accountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return api.SSOSettings{}, err
	case secret == "" && old.Issuer == settings.Issuer && old.ClientID == settings.ClientID:
		secret = old.secret
	}
	if secret == "" {
		return api.SSOSettings{}, invalid("client_secret", "must not be empty: the provider gives it with the client id")
	}
	if req.RequireSSO && req.BreakGlassUserID == "" {
		return api.SSOSettings{}, invalid("break_glass_user_id", "requiring single sign-on needs a break-glass owner, who can still log in with a password when the provider is down")
	}
	if req.BreakGlassUserID != "" {
		u, err := s.user(ctx, accountID, req.BreakGlassUserID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Role != api.RoleOwner || u.Disabled() || u.PasswordHash == "")) {
			return api.SSOSettings{}, invalid("break_glass_user_id", "must be an active owner of the account with a password")
		}
		if err != nil {
			return api.SSOSettings{}, err
		}
	}
	if !req.SkipDiscovery {
		if _, err := s.sso.get(ctx, settings.Issuer); err != nil {
			return api.SSOSettings{}, err
		}
	}
	now := s.nowUTC()
	l := store.SSOLink{AccountID: accountID, RequireSSO: req.RequireSSO, BreakGlassUserID: req.BreakGlassUserID, CreatedAt: now, UpdatedAt: now}
	if l.Sealed, err = s.sealJSON(ctx, accountID, ssoSettingsPurpose(accountID), settings); err != nil {
		return api.SSOSettings{}, err
	}
	if l.SealedSecret, err = s.keys.SealForAccount(ctx, accountID, ssoSecretPurpose(accountID), []byte(secret)); err != nil {
		return api.SSOSettings{}, err
	}
	domains := make([][]byte, len(settings.Domains))
	for i, d := range settings.Domains {
		domains[i] = s.ssoDomainIndex(d)
	}
	if old.Issuer != "" && old.Issuer != settings.Issuer {
		// Subjects are the old provider's: its users are found by e-mail again.
		if err := s.st.DeleteSSOLink(ctx, accountID); err != nil {
			return api.SSOSettings{}, err
		}
	}
	if err := s.st.SetSSOLink(ctx, l, domains); errors.Is(err, store.ErrConflict) {
		return api.SSOSettings{}, newProblemError(api.CodeConflict, "one of these domains already signs in to another account: a domain signs in to one account")
	} else if err != nil {
		return api.SSOSettings{}, err
	}
	return s.SSO(ctx, accountID)
}

// SSO returns an account's link as the API shows it (never the secret); ErrNotFound without one.
func (s *Service) SSO(ctx context.Context, accountID string) (api.SSOSettings, error) {
	l, err := s.ssoLink(ctx, accountID)
	if err != nil {
		return api.SSOSettings{}, err
	}
	out := api.SSOSettings{Issuer: l.Issuer, ClientID: l.ClientID, ClientSecretSet: l.secret != "", Domains: l.Domains, RoleClaim: l.RoleClaim,
		RoleMap: l.RoleMap, DefaultRole: l.DefaultRole, RequireSSO: l.RequireSSO, BreakGlassUserID: l.BreakGlassUserID,
		CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
	if l.BreakGlassUserID != "" {
		if u, err := s.user(ctx, accountID, l.BreakGlassUserID); err == nil {
			out.BreakGlassEmail = u.Email
		}
	}
	return out, nil
}

// RemoveSSO unlinks an account from its provider: its users' identities and refresh tokens go
// with the link; the users stay, and those made at sign-in have no password until one is set.
func (s *Service) RemoveSSO(ctx context.Context, accountID string) error {
	return s.st.DeleteSSOLink(ctx, accountID)
}

// checkPasswordAllowed refuses a password login to a user of an account that requires single
// sign-on, unless they are its break-glass owner.
func (s *Service) checkPasswordAllowed(ctx context.Context, u store.User) error {
	l, err := s.st.SSOLink(ctx, u.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.RequireSSO && u.ID != l.BreakGlassUserID {
		return codeProblem(api.CodeSSORequired, "your account signs in through its identity provider, not with a password: run `smartx auth login --sso`")
	}
	return nil
}

// ownerCaller returns the caller's user when it is an owner with an account-wide token: only
// owners change how their account signs in.
func (s *Service) ownerCaller(ctx context.Context, caller store.Token, what string) (User, error) {
	if err := checkAccountWide(caller, what); err != nil {
		return User{}, err
	}
	me, err := s.callerUser(ctx, caller)
	if err != nil {
		return User{}, err
	}
	if me.Role != api.RoleOwner {
		return User{}, forbidden("only an owner can " + what)
	}
	return me, nil
}

// AccountSSO returns the caller's account's link (owners only).
func (s *Service) AccountSSO(ctx context.Context, caller store.Token) (api.SSOSettings, error) {
	if _, err := s.ownerCaller(ctx, caller, "see single sign-on"); err != nil {
		return api.SSOSettings{}, err
	}
	return s.SSO(ctx, caller.AccountID)
}

// SetAccountSSO links the caller's account to its provider (owners only).
func (s *Service) SetAccountSSO(ctx context.Context, caller store.Token, req api.SSOSettingsRequest) (api.SSOSettings, error) {
	me, err := s.ownerCaller(ctx, caller, "change single sign-on")
	if err != nil {
		return api.SSOSettings{}, err
	}
	out, err := s.SetSSO(ctx, caller.AccountID, req)
	if err == nil {
		s.log.Info("single sign-on linked", "account", caller.AccountID, "by", me.ID, "require_sso", out.RequireSSO)
	}
	return out, err
}

// RemoveAccountSSO unlinks the caller's account from its provider (owners only).
func (s *Service) RemoveAccountSSO(ctx context.Context, caller store.Token) error {
	me, err := s.ownerCaller(ctx, caller, "remove single sign-on")
	if err != nil {
		return err
	}
	if err := s.RemoveSSO(ctx, caller.AccountID); err != nil {
		return err
	}
	s.log.Info("single sign-on removed", "account", caller.AccountID, "by", me.ID)
	return nil
}

// OperatorSetSSO links an account from the operator's command line, recorded in its audit log.
func (s *Service) OperatorSetSSO(ctx context.Context, accountID string, req api.SSOSettingsRequest) (api.SSOSettings, error) {
	out, err := s.SetSSO(ctx, accountID, req)
	if err != nil {
		return out, err
	}
	return out, s.auditEvent(ctx, operatorMethod, accountID, "", "smartx server account sso set", http.StatusOK)
}

// OperatorRemoveSSO unlinks an account from the operator's command line, recorded in its audit
// log.
func (s *Service) OperatorRemoveSSO(ctx context.Context, accountID string) error {
	if err := s.RemoveSSO(ctx, accountID); err != nil {
		return err
	}
	return s.auditEvent(ctx, operatorMethod, accountID, "", "smartx server account sso remove", http.StatusOK)
}

// providerTTL is how long a discovered provider is kept before its discovery document is read
// again; its keys are cached by go-oidc and fetched again when a token names an unknown key.
const providerTTL = time.Hour

// ssoProviders caches the discovered providers by issuer.
type ssoProviders struct {
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]cachedProvider
}

type cachedProvider struct {
	p  *oidc.Provider
	at time.Time
}

func newSSOProviders(client *http.Client, now func() time.Time) *ssoProviders {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &ssoProviders{client: client, now: now, m: map[string]cachedProvider{}}
}

// ctx carries the HTTP client go-oidc and x/oauth2 use to reach providers.
func (p *ssoProviders) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

// get returns the provider of issuer, discovering it when it is not cached or too old.
func (p *ssoProviders) get(ctx context.Context, issuer string) (*oidc.Provider, error) {
	p.mu.Lock()
	c, ok := p.m[issuer]
	p.mu.Unlock()
	if ok && p.now().Sub(c.at) < providerTTL {
		return c.p, nil
	}
	dctx, cancel := context.WithTimeout(p.ctx(ctx), 15*time.Second)
	defer cancel()
	prov, err := oidc.NewProvider(dctx, issuer)
	if err != nil {
		return nil, codeProblem(api.CodeSSOUnavailable, fmt.Sprintf("the identity provider %s could not be discovered (%s/.well-known/openid-configuration): %s",
			issuer, strings.TrimSuffix(issuer, "/"), oneLine(err)))
	}
	p.mu.Lock()
	p.m[issuer] = cachedProvider{p: prov, at: p.now()}
	p.mu.Unlock()
	return prov, nil
}

// oneLine keeps an error from a provider or a library on one line, without its "oidc: "
// prefix, for a problem's detail.
func oneLine(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = strings.TrimPrefix(msg, "oidc: ")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}
