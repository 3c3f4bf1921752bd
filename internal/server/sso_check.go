package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/smart-impulse/smartx/internal/store"
)

// Users who signed in through single sign-on lose access the day the provider forgets them:
// the server keeps the refresh token the provider gave at sign-in (sealed) and, every
// SSOCheckEvery, asks the provider for a new access token with it. The provider refuses with
// invalid_grant once the person no longer exists there, is disabled, or had their sessions
// revoked (Entra ID, Google Workspace and Keycloak all do), and the server then disables the
// user: every token of theirs is revoked at once, as when an owner disables them. Their next
// successful sign-in through the provider enables them again, since the provider vouches for
// them then; an owner's decision to disable them is not undone that way. A provider that gives
// no refresh token leaves its users' sessions to their 12 hours, and their next sign-in fails
// at the provider. Checks are claimed in the store, so of several replicas one asks for each
// user, and a refresh token a provider rotates is never used twice.

// DefaultSSOCheckEvery is how often the users signed in through single sign-on are checked.
const DefaultSSOCheckEvery = 15 * time.Minute

// ssoCheckMethod is the audit log's method of what the checks do.
const ssoCheckMethod = "SSO"

// ssoCheckBatch is how many identities a check claims at once.
const ssoCheckBatch = 100

// SSOCheck is what a round of checks found.
type SSOCheck struct {
	Checked  int // identities asked about
	Disabled int // users disabled because the provider refused
	Failed   int // checks that could not be made (provider unreachable): tried again next round
}

// CheckSSOUsers asks the providers about every user signed in through single sign-on not
// checked for every (claimed in the store, so no two processes ask about the same user), and
// disables those the provider no longer accepts.
func (s *Service) CheckSSOUsers(ctx context.Context, every time.Duration) (SSOCheck, error) {
	var out SSOCheck
	links := map[string]*ssoLink{}
	for {
		now := s.nowUTC()
		batch, err := s.st.ClaimSSOChecks(ctx, now.Add(-every), now, ssoCheckBatch)
		if err != nil {
			return out, err
		}
		for _, id := range batch {
			disabled, err := s.checkSSOUser(ctx, links, id)
			out.Checked++
			switch {
			case err != nil:
				out.Failed++
				s.log.Warn("single sign-on check failed; tried again at the next round", "account", id.AccountID, "user", id.UserID, "err", err)
			case disabled:
				out.Disabled++
			}
		}
		if len(batch) < ssoCheckBatch || ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
}

// checkSSOUser refreshes one identity's token; disabled reports that the provider refused and
// the user was disabled.
func (s *Service) checkSSOUser(ctx context.Context, links map[string]*ssoLink, id store.SSOIdentity) (disabled bool, err error) {
	l, ok := links[id.AccountID]
	if !ok {
		link, err := s.ssoLink(ctx, id.AccountID)
		if err != nil {
			return false, err
		}
		l = &link
		links[id.AccountID] = l
	}
	p, err := s.sso.get(ctx, l.Issuer)
	if err != nil {
		return false, err
	}
	refresh, err := s.keys.OpenForAccount(ctx, id.AccountID, ssoRefreshPurpose(id.UserID), id.SealedRefresh)
	if err != nil {
		return false, errUnreadable("refresh token of user "+id.UserID, err)
	}
	rctx, cancel := context.WithTimeout(s.sso.ctx(ctx), 30*time.Second)
	defer cancel()
	tok, err := l.oauth2Config(p, "").TokenSource(rctx, &oauth2.Token{RefreshToken: string(refresh)}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		err := s.st.DisableSSOUser(ctx, id.AccountID, id.UserID, id.SealedRefresh, s.nowUTC())
		if errors.Is(err, store.ErrConflict) {
			return false, nil // a sign-in replaced the token meanwhile: the provider just vouched for them
		}
		if err != nil {
			return false, err
		}
		s.tokens.Invalidate()
		s.log.Warn("user disabled: the identity provider no longer accepts their sign-in (invalid_grant)", "account", id.AccountID, "user", id.UserID)
		return true, s.auditEvent(ctx, ssoCheckMethod, id.AccountID, id.UserID, "single sign-on check: the provider refused (invalid_grant): user disabled", http.StatusOK)
	}
	if err != nil {
		return false, err
	}
	if tok.RefreshToken == "" || tok.RefreshToken == string(refresh) {
		return false, nil
	}
	next, err := s.keys.SealForAccount(ctx, id.AccountID, ssoRefreshPurpose(id.UserID), []byte(tok.RefreshToken))
	if err != nil {
		return false, err
	}
	if err := s.st.UpdateSSORefresh(ctx, id.AccountID, id.UserID, id.SealedRefresh, next, s.nowUTC()); err != nil && !errors.Is(err, store.ErrConflict) {
		return false, err
	}
	return false, nil
}
