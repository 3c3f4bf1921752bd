// Package store defines the persistence of the smartx platform server: domain types, small
// interfaces per concern (AccountStore, UserStore, TokenStore...) composed into Store, and the
// sentinel errors every implementation returns. internal/store/sqlite implements it; a
// PostgreSQL implementation can follow behind the same interfaces, and the contract tests in
// internal/store/storetest run against any of them.
//
// Every row belongs to an account, and deleting the account deletes everything it owns in the
// same transaction. Methods that read or change an account's resources take the account id, so
// a caller cannot reach another account's rows by guessing an id: it gets ErrNotFound.
//
// Sites, devices, data files and readings have their own interfaces (SiteStore, DeviceStore,
// FileStore, ReadingStore). Readings arrive a data file at a time (StoreFile: the file record,
// its readings and the device's totals in one transaction) and leave as a stream of compact
// per-channel segments (ScanSegments, a callback), never as a slice of everything. A segment
// holds the readings of one channel of one file, encoded by AppendSegment; see
// docs/api.md for why readings are not stored one row each.
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
	// ErrConflict: a unique value (an e-mail, an id) is already taken.
	ErrConflict = errors.New("conflict")
)

// Account is a customer organisation. DataKey is its 32-byte data key wrapped (encrypted) under
// the server's master key; the store never sees it in clear.
type Account struct {
	ID        string
	Name      string
	DataKey   []byte
	CreatedAt time.Time
}

// User is a person of an account. Email is unique across the platform (it is the login) and
// stored lower case. PasswordHash is a PHC string (argon2id); the password itself is never stored.
type User struct {
	ID           string
	AccountID    string
	Email        string
	Role         api.Role
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Token is the server's record of an API or session token: its metadata and the salted SHA-256
// of its secret, never the secret. KeyID names the token key that encrypted it.
type Token struct {
	ID         string
	AccountID  string
	UserID     string
	Kind       api.TokenKind
	Name       string
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

// TokenKey is one version of an account's token encryption key, wrapped under the account's
// data key. ID is the opaque key id carried in the token header; Version orders rotations.
type TokenKey struct {
	ID         string
	AccountID  string
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

// AuditEntry is one request in the transaction log. AccountID is empty for requests that were
// not authenticated (health checks, failed logins).
type AuditEntry struct {
	Time      time.Time
	RequestID string
	AccountID string
	UserID    string
	TokenID   string
	DeviceID  string // set for requests authenticated with a device's upload credential
	Method    string
	Route     string
	Status    int
	Latency   time.Duration
	SourceIP  string
	ErrorCode string
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
	// DeleteAccount deletes the account and, in the same transaction, everything it owns:
	// users, tokens, token keys, audit entries, sites, devices, device keys, data files,
	// readings and loss reports. It advances the revocation epoch.
	DeleteAccount(ctx context.Context, id string) error
}

// UserStore keeps users.
type UserStore interface {
	CreateUser(ctx context.Context, u User) error
	// User returns a user of the account.
	User(ctx context.Context, accountID, id string) (User, error)
	// UserByEmail finds the user who logs in with email, in any account.
	UserByEmail(ctx context.Context, email string) (User, error)
	// ListUsers lists an account's users, or every user when accountID is "".
	ListUsers(ctx context.Context, accountID string) ([]User, error)
	// SetPasswordHash replaces a user's password hash (a rehash with stronger parameters).
	SetPasswordHash(ctx context.Context, accountID, id, hash string, at time.Time) error
	// ChangePassword replaces a user's password hash and, in the same transaction, revokes the
	// user's unrevoked session tokens and advances the revocation epoch. It returns how many
	// sessions it ended.
	ChangePassword(ctx context.Context, accountID, id, hash string, at time.Time) (int, error)
}

// TokenStore keeps token records and the revocation epoch.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	// Token returns a token by id whatever its account: the verifier checks the account
	// against the token's encrypted claims.
	Token(ctx context.Context, id string) (Token, error)
	ListTokens(ctx context.Context, f TokenFilter) ([]Token, error)
	// RevokeToken marks a token of the account revoked at the given time (a no-op if it
	// already is) and advances the revocation epoch.
	RevokeToken(ctx context.Context, accountID, id string, at time.Time) error
	// RevokeUserTokens revokes every unrevoked token of kind ("" for all) of a user and
	// advances the revocation epoch; it returns how many it revoked.
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

// TokenKeyStore keeps the accounts' token encryption keys.
type TokenKeyStore interface {
	CreateTokenKey(ctx context.Context, k TokenKey) error
	TokenKey(ctx context.Context, id string) (TokenKey, error)
	// LatestTokenKey returns the account's key with the highest version.
	LatestTokenKey(ctx context.Context, accountID string) (TokenKey, error)
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
	TokenStore
	TokenKeyStore
	AuditStore
	MetaStore
	SiteStore
	DeviceStore
	FileStore
	ReadingStore
	Close() error
}
