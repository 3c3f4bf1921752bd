// Package store defines the persistence of the smartx platform server: domain types, small
// interfaces per concern (AccountStore, UserStore, TokenStore...) composed into Store, and the
// sentinel errors every implementation returns. internal/store/sqlite and
// internal/store/postgres implement it, and the contract tests in internal/store/storetest run
// against each of them.
//
// A store never sees a customer's data in clear. The server seals every identifying value
// (account and site names, addresses, e-mails, serials, network settings, readings, source
// addresses) under the account's data key before it reaches the store, and looks values up by
// keyed blind indexes (EmailIndex, NameIndex, SerialIndex, ChannelTag): fields named Sealed...
// and ...Index are opaque bytes a store keeps and compares, nothing more.
//
// Every row belongs to an account, and deleting the account deletes everything it owns in the
// same transaction. Methods that read or change an account's resources take the account id, so
// a caller cannot reach another account's rows by guessing an id: it gets ErrNotFound.
//
// Sites, devices, data files and readings have their own interfaces (SiteStore, DeviceStore,
// FileStore, ReadingStore). Readings arrive a data file at a time (StoreFile: the file record,
// its sealed segments and the device's totals in one transaction) and leave as a stream of
// segments (ScanSegments, a callback), never as a slice of everything. A segment holds the
// readings of one channel of one file, encoded by AppendSegment and sealed; see docs/api.md
// for why readings are not stored one row each.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
)

// Sentinel errors; implementations wrap them so callers test with errors.Is.
var (
	// ErrNotFound: no such row, or a row of another account.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (an e-mail, an id) is already taken, or a one-time value (a
	// TOTP time step) was already used.
	ErrConflict = errors.New("conflict")
)

// Account is a customer organisation. DataKey is its 32-byte data key wrapped (encrypted) under
// the server's master key; the store never sees it in clear, nor the account's name:
// SealedName is sealed under the data key by the server.
type Account struct {
	ID         string
	SealedName []byte
	DataKey    []byte
	CreatedAt  time.Time
}

// User is a person of an account. The e-mail is the login, unique across the platform; the store
// keeps it only sealed (SealedEmail, under the account's data key) with EmailIndex, a keyed blind
// index of its lower-case form that is unique and is the login lookup. PasswordHash is a PHC
// string (argon2id); the password itself is never stored.
type User struct {
	ID           string
	AccountID    string
	EmailIndex   []byte
	SealedEmail  []byte
	Role         api.Role
	PasswordHash string
	DisabledAt   time.Time // zero: active
	TOTP         UserTOTP
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Disabled reports whether the user was disabled.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// UserTOTP is a user's TOTP second factor (RFC 6238).
type UserTOTP struct {
	// SealedSecret is the shared secret sealed under the account's data key; nil for none.
	SealedSecret []byte
	// EnabledAt is when enrolment was confirmed with a first code; zero while it is pending.
	EnabledAt time.Time
	// LastStep is the last time step a code was accepted for, so no code is accepted twice.
	LastStep int64
}

// Enabled reports whether the user logs in with TOTP.
func (t UserTOTP) Enabled() bool { return len(t.SealedSecret) > 0 && !t.EnabledAt.IsZero() }

// LoginChallenge is a password login waiting for its second factor. The client holds a secret
// (the store keeps its SHA-256); the code it sends back is checked against CodeHash (an e-mailed
// code, keyed-hashed) or the user's TOTP. It is kept in the store so any server process sharing
// the database can finish a login another one started.
type LoginChallenge struct {
	ID         string
	SecretHash []byte
	AccountID  string
	UserID     string
	Method     string // "email" or "totp"
	CodeHash   []byte // the e-mailed code's keyed hash; nil for totp
	Attempts   int    // wrong codes so far
	Sends      int    // e-mails sent
	CreatedAt  time.Time
	SentAt     time.Time // the last e-mail, or the creation
	ExpiresAt  time.Time
}

// Token is the server's record of an API or session token: its metadata and the salted SHA-256
// of its secret, never the secret. KeyID names the token key (the user's) that encrypted it.
// ParentID is the token that minted it: a token is revoked with its parent and expires no later;
// "" for a root token (a login's session, or a token a login or the operator minted).
type Token struct {
	ID         string
	AccountID  string
	UserID     string
	ParentID   string
	Kind       api.TokenKind
	SealedName []byte // the token's name, sealed under the account's data key
	Scopes     []api.Scope
	Sites      []string
	SecretSalt []byte
	SecretHash []byte
	KeyID      string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: not revoked
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// TokenKey is one version of a user's token encryption key, wrapped under the account's data
// key: two users' tokens never share a key, and deleting a user destroys theirs. ID is the
// opaque key id carried in the token header; Version orders rotations.
type TokenKey struct {
	ID         string
	AccountID  string
	UserID     string
	Version    int
	WrappedKey []byte
	CreatedAt  time.Time
}

// TokenFilter selects tokens of one account.
type TokenFilter struct {
	AccountID string
	UserID    string        // "" for every user of the account
	Kind      api.TokenKind // "" for every kind
}

// AuditEntry is one request in the transaction log, or Count identical unauthenticated
// failures from one address folded into one entry. AccountID is empty for requests that were
// not authenticated (health checks, failed logins). The source address is sealed by the server
// (under the account's data key, or a platform key for unauthenticated requests).
type AuditEntry struct {
	Time         time.Time
	RequestID    string
	AccountID    string
	UserID       string
	TokenID      string
	DeviceID     string // set for requests authenticated with a device's upload credential
	Method       string
	Route        string
	Status       int
	Latency      time.Duration
	SealedSource []byte
	ErrorCode    string
	Count        int // 0 or 1: one request; more: that many folded together
}

// AuditFilter selects one account's audit entries, newest first.
type AuditFilter struct {
	AccountID string    // required
	From, To  time.Time // From inclusive, To exclusive; zero for no bound
	UserID    string
	DeviceID  string
	Status    int // exact status, 0 for any
	// StatusClass selects 2 for 2xx, 4 for 4xx...; 0 for any.
	StatusClass int
	Cursor      string // from a previous page's NextCursor
	Limit       int    // 1..1000; 0 means 100
}

// Audit page size bounds.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// PageLimit is the number of entries a page of f holds: Limit, DefaultAuditLimit when it is
// not set, never more than MaxAuditLimit.
func (f AuditFilter) PageLimit() int {
	if f.Limit <= 0 {
		return DefaultAuditLimit
	}
	return min(f.Limit, MaxAuditLimit)
}

// AuditPage is one page of audit entries and the cursor of the next, "" at the end.
type AuditPage struct {
	Entries    []AuditEntry
	NextCursor string
}

// AccountStore keeps accounts.
type AccountStore interface {
	CreateAccount(ctx context.Context, a Account) error
	Account(ctx context.Context, id string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	// DeleteAccount deletes the account and, in the same transaction, everything it owns: its
	// wrapped data key (which crypto-shreds whatever a copy of the database still holds sealed
	// under it), users, tokens, token keys, login challenges, audit entries, sites, devices,
	// device keys, data files, readings, loss reports and preflight runs. It advances the
	// revocation epoch, and leaves no remnant of the deleted rows in the database's files (the
	// SQLite store overwrites freed content and empties its write-ahead log).
	DeleteAccount(ctx context.Context, id string) error
}

// UserStore keeps users and their second factors.
type UserStore interface {
	// CreateUser fails with ErrConflict when the e-mail index is taken.
	CreateUser(ctx context.Context, u User) error
	// User returns a user of the account.
	User(ctx context.Context, accountID, id string) (User, error)
	// UserByEmail finds the user whose e-mail has this blind index, in any account.
	UserByEmail(ctx context.Context, emailIndex []byte) (User, error)
	// ListUsers lists an account's users, or every user when accountID is "", by creation.
	ListUsers(ctx context.Context, accountID string) ([]User, error)
	// SetPasswordHash replaces a user's password hash (a rehash with stronger parameters).
	SetPasswordHash(ctx context.Context, accountID, id, hash string, at time.Time) error
	// ChangePassword replaces a user's password hash and, in the same transaction, revokes the
	// user's unrevoked session tokens with every token they minted, and advances the revocation
	// epoch. It returns how many sessions it ended.
	ChangePassword(ctx context.Context, accountID, id, hash string, at time.Time) (int, error)
	// SetUserRole changes a user's role.
	SetUserRole(ctx context.Context, accountID, id string, role api.Role, at time.Time) error
	// DisableUser marks the user disabled and, in the same transaction, revokes every token of
	// theirs and ends their pending logins; it advances the revocation epoch. A no-op for a
	// disabled user, except that it makes the decision the owner's: a user the identity
	// provider's answer had disabled (SSOIdentity.ProviderDisabledAt) is no longer enabled
	// again by their next sign-in.
	DisableUser(ctx context.Context, accountID, id string, at time.Time) error
	// EnableUser lets a disabled user log in again (their old tokens stay revoked).
	EnableUser(ctx context.Context, accountID, id string, at time.Time) error
	// DeleteUser deletes the user and, in the same transaction, their token keys (so every token
	// they made stops verifying), tokens, recovery codes and pending logins; it advances the
	// revocation epoch and, like DeleteAccount, leaves no remnant of the rows in the files.
	DeleteUser(ctx context.Context, accountID, id string) error

	// SetTOTP stores a pending TOTP secret for the user (replacing any pending or enabled one);
	// it takes effect with EnableTOTP.
	SetTOTP(ctx context.Context, accountID, id string, sealedSecret []byte, at time.Time) error
	// EnableTOTP confirms the pending secret, records step as used, and replaces the user's
	// recovery codes with codeHashes, in one transaction. ErrNotFound without a pending secret.
	EnableTOTP(ctx context.Context, accountID, id string, step int64, codeHashes [][]byte, at time.Time) error
	// UseTOTPStep records that a code of this time step was accepted; ErrConflict when a code of
	// this step or a later one already was (a replayed code), whichever process accepted it.
	UseTOTPStep(ctx context.Context, accountID, id string, step int64) error
	// ClearTOTP removes the user's TOTP secret and recovery codes.
	ClearTOTP(ctx context.Context, accountID, id string, at time.Time) error
	// SetRecoveryCodes replaces the user's recovery codes (keyed hashes) with new ones.
	SetRecoveryCodes(ctx context.Context, accountID, id string, codeHashes [][]byte, at time.Time) error
	// UseRecoveryCode marks an unused recovery code of the user used and returns how many are
	// left; ErrNotFound when no unused code has that hash.
	UseRecoveryCode(ctx context.Context, accountID, id string, codeHash []byte, at time.Time) (int, error)
	// RecoveryCodesLeft returns how many unused recovery codes the user has.
	RecoveryCodesLeft(ctx context.Context, accountID, id string) (int, error)
}

// ChallengeStore keeps the logins waiting for their second factor.
type ChallengeStore interface {
	CreateChallenge(ctx context.Context, c LoginChallenge) error
	Challenge(ctx context.Context, id string) (LoginChallenge, error)
	// CountChallengeAttempt adds one wrong code to the challenge and returns the new count.
	CountChallengeAttempt(ctx context.Context, id string) (int, error)
	// ResendChallenge replaces the challenge's code, counts one more e-mail, starts its tries
	// again and moves its expiry.
	ResendChallenge(ctx context.Context, id string, codeHash []byte, sentAt, expiresAt time.Time) error
	// DeleteChallenge ends a challenge; ErrNotFound when it is already gone, so that of two
	// requests finishing the same login only one succeeds.
	DeleteChallenge(ctx context.Context, id string) error
	// DeleteChallengesBefore deletes the challenges that expired before t.
	DeleteChallengesBefore(ctx context.Context, t time.Time) (int64, error)
}

// TokenStore keeps token records and the revocation epoch.
type TokenStore interface {
	// CreateToken stores a token; ErrConflict for a taken id.
	CreateToken(ctx context.Context, t Token) error
	// Token returns a token by id whatever its account: the verifier checks the account
	// against the token's encrypted claims.
	Token(ctx context.Context, id string) (Token, error)
	ListTokens(ctx context.Context, f TokenFilter) ([]Token, error)
	// RevokeToken marks a token of the account revoked at the given time (a no-op if it
	// already is), and with it every token minted from it, directly or not; it advances the
	// revocation epoch and returns how many tokens it revoked.
	RevokeToken(ctx context.Context, accountID, id string, at time.Time) (int, error)
	// RevokeUserTokens revokes every unrevoked token of kind ("" for all) of a user, with the
	// tokens minted from them, and advances the revocation epoch; it returns how many it revoked.
	RevokeUserTokens(ctx context.Context, accountID, userID string, kind api.TokenKind, at time.Time) (int, error)
	// TouchTokens records when tokens were last used, in one transaction.
	TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error
	// DeleteTokensBefore deletes the records of tokens that expired or were revoked before t.
	DeleteTokensBefore(ctx context.Context, t time.Time) (int64, error)
	// RevocationEpoch returns a number that changes whenever any token may have stopped being
	// valid (a revocation, a user's or an account's deletion), by this process or another one
	// sharing the database. Verifiers compare it on every request to know when their cache is
	// stale, so it must be cheap.
	RevocationEpoch(ctx context.Context) (int64, error)
}

// TokenKeyStore keeps the users' token encryption keys.
type TokenKeyStore interface {
	// CreateTokenKey stores a key; ErrConflict when the user has that version, ErrNotFound when
	// the user is not the account's.
	CreateTokenKey(ctx context.Context, k TokenKey) error
	TokenKey(ctx context.Context, id string) (TokenKey, error)
	// LatestTokenKey returns the user's key with the highest version.
	LatestTokenKey(ctx context.Context, accountID, userID string) (TokenKey, error)
}

// AuditStore keeps the transaction log.
type AuditStore interface {
	// AppendAudit writes entries in one transaction. An entry whose account no longer exists
	// is dropped: its account's log was deleted with it.
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error)
	// PurgeAudit deletes successful entries older than okBefore and failed ones (status >= 400)
	// older than errBefore, and returns how many it deleted.
	PurgeAudit(ctx context.Context, okBefore, errBefore time.Time) (int64, error)
}

// MetaStore keeps a few named server-wide values (such as the master key check).
type MetaStore interface {
	Meta(ctx context.Context, key string) ([]byte, error)
	// SetMetaIfAbsent stores value under key unless one is already there, and returns the
	// stored value.
	SetMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error)
}

// Store is everything the server persists.
type Store interface {
	AccountStore
	UserStore
	ChallengeStore
	TokenStore
	TokenKeyStore
	AuditStore
	MetaStore
	SiteStore
	DeviceStore
	FileStore
	ReadingStore
	SSOStore
	PreflightStore
	Close() error
}
