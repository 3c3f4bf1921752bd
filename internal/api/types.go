// Package api holds the wire types of the smartx platform API: requests, responses, problem
// details, scopes and roles. The reference server and the smartx client both use them, so the
// two cannot drift apart; docs/api/openapi.yaml is the same contract for everyone else.
//
// Times are RFC 3339 in UTC; identifiers are opaque strings that start with a type prefix
// (acc_, usr_, tok_...), which makes a pasted id recognisable but promises nothing else.
package api

import "time"

// Paths of the routes; the server registers them and the client calls them.
const (
	PathHealth = "/v1/health"
	PathLogin  = "/v1/auth/login"
	PathLogout = "/v1/auth/logout"
	PathWhoAmI = "/v1/auth/whoami"
	PathTokens = "/v1/tokens"
	PathAudit  = "/v1/audit"
)

// JSONContentType is the media type of request and response bodies.
const JSONContentType = "application/json"

// Prefixes of identifiers.
const (
	PrefixAccount  = "acc_"
	PrefixUser     = "usr_"
	PrefixToken    = "tok_"
	PrefixTokenKey = "tkk_"
	PrefixSite     = "sit_"
	PrefixDevice   = "dev_"
	PrefixRequest  = "req_"
)

// Prefixes of token secrets, so secret scanners can recognise a leaked smartx token.
const (
	APITokenPrefix     = "sxt_"
	SessionTokenPrefix = "sxs_"
)

// TokenKind tells API tokens (minted by a user, long-lived) from session tokens (from a login).
type TokenKind string

// The kinds of token.
const (
	TokenKindAPI     TokenKind = "api"
	TokenKindSession TokenKind = "session"
)

// Token lifetimes.
const (
	DefaultTokenTTL   = 90 * 24 * time.Hour
	MaxTokenTTL       = 366 * 24 * time.Hour // a year, leap or not
	SessionTokenTTL   = 12 * time.Hour
	MaxTokenNameBytes = 100
	MaxTokenSites     = 100
)

// Health is the body of GET /v1/health; `smartx preflight` checks exactly this shape.
type Health struct {
	// Status is "ok", or "unavailable" (with HTTP 503) when the server cannot reach its
	// database, so that a load balancer sends requests to another replica.
	Status  string    `json:"status"`
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
}

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse carries the token a completed login gives, shown once: a session, or the API
// token the verify request asked for.
type LoginResponse struct {
	Token     string    `json:"token"`
	TokenID   string    `json:"token_id"`
	Kind      TokenKind `json:"kind"`
	ExpiresAt time.Time `json:"expires_at"`
	User      User      `json:"user"`
	// RecoveryCodesLeft is set when a recovery code was used: how many remain.
	RecoveryCodesLeft *int `json:"recovery_codes_left,omitempty"`
}

// Account is an organisation using the platform; everything else belongs to one.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person who logs in to an account.
type User struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Role      Role   `json:"role"`
	Disabled  bool   `json:"disabled"`
	// TwoFactor is the second factor the user's logins ask for.
	TwoFactor  SecondFactor `json:"two_factor"`
	CreatedAt  time.Time    `json:"created_at"`
	DisabledAt *time.Time   `json:"disabled_at,omitempty"`
}

// WhoAmI is the body of GET /v1/auth/whoami: who the presented token speaks for.
type WhoAmI struct {
	User    User      `json:"user"`
	Account Account   `json:"account"`
	Token   TokenInfo `json:"token"`
}

// TokenInfo is a token's metadata. It never carries the secret or its hash.
type TokenInfo struct {
	ID     string    `json:"id"`
	Kind   TokenKind `json:"kind"`
	Name   string    `json:"name"`
	UserID string    `json:"user_id"`
	// ParentID is the token this one was minted with: it dies with it. Empty for a root
	// token (a session, or a token minted by a login or the operator).
	ParentID   string     `json:"parent_id,omitempty"`
	Scopes     []Scope    `json:"scopes"`
	Sites      []string   `json:"sites"` // empty: every site of the account
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Revoked    bool       `json:"revoked"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	Name   string   `json:"name"`
	Scopes []Scope  `json:"scopes"`
	Sites  []string `json:"sites,omitempty"`
	// ExpiresAt defaults to DefaultTokenTTL from now, or the expiry of the token that creates
	// this one if sooner; it may be at most MaxTokenTTL away and never after that token's.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CreateTokenResponse returns the new token's metadata and its secret, the only time the
// secret is ever shown: the server keeps only a hash.
type CreateTokenResponse struct {
	TokenInfo
	Secret string `json:"secret"`
}

// TokenList is the body of GET /v1/tokens.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// AuditEntry is one request in the transaction log.
type AuditEntry struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	AccountID string    `json:"account_id,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	TokenID   string    `json:"token_id,omitempty"`
	// DeviceID is set for requests a device authenticated with its upload credential.
	DeviceID  string `json:"device_id,omitempty"`
	Method    string `json:"method"`
	Route     string `json:"route"` // the route pattern, never the raw path with its ids
	Status    int    `json:"status"`
	LatencyUS int64  `json:"latency_us"`
	SourceIP  string `json:"source_ip"`
	ErrorCode Code   `json:"error_code,omitempty"`
	// Count is 1 for one request; more when repeated failures of one address were folded into
	// one entry (the first's time and request id).
	Count int `json:"count"`
}

// AuditPage is the body of GET /v1/audit, newest first. NextCursor, when set, fetches the
// following (older) page with the same filters.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}
