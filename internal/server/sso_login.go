package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// A sign-in through the account's provider (docs/security.md, "Single sign-on"):
//
//  1. The client (smartx auth login --sso) listens on a loopback port, draws a PKCE verifier,
//     and asks StartSSO for the provider's authorization URL with its e-mail (whose domain
//     names the account), its redirect URI and the verifier's challenge. The server draws the
//     state and the nonce and seals them, with the account and the redirect URI, into a handle
//     only a server holding the master key can open: any replica can finish the sign-in, and
//     nothing is stored until it succeeds.
//  2. The person signs in at the provider in a browser, which is redirected to the loopback
//     listener with a code and the state.
//  3. The client sends the code, the state, the verifier and the handle to FinishSSO. The
//     server exchanges the code at the provider's token endpoint with the client secret, which
//     never leaves it, verifies the ID token (signature against the provider's published keys,
//     issuer, audience, expiry, nonce), checks the e-mail's domain, finds or creates the user,
//     and answers an ordinary session, with the scopes of the user's role.
//
// The device authorization grant (RFC 8628) replaces steps 1 and 2 for a machine without a
// browser: StartSSODevice asks the provider for a user code, and PollSSODevice waits for the
// person to enter it; step 3 follows in the server. That grant has no nonce: its ID token comes
// from the token endpoint straight to the server.

// ssoHandle is what a sign-in's handle carries, sealed under the platform key.
type ssoHandle struct {
	Kind       string    `json:"k"` // "code" or "device"
	AccountID  string    `json:"a"`
	Redirect   string    `json:"r,omitempty"`
	State      string    `json:"s,omitempty"`
	Nonce      string    `json:"n,omitempty"`
	DeviceCode string    `json:"d,omitempty"`
	Interval   int64     `json:"i,omitempty"`
	Expires    time.Time `json:"e"`
}

const (
	handleCode   = "code"
	handleDevice = "device"
	// maxSSOHandle bounds what a client may send as a handle before it is decoded.
	maxSSOHandle = 4096
	// devicePollWait is how long one poll of a device sign-in waits for the person before it
	// answers "pending" (long polling: the server asks the provider at its interval meanwhile).
	devicePollWait = 20 * time.Second
)

var errSSOHandleInvalid = codeProblem(api.CodeSSOFailed, "this sign-in is over (finished, expired, or started with another server's key): sign in again")

func ssoFailed(format string, args ...any) error {
	return codeProblem(api.CodeSSOFailed, fmt.Sprintf(format, args...))
}

func ssoForbidden(format string, args ...any) error {
	return codeProblem(api.CodeSSOForbidden, fmt.Sprintf(format, args...))
}

func (s *Service) sealSSOHandle(h ssoHandle) (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	sealed, err := s.keys.SealForPlatform(purposeSSOLogin, b)
	if err != nil {
		return "", err
	}
	return api.SSOHandlePrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Service) openSSOHandle(handle, kind string) (ssoHandle, error) {
	rest, ok := strings.CutPrefix(handle, api.SSOHandlePrefix)
	if !ok || len(handle) > maxSSOHandle {
		return ssoHandle{}, errSSOHandleInvalid
	}
	sealed, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return ssoHandle{}, errSSOHandleInvalid
	}
	b, err := s.keys.OpenForPlatform(purposeSSOLogin, sealed)
	if err != nil {
		return ssoHandle{}, errSSOHandleInvalid
	}
	var h ssoHandle
	if json.Unmarshal(b, &h) != nil || h.Kind != kind || !s.now().Before(h.Expires) {
		return ssoHandle{}, errSSOHandleInvalid
	}
	return h, nil
}

func (s *Service) randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("draw sign-in secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// checkLoopbackRedirect accepts only a loopback redirect (RFC 8252, section 7.3): the code
// can only reach a listener on the machine the person signs in on.
func checkLoopbackRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err == nil && u.Scheme == "http" && u.User == nil && u.Fragment == "" && u.Port() != "" {
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return invalid("redirect_uri", "must be a loopback address with a port, such as http://127.0.0.1:PORT/callback")
}

// checkCodeChallenge checks a PKCE challenge (RFC 7636): S256, 43 to 128 characters.
func checkCodeChallenge(challenge, method string) error {
	if method != "S256" {
		return invalid("code_challenge_method", "must be S256")
	}
	if len(challenge) < 43 || len(challenge) > 128 || strings.IndexFunc(challenge, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~')
	}) >= 0 {
		return invalid("code_challenge", "must be the base64url SHA-256 of the verifier (43 characters)")
	}
	return nil
}

// linkForEmail finds the link that signs in an e-mail's domain, with its provider.
func (s *Service) linkForEmail(ctx context.Context, email string) (ssoLink, *oidc.Provider, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return ssoLink{}, nil, err
	}
	domain := email[strings.LastIndexByte(email, '@')+1:]
	sl, err := s.st.SSOLinkByDomain(ctx, s.ssoDomainIndex(domain))
	if errors.Is(err, store.ErrNotFound) {
		return ssoLink{}, nil, codeProblem(api.CodeSSONotLinked, fmt.Sprintf("no account signs in %s through single sign-on: log in with your password (smartx auth login)", domain))
	}
	if err != nil {
		return ssoLink{}, nil, err
	}
	l, err := s.openSSOLink(ctx, sl)
	if err != nil {
		return ssoLink{}, nil, err
	}
	p, err := s.sso.get(ctx, l.Issuer)
	return l, p, err
}

// scopes asks for the ID token, the e-mail and the profile, and for a refresh token where the
// provider offers offline_access (the server's checks of the user use it).
func ssoScopes(p *oidc.Provider) (scopes []string, offline bool) {
	var d struct {
		Scopes []string `json:"scopes_supported"`
	}
	_ = p.Claims(&d)
	scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	if slices.Contains(d.Scopes, oidc.ScopeOfflineAccess) {
		return append(scopes, oidc.ScopeOfflineAccess), true
	}
	return scopes, false
}

func (l ssoLink) oauth2Config(p *oidc.Provider, redirect string) *oauth2.Config {
	scopes, _ := ssoScopes(p)
	return &oauth2.Config{ClientID: l.ClientID, ClientSecret: l.secret, Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: scopes}
}

// StartSSO begins a sign-in through the provider of the account that signs in the e-mail's
// domain, and returns the authorization URL for the person's browser. A sign-in counts once
// against the login limits of its source address: at FinishSSO, or at StartSSODevice (each
// makes requests to the provider); starting one and polling a device sign-in do not.
func (s *Service) StartSSO(ctx context.Context, req api.SSOStartRequest) (api.SSOStart, string, error) {
	if err := checkLoopbackRedirect(req.RedirectURI); err != nil {
		return api.SSOStart{}, "", err
	}
	if err := checkCodeChallenge(req.CodeChallenge, req.CodeChallengeMethod); err != nil {
		return api.SSOStart{}, "", err
	}
	l, p, err := s.linkForEmail(ctx, req.Email)
	if err != nil {
		return api.SSOStart{}, l.AccountID, err
	}
	state, err := s.randomToken()
	if err != nil {
		return api.SSOStart{}, "", err
	}
	nonce, err := s.randomToken()
	if err != nil {
		return api.SSOStart{}, "", err
	}
	h := ssoHandle{Kind: handleCode, AccountID: l.AccountID, Redirect: req.RedirectURI, State: state, Nonce: nonce, Expires: s.nowUTC().Add(api.SSOLoginTTL)}
	handle, err := s.sealSSOHandle(h)
	if err != nil {
		return api.SSOStart{}, "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.SetAuthURLParam("code_challenge", req.CodeChallenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256"), oauth2.SetAuthURLParam("login_hint", strings.TrimSpace(req.Email))}
	if _, offline := ssoScopes(p); !offline {
		opts = append(opts, oauth2.AccessTypeOffline) // Google's way to a refresh token
	}
	authURL := l.oauth2Config(p, req.RedirectURI).AuthCodeURL(state, opts...)
	return api.SSOStart{AuthorizationURL: authURL, State: state, Handle: handle, ExpiresAt: h.Expires}, l.AccountID, nil
}

// FinishSSO exchanges the code the provider gave the person's browser, verifies the ID token
// and opens a session.
func (s *Service) FinishSSO(ctx context.Context, req api.SSOFinishRequest, sourceIP string) (Session, error) {
	if wait, ok := s.limiter.allow(limitByIP, sourceIP); !ok {
		return Session{}, &RateLimitError{RetryAfter: wait}
	}
	h, err := s.openSSOHandle(req.Handle, handleCode)
	if err != nil {
		return Session{}, err
	}
	if subtle.ConstantTimeCompare([]byte(req.State), []byte(h.State)) != 1 {
		return Session{}, attribute(h.AccountID, "", ssoFailed("the redirect's state is not this sign-in's: sign in again"))
	}
	l, err := s.ssoLink(ctx, h.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, errSSOHandleInvalid // unlinked meanwhile
	}
	if err != nil {
		return Session{}, err
	}
	p, err := s.sso.get(ctx, l.Issuer)
	if err != nil {
		return Session{}, err
	}
	tok, err := l.oauth2Config(p, h.Redirect).Exchange(s.sso.ctx(ctx), req.Code, oauth2.VerifierOption(req.CodeVerifier))
	if err != nil {
		return Session{}, attribute(h.AccountID, "", providerRefused("the sign-in code", err))
	}
	return s.signInSSO(ctx, l, p, tok, h.Nonce)
}

// providerRefused describes a failed request to the provider's token endpoint.
func providerRefused(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		detail := re.ErrorCode
		if re.ErrorDescription != "" {
			detail += ": " + strings.Join(strings.Fields(re.ErrorDescription), " ")
		}
		return ssoFailed("the identity provider refused %s (%s): sign in again, or ask an owner to check the account's client id and secret", what, detail)
	}
	return codeProblem(api.CodeSSOUnavailable, fmt.Sprintf("the identity provider could not be reached for %s: %s", what, oneLine(err)))
}

// StartSSODevice begins a sign-in through the device authorization grant.
func (s *Service) StartSSODevice(ctx context.Context, email, sourceIP string) (api.SSODevice, string, error) {
	if wait, ok := s.limiter.allow(limitByIP, sourceIP); !ok {
		return api.SSODevice{}, "", &RateLimitError{RetryAfter: wait}
	}
	l, p, err := s.linkForEmail(ctx, email)
	if err != nil {
		return api.SSODevice{}, l.AccountID, err
	}
	if p.Endpoint().DeviceAuthURL == "" {
		return api.SSODevice{}, l.AccountID, codeProblem(api.CodeSSOUnavailable,
			"the identity provider does not offer the device authorization grant: sign in with a browser (smartx auth login --sso without --device-code)")
	}
	cfg := l.oauth2Config(p, "")
	da, err := cfg.DeviceAuth(s.deviceAuthContext(ctx, cfg))
	if err != nil {
		return api.SSODevice{}, l.AccountID, providerRefused("the device sign-in", err)
	}
	expires := s.nowUTC().Add(api.SSOLoginTTL)
	if !da.Expiry.IsZero() && da.Expiry.Before(expires) {
		expires = da.Expiry.UTC()
	}
	handle, err := s.sealSSOHandle(ssoHandle{Kind: handleDevice, AccountID: l.AccountID, DeviceCode: da.DeviceCode, Interval: da.Interval, Expires: expires})
	if err != nil {
		return api.SSODevice{}, "", err
	}
	return api.SSODevice{VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete, UserCode: da.UserCode,
		Handle: handle, ExpiresAt: expires}, l.AccountID, nil
}

// deviceAuthContext authenticates the client at the device authorization endpoint with its
// secret (HTTP Basic, RFC 6749 section 2.3.1), which x/oauth2 leaves to the caller there.
func (s *Service) deviceAuthContext(ctx context.Context, cfg *oauth2.Config) context.Context {
	base := s.sso.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c := *s.sso.client
	c.Transport = basicAuthAt{base: base, url: cfg.Endpoint.DeviceAuthURL, id: cfg.ClientID, secret: cfg.ClientSecret}
	return oidc.ClientContext(ctx, &c)
}

type basicAuthAt struct {
	base            http.RoundTripper
	url, id, secret string
}

func (b basicAuthAt) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() == b.url {
		r = r.Clone(r.Context())
		r.SetBasicAuth(url.QueryEscape(b.id), url.QueryEscape(b.secret))
	}
	return b.base.RoundTrip(r)
}

// PollSSODevice waits up to 20 seconds for the person to finish a device sign-in: pending
// is true when they have not yet, and the client polls again.
func (s *Service) PollSSODevice(ctx context.Context, handle string) (sess Session, pending bool, err error) {
	h, err := s.openSSOHandle(handle, handleDevice)
	if err != nil {
		return Session{}, false, err
	}
	l, err := s.ssoLink(ctx, h.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, false, errSSOHandleInvalid
	}
	if err != nil {
		return Session{}, false, err
	}
	p, err := s.sso.get(ctx, l.Issuer)
	if err != nil {
		return Session{}, false, err
	}
	wctx, cancel := context.WithTimeout(s.sso.ctx(ctx), min(devicePollWait, h.Expires.Sub(s.now())))
	defer cancel()
	tok, err := l.oauth2Config(p, "").DeviceAccessToken(wctx, &oauth2.DeviceAuthResponse{DeviceCode: h.DeviceCode, Interval: h.Interval})
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && s.now().Before(h.Expires) {
			return Session{}, true, nil
		}
		var re *oauth2.RetrieveError
		switch {
		case ctx.Err() != nil:
			return Session{}, false, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &re) && re.ErrorCode == "expired_token":
			return Session{}, false, attribute(h.AccountID, "", ssoFailed("the device code expired before the sign-in at the identity provider: start again"))
		case errors.As(err, &re) && re.ErrorCode == "access_denied":
			return Session{}, false, attribute(h.AccountID, "", ssoFailed("the sign-in was denied at the identity provider"))
		}
		return Session{}, false, attribute(h.AccountID, "", providerRefused("the device sign-in", err))
	}
	sess, err = s.signInSSO(ctx, l, p, tok, "")
	return sess, false, err
}

// verifyIDToken verifies an ID token with the provider's keys (go-oidc: signature, issuer,
// audience, expiry) and says in one line what was wrong.
func (s *Service) verifyIDToken(ctx context.Context, l ssoLink, p *oidc.Provider, raw string) (*oidc.IDToken, error) {
	idt, err := p.Verifier(&oidc.Config{ClientID: l.ClientID, Now: s.now}).Verify(s.sso.ctx(ctx), raw)
	if err == nil {
		return idt, nil
	}
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return nil, ssoFailed("the identity provider's ID token expired at %s: sign in again (if it keeps happening, check this server's clock)",
			expired.Expiry.UTC().Format(time.RFC3339))
	case strings.Contains(msg, "expected audience"):
		return nil, ssoFailed("the ID token was issued to another client, not this account's (%s): ask an owner to check the client id", oneLine(err))
	case strings.Contains(msg, "signature") || strings.Contains(msg, "malformed"):
		return nil, ssoFailed("the ID token does not verify against the identity provider's keys (%s): it was altered or not issued by %s", oneLine(err), l.Issuer)
	case strings.Contains(msg, "issued by a different provider"):
		return nil, ssoFailed("the ID token was issued by another provider (%s)", oneLine(err))
	}
	return nil, ssoFailed("the ID token does not verify: %s", oneLine(err))
}

// ssoClaims are the claims of the ID token, completed from the userinfo endpoint when the
// token carries no e-mail (providers that keep the ID token small).
func (s *Service) ssoClaims(ctx context.Context, p *oidc.Provider, idt *oidc.IDToken, tok *oauth2.Token) (map[string]any, error) {
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, ssoFailed("the ID token's claims do not parse: %s", oneLine(err))
	}
	if _, ok := claims["email"]; ok || p.UserInfoEndpoint() == "" {
		return claims, nil
	}
	ui, err := p.UserInfo(s.sso.ctx(ctx), oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, codeProblem(api.CodeSSOUnavailable, fmt.Sprintf("the identity provider's userinfo endpoint failed: %s", oneLine(err)))
	}
	if ui.Subject != idt.Subject {
		return nil, ssoFailed("the identity provider's userinfo answered for another subject than the ID token")
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return nil, ssoFailed("the identity provider's userinfo does not parse: %s", oneLine(err))
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return claims, nil
}

// claimValues returns the strings of a claim, which may be a string or a list, found by name
// or, failing that, by a dotted path into nested objects (Keycloak's realm_access.roles).
func claimValues(claims map[string]any, name string) []string {
	v, ok := claims[name]
	if !ok {
		var cur any = claims
		for part := range strings.SplitSeq(name, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				return nil
			}
			cur = m[part]
		}
		v = cur
	}
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mappedRole is the role the provider's claims give, "" when no rule matches.
func (l ssoLink) mappedRole(claims map[string]any) api.Role {
	if l.RoleClaim == "" {
		return ""
	}
	values := claimValues(claims, l.RoleClaim)
	for _, r := range l.RoleMap {
		if slices.Contains(values, r.Value) {
			return r.Role
		}
	}
	return ""
}

// verifiedEmail returns the e-mail the provider vouches for.
func verifiedEmail(claims map[string]any) (string, error) {
	raw, _ := claims["email"].(string)
	if raw == "" {
		return "", ssoForbidden("the identity provider gave no e-mail for this person: allow the client the email scope (on Entra ID, add the email optional claim)")
	}
	switch v := claims["email_verified"].(type) {
	case bool:
		if !v {
			return "", ssoForbidden("the identity provider has not verified the e-mail %s: verify it there, then sign in again", raw)
		}
	case string:
		if v == "false" {
			return "", ssoForbidden("the identity provider has not verified the e-mail %s: verify it there, then sign in again", raw)
		}
	}
	email, err := normalizeEmail(raw)
	if err != nil {
		return "", ssoForbidden("the identity provider's e-mail %q is not an e-mail address", raw)
	}
	return email, nil
}

// signInSSO turns the provider's tokens into a session: it verifies the ID token (and its
// nonce, when the sign-in had one), checks the e-mail's domain, finds the user by the
// provider's subject or by e-mail (creating them when their domain is allowed), applies the
// role the claims map to, records the identity and its refresh token, and opens a session.
func (s *Service) signInSSO(ctx context.Context, l ssoLink, p *oidc.Provider, tok *oauth2.Token, nonce string) (Session, error) {
	sess, userID, err := s.signInSSOUser(ctx, l, p, tok, nonce)
	return sess, attribute(l.AccountID, userID, err)
}

func (s *Service) signInSSOUser(ctx context.Context, l ssoLink, p *oidc.Provider, tok *oauth2.Token, nonce string) (Session, string, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Session{}, "", ssoFailed("the identity provider answered no ID token: the client must be allowed the openid scope")
	}
	idt, err := s.verifyIDToken(ctx, l, p, raw)
	if err != nil {
		return Session{}, "", err
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return Session{}, "", ssoFailed("the ID token belongs to another sign-in (its nonce differs): sign in again")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return Session{}, "", ssoFailed("the access token does not match the ID token (at_hash): sign in again")
		}
	}
	claims, err := s.ssoClaims(ctx, p, idt, tok)
	if err != nil {
		return Session{}, "", err
	}
	email, err := verifiedEmail(claims)
	if err != nil {
		return Session{}, "", err
	}
	if domain := email[strings.LastIndexByte(email, '@')+1:]; !slices.Contains(l.Domains, domain) {
		return Session{}, "", ssoForbidden("%s is not in a domain this account signs in through single sign-on (%s): ask an owner of the account",
			email, strings.Join(l.Domains, ", "))
	}
	subject, err := s.keys.IndexForAccount(ctx, l.AccountID, indexSSOSubject, l.Issuer+"\x00"+idt.Subject)
	if err != nil {
		return Session{}, "", err
	}
	now := s.nowUTC()
	ident := store.SSOIdentity{AccountID: l.AccountID, SubjectIndex: subject, CheckedAt: now, CreatedAt: now, UpdatedAt: now}
	u, known, err := s.ssoUser(ctx, l, &ident, email)
	if err != nil {
		return Session{}, u.ID, err
	}
	mapped := l.mappedRole(claims)
	if !known {
		if mapped == "" {
			mapped = l.DefaultRole
		}
		if mapped == "" {
			return Session{}, "", ssoForbidden("the identity provider's claim %s gives %s no role on this account, which has no default role: ask an owner of the account",
				l.RoleClaim, email)
		}
		id, err := s.newID(api.PrefixUser)
		if err != nil {
			return Session{}, "", err
		}
		u = User{User: store.User{ID: id, AccountID: l.AccountID, Role: mapped, CreatedAt: now, UpdatedAt: now}, Email: email}
	}
	if tok.RefreshToken != "" {
		if ident.SealedRefresh, err = s.keys.SealForAccount(ctx, l.AccountID, ssoRefreshPurpose(u.ID), []byte(tok.RefreshToken)); err != nil {
			return Session{}, u.ID, err
		}
	}
	ident.UserID = u.ID
	if !known {
		if u, err = s.sealUser(ctx, u); err != nil {
			return Session{}, "", err
		}
		if err := s.st.CreateSSOUser(ctx, u.User, ident); errors.Is(err, store.ErrConflict) {
			return Session{}, "", ssoForbidden("%s is already a user's login on the platform: sign in again, or ask the platform's operator", email)
		} else if err != nil {
			return Session{}, "", err
		}
		s.log.Info("user created at first sign-in through single sign-on", "account", u.AccountID, "user", u.ID, "role", u.Role)
	} else {
		if mapped != "" && mapped != u.Role && u.Role != api.RoleOwner {
			if err := s.setRoleFromProvider(ctx, u, mapped); err != nil {
				return Session{}, u.ID, err
			}
			u.Role = mapped
		}
		if err := s.st.SaveSSOIdentity(ctx, ident); errors.Is(err, store.ErrConflict) {
			return Session{}, u.ID, ssoForbidden("this person of the identity provider is linked to another user: ask an owner of the account")
		} else if err != nil {
			return Session{}, u.ID, err
		}
		u.DisabledAt = time.Time{} // a user the provider had disabled is enabled again
	}
	sess := Session{User: u}
	sess.Token, sess.Secret, err = s.tokens.Issue(ctx, auth.IssueRequest{AccountID: u.AccountID, UserID: u.ID, Kind: api.TokenKindSession,
		Name: "sso session", Scopes: u.Role.Scopes(), ExpiresAt: s.now().Add(api.SessionTokenTTL)})
	return sess, u.ID, err
}

// ssoUser finds the user a sign-in is for: by the provider's subject, else by e-mail in the
// account. known is false when there is none and the user is to be made. ident is completed
// with the stored identity's creation time. A user the owner disabled stays out; one the
// provider's answer disabled comes back (SaveSSOIdentity).
func (s *Service) ssoUser(ctx context.Context, l ssoLink, ident *store.SSOIdentity, email string) (u User, known bool, err error) {
	stored, err := s.st.SSOIdentityBySubject(ctx, l.AccountID, ident.SubjectIndex)
	switch {
	case err == nil:
		if u, err = s.user(ctx, l.AccountID, stored.UserID); err != nil {
			return User{}, false, err
		}
	case errors.Is(err, store.ErrNotFound):
		u, err = s.userByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return User{}, false, nil
		}
		if err != nil {
			return User{}, false, err
		}
		if u.AccountID != l.AccountID {
			return User{}, false, ssoForbidden("%s is a user of another account on the platform: ask the platform's operator", email)
		}
		stored, err = s.st.SSOIdentity(ctx, l.AccountID, u.ID)
		if err == nil {
			// The e-mail was another person's at the provider (a different subject): the
			// platform's user stays the first person's.
			return User{}, false, ssoForbidden("%s is linked to another person of the identity provider: ask an owner of the account", email)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return User{}, false, err
		}
	default:
		return User{}, false, err
	}
	if u.Disabled() && stored.ProviderDisabledAt.IsZero() {
		return u, false, errUserDisabled
	}
	if !stored.CreatedAt.IsZero() {
		ident.CreatedAt = stored.CreatedAt
	}
	return u, true, nil
}

// setRoleFromProvider gives a user the role the provider's claims map to; a role with fewer
// scopes revokes their tokens, as an owner's change does.
func (s *Service) setRoleFromProvider(ctx context.Context, u User, role api.Role) error {
	if api.MissingScope(role.Scopes(), u.Role.Scopes()) != "" {
		if _, err := s.tokens.RevokeUserTokens(ctx, u.AccountID, u.ID, ""); err != nil {
			return err
		}
	}
	if err := s.st.SetUserRole(ctx, u.AccountID, u.ID, role, s.nowUTC()); err != nil {
		return err
	}
	s.log.Info("role changed by the identity provider's claims", "account", u.AccountID, "user", u.ID, "from", u.Role, "to", role)
	return nil
}
