package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// Authenticate verifies a presented token secret.
func (s *Service) Authenticate(ctx context.Context, secret string) (store.Token, error) {
	return s.tokens.Verify(ctx, secret)
}

// tokenSpec is a checked request for a new token.
type tokenSpec struct {
	name   string
	scopes []api.Scope
	sites  []string
	exp    time.Time
}

// checkTokenRequest validates a request for a token of user u. parent is the token it is minted
// with, nil for a root token (minted by a login): the new token can be no wider than the user's
// role and than its parent (scopes and sites), and expires no later than its parent.
func (s *Service) checkTokenRequest(u User, parent *store.Token, req api.CreateTokenRequest) (tokenSpec, error) {
	name := strings.TrimSpace(req.Name)
	if err := checkText("name", name, api.MaxTokenNameBytes); err != nil {
		return tokenSpec{}, err
	}
	if len(req.Scopes) == 0 {
		return tokenSpec{}, invalid("scopes", "name at least one scope: %s", api.JoinScopes(api.AllScopes))
	}
	for i, sc := range req.Scopes {
		if !sc.Known() {
			return tokenSpec{}, invalid(fmt.Sprintf("scopes[%d]", i), "unknown scope %q: use one of %s", sc, api.JoinScopes(api.AllScopes))
		}
	}
	scopes := api.SortScopes(slices.Clone(req.Scopes))
	if len(req.Sites) > api.MaxTokenSites {
		return tokenSpec{}, invalid("sites", "at most %d sites", api.MaxTokenSites)
	}
	sites := slices.Clone(req.Sites)
	for i, site := range sites {
		if !store.ValidID(site, api.PrefixSite) {
			return tokenSpec{}, invalid(fmt.Sprintf("sites[%d]", i), "%q is not a site id (%s...)", site, api.PrefixSite)
		}
	}
	slices.Sort(sites)
	sites = slices.Compact(sites)
	now := s.now()
	exp := now.Add(api.DefaultTokenTTL)
	if parent != nil && parent.ExpiresAt.Before(exp) {
		exp = parent.ExpiresAt // by default, as long as what mints it
	}
	if req.ExpiresAt != nil {
		exp = *req.ExpiresAt
		if !exp.After(now) {
			return tokenSpec{}, invalid("expires_at", "must be in the future")
		}
		if exp.Sub(now) > api.MaxTokenTTL {
			return tokenSpec{}, invalid("expires_at", "must be at most a year from now")
		}
		if parent != nil && exp.After(parent.ExpiresAt) {
			what := "the token"
			if parent.Kind == api.TokenKindSession {
				what = "the session"
			}
			return tokenSpec{}, invalid("expires_at", "must be no later than %s you authenticated with (%s): a token never outlives what "+
				"minted it; a login can mint a longer-lived token (smartx token create --login)", what, parent.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	if missing := api.MissingScope(u.Role.Scopes(), scopes); missing != "" {
		return tokenSpec{}, &ScopeError{Scope: missing, Detail: fmt.Sprintf("your role (%s) does not grant scope %s", u.Role, missing)}
	}
	if parent != nil {
		if missing := api.MissingScope(parent.Scopes, scopes); missing != "" {
			return tokenSpec{}, &ScopeError{Scope: missing, Detail: fmt.Sprintf("the token you authenticated with lacks scope %s", missing)}
		}
		if len(parent.Sites) > 0 {
			if len(sites) == 0 {
				return tokenSpec{}, &ScopeError{Detail: "the token you authenticated with is restricted to some sites: restrict the new one to some of them"}
			}
			for _, site := range sites {
				if !slices.Contains(parent.Sites, site) {
					return tokenSpec{}, &ScopeError{Detail: fmt.Sprintf("the token you authenticated with does not cover site %s", site)}
				}
			}
		}
	}
	return tokenSpec{name: name, scopes: scopes, sites: sites, exp: exp}, nil
}

// CreateToken mints an API token for the caller, as a child of the token it authenticated
// with: no wider than the user's role and that token, expiring no later, and revoked with it.
func (s *Service) CreateToken(ctx context.Context, caller store.Token, req api.CreateTokenRequest) (store.Token, string, error) {
	u, err := s.callerUser(ctx, caller)
	if err != nil {
		return store.Token{}, "", err
	}
	spec, err := s.checkTokenRequest(u, &caller, req)
	if err != nil {
		return store.Token{}, "", err
	}
	return s.tokens.Issue(ctx, auth.IssueRequest{AccountID: caller.AccountID, UserID: caller.UserID, ParentID: caller.ID, Kind: api.TokenKindAPI,
		Name: spec.name, Scopes: spec.scopes, Sites: spec.sites, ExpiresAt: spec.exp})
}

// IssueAdminToken mints a root API token with every scope the user's role grants, for the
// operator (dev mode); it skips the checks CreateToken makes on a caller.
func (s *Service) IssueAdminToken(ctx context.Context, u User, name string) (store.Token, string, error) {
	return s.tokens.Issue(ctx, auth.IssueRequest{AccountID: u.AccountID, UserID: u.ID, Kind: api.TokenKindAPI,
		Name: name, Scopes: u.Role.Scopes(), ExpiresAt: s.now().Add(api.DefaultTokenTTL)})
}

// canSeeAll reports whether the caller may see and revoke every token of its account.
func canSeeAll(caller store.Token) bool { return slices.Contains(caller.Scopes, api.ScopeAdmin) }

// coversToken reports whether a site-restricted caller may see a token: only tokens restricted
// to some of the caller's sites (a token valid everywhere is beyond it).
func coversToken(caller, t store.Token) bool {
	if len(caller.Sites) == 0 {
		return true
	}
	if len(t.Sites) == 0 {
		return false
	}
	for _, site := range t.Sites {
		if !slices.Contains(caller.Sites, site) {
			return false
		}
	}
	return true
}

// ListTokens lists tokens of the caller's account: the caller's own, or, for an admin caller,
// everyone's (userID "all") or one user's. A caller restricted to sites sees only tokens
// restricted to some of its sites.
func (s *Service) ListTokens(ctx context.Context, caller store.Token, userID string, kind api.TokenKind) ([]store.Token, error) {
	f := store.TokenFilter{AccountID: caller.AccountID, UserID: caller.UserID, Kind: kind}
	switch userID {
	case "", caller.UserID:
	case "all":
		if !canSeeAll(caller) {
			return nil, &ScopeError{Scope: api.ScopeAdmin, Detail: "listing everyone's tokens needs scope admin"}
		}
		f.UserID = ""
	default:
		if !canSeeAll(caller) {
			return nil, &ScopeError{Scope: api.ScopeAdmin, Detail: "listing another user's tokens needs scope admin"}
		}
		f.UserID = userID
	}
	list, err := s.st.ListTokens(ctx, f)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list, func(t store.Token) bool { return t.ID != caller.ID && !coversToken(caller, t) }), nil
}

// Token returns a token the caller may see; others are ErrNotFound, never "forbidden", so ids
// of other users' tokens reveal nothing.
func (s *Service) Token(ctx context.Context, caller store.Token, id string) (store.Token, error) {
	t, err := s.st.Token(ctx, id)
	if err != nil {
		return store.Token{}, err
	}
	visible := t.AccountID == caller.AccountID && (t.UserID == caller.UserID || canSeeAll(caller)) && (t.ID == caller.ID || coversToken(caller, t))
	if !visible {
		return store.Token{}, fmt.Errorf("token %s: %w", id, store.ErrNotFound)
	}
	return t, nil
}

// TokenName opens a token's name.
func (s *Service) TokenName(ctx context.Context, t store.Token) (string, error) {
	b, err := s.keys.OpenForAccount(ctx, t.AccountID, auth.TokenNamePurpose(t.ID), t.SealedName)
	if err != nil {
		return "", errUnreadable("name of token "+t.ID, err)
	}
	return string(b), nil
}

// RevokeToken revokes a token the caller may see, and every token minted from it; the next
// request presenting any of them fails.
func (s *Service) RevokeToken(ctx context.Context, caller store.Token, id string) (store.Token, error) {
	t, err := s.Token(ctx, caller, id)
	if err != nil {
		return store.Token{}, err
	}
	if _, err := s.tokens.Revoke(ctx, caller.AccountID, id); err != nil {
		return store.Token{}, err
	}
	return s.st.Token(ctx, t.ID)
}

// Logout revokes the presented token and what it minted.
func (s *Service) Logout(ctx context.Context, caller store.Token) error {
	_, err := s.tokens.Revoke(ctx, caller.AccountID, caller.ID)
	return err
}

// WhoAmI returns the caller's user and account.
func (s *Service) WhoAmI(ctx context.Context, caller store.Token) (User, Account, error) {
	u, err := s.callerUser(ctx, caller)
	if err != nil {
		return User{}, Account{}, err
	}
	acc, err := s.account(ctx, caller.AccountID)
	return u, acc, err
}
