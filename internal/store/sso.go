package store

import (
	"context"
	"time"
)

// SSOLink is an account's link to its OpenID Connect identity provider (docs/security.md,
// "Single sign-on"). The store sees the settings only sealed under the account's data key:
// Sealed holds the issuer, client id, allowed e-mail domains and role mapping, SealedSecret the
// client secret. RequireSSO and BreakGlassUserID are in clear because every password login
// reads them: with RequireSSO, only the break-glass user (an owner) may log in with a password.
type SSOLink struct {
	AccountID        string
	Sealed           []byte
	SealedSecret     []byte
	RequireSSO       bool
	BreakGlassUserID string // "" for none (or the user was deleted)
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// SSOIdentity binds a user to their identity at the account's provider. SubjectIndex is a keyed
// blind index of the provider's issuer and subject (the stable id the provider gives the
// person), so a sign-in finds the user it signed in before even if their e-mail changed there.
// SealedRefresh is the provider's refresh token sealed under the account's data key (nil when
// the provider gave none): the server asks the provider with it, from time to time, whether the
// user still exists and their session is still valid.
type SSOIdentity struct {
	AccountID     string
	UserID        string
	SubjectIndex  []byte
	SealedRefresh []byte
	// CheckedAt is the last sign-in or check with the provider.
	CheckedAt time.Time
	// ProviderDisabledAt is when the provider's answer disabled the user (zero otherwise): a
	// later sign-in through the provider enables them again, an owner's decision does not.
	ProviderDisabledAt time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// SSOStore keeps the accounts' single sign-on links and their users' identities.
type SSOStore interface {
	// SetSSOLink creates or replaces the account's link and, in the same transaction, the blind
	// indexes of the e-mail domains it signs in. ErrConflict when a domain signs in to another
	// account; ErrNotFound when the account does not exist or the break-glass user is not one
	// of its users.
	SetSSOLink(ctx context.Context, l SSOLink, domainIndexes [][]byte) error
	// SSOLink returns the account's link; ErrNotFound without one.
	SSOLink(ctx context.Context, accountID string) (SSOLink, error)
	// SSOLinkByDomain returns the link that signs in the domain with this blind index.
	SSOLinkByDomain(ctx context.Context, domainIndex []byte) (SSOLink, error)
	// DeleteSSOLink deletes the account's link, its domains and its users' identities (their
	// refresh tokens with them), and leaves no remnant of them in the files, as DeleteUser;
	// the users stay. ErrNotFound without a link.
	DeleteSSOLink(ctx context.Context, accountID string) error

	// CreateSSOUser creates a user and their identity in one transaction: a user made at their
	// first sign-in. ErrConflict when the e-mail index or the identity is taken; ErrNotFound
	// without a link.
	CreateSSOUser(ctx context.Context, u User, id SSOIdentity) error
	// SSOIdentity returns the identity of a user of the account.
	SSOIdentity(ctx context.Context, accountID, userID string) (SSOIdentity, error)
	// SSOIdentityBySubject finds the identity with this subject index in the account.
	SSOIdentityBySubject(ctx context.Context, accountID string, subjectIndex []byte) (SSOIdentity, error)
	// SaveSSOIdentity creates or replaces a user's identity after a sign-in. A user that the
	// provider's answer disabled (ProviderDisabledAt on the stored identity) is enabled again
	// in the same transaction: the provider has just vouched for them. ErrConflict when the
	// subject is another user's; ErrNotFound when the user is not the account's or the account
	// has no link.
	SaveSSOIdentity(ctx context.Context, id SSOIdentity) error
	// ClaimSSOChecks returns up to limit identities holding a refresh token that were last
	// checked before before, and marks them checked at at in the same statement: of several
	// server processes, each identity is claimed by one, so no two refresh the same token.
	ClaimSSOChecks(ctx context.Context, before, at time.Time, limit int) ([]SSOIdentity, error)
	// UpdateSSORefresh replaces the identity's refresh token with next if it is still old (a
	// provider may rotate it on each refresh); ErrConflict when a sign-in replaced it meanwhile.
	UpdateSSORefresh(ctx context.Context, accountID, userID string, old, next []byte, at time.Time) error
	// DisableSSOUser disables a user the provider no longer knows, if their identity still holds
	// the refresh token used: in one transaction it disables them as DisableUser does (every
	// token revoked, pending logins ended, revocation epoch advanced), records
	// ProviderDisabledAt and drops the refresh token. ErrConflict when a sign-in replaced the
	// token meanwhile.
	DisableSSOUser(ctx context.Context, accountID, userID string, used []byte, at time.Time) error
}
