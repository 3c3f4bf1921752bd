package api

import "time"

// Paths of single sign-on through OpenID Connect: the sign-in (authorization code with PKCE
// through a loopback redirect, or the device authorization grant) and the account's link to
// its identity provider (owners only).
const (
	PathSSOStart      = "/v1/auth/sso/start"
	PathSSOFinish     = "/v1/auth/sso/finish"
	PathSSODevice     = "/v1/auth/sso/device"
	PathSSODevicePoll = "/v1/auth/sso/device/poll"
	PathAccountSSO    = "/v1/account/sso"
)

// SSOHandlePrefix starts the handle of a pending sign-in: a value sealed by the server that
// carries the sign-in's state and nonce (or device code), so that any server process sharing
// the master key can finish it. It is a secret of the client, like a challenge.
const SSOHandlePrefix = "sxo_"

// SSOLoginTTL is how long a sign-in may wait for the person at the identity provider.
const SSOLoginTTL = 10 * time.Minute

// SSORoleRule gives Role to the users whose role claim holds Value (the claim may be a string
// or a list of strings). Rules are tried in order; the first that matches wins.
type SSORoleRule struct {
	Value string `json:"value"`
	Role  Role   `json:"role"`
}

// SSOSettingsRequest is the body of PUT /v1/account/sso: the account's link to its OpenID
// Connect provider, replaced whole. ClientSecret may be left out to keep the stored one while
// the issuer and client id stay the same.
type SSOSettingsRequest struct {
	Issuer       string        `json:"issuer"`
	ClientID     string        `json:"client_id"`
	ClientSecret string        `json:"client_secret,omitempty"`
	Domains      []string      `json:"domains"`
	RoleClaim    string        `json:"role_claim,omitempty"`
	RoleMap      []SSORoleRule `json:"role_map,omitempty"`
	DefaultRole  Role          `json:"default_role,omitempty"`
	RequireSSO   bool          `json:"require_sso"`
	// BreakGlassUserID is the owner who may still log in with a password when RequireSSO is
	// set (required then).
	BreakGlassUserID string `json:"break_glass_user_id,omitempty"`
	// SkipDiscovery stores the link without reading the provider's discovery document.
	SkipDiscovery bool `json:"skip_discovery,omitempty"`
}

// SSOSettings is an account's link as the API shows it: never the client secret.
type SSOSettings struct {
	Issuer           string        `json:"issuer"`
	ClientID         string        `json:"client_id"`
	ClientSecretSet  bool          `json:"client_secret_set"`
	Domains          []string      `json:"domains"`
	RoleClaim        string        `json:"role_claim,omitempty"`
	RoleMap          []SSORoleRule `json:"role_map,omitempty"`
	DefaultRole      Role          `json:"default_role,omitempty"`
	RequireSSO       bool          `json:"require_sso"`
	BreakGlassUserID string        `json:"break_glass_user_id,omitempty"`
	BreakGlassEmail  string        `json:"break_glass_email,omitempty"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
}

// SSOStartRequest is the body of POST /v1/auth/sso/start. The e-mail's domain names the
// account; RedirectURI is the client's loopback listener (http://127.0.0.1:PORT/...);
// CodeChallenge is the PKCE challenge (S256) of a verifier the client keeps until the finish.
type SSOStartRequest struct {
	Email               string `json:"email"`
	RedirectURI         string `json:"redirect_uri"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
}

// SSOStart is where to send the person's browser, and what to send back to finish.
type SSOStart struct {
	AuthorizationURL string `json:"authorization_url"`
	// State is the state parameter the redirect must carry back.
	State     string    `json:"state"`
	Handle    string    `json:"handle"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SSOFinishRequest is the body of POST /v1/auth/sso/finish: the code and state the redirect
// carried, the PKCE verifier, and the handle. The server exchanges the code with the client
// secret it holds and verifies the ID token; the answer is a LoginResponse (a session).
type SSOFinishRequest struct {
	Handle       string `json:"handle"`
	Code         string `json:"code"`
	State        string `json:"state"`
	CodeVerifier string `json:"code_verifier"`
}

// SSODeviceRequest is the body of POST /v1/auth/sso/device: a sign-in through the device
// authorization grant (RFC 8628), for a machine without a browser.
type SSODeviceRequest struct {
	Email string `json:"email"`
}

// SSODevice says where the person signs in, with which code.
type SSODevice struct {
	VerificationURI         string    `json:"verification_uri"`
	VerificationURIComplete string    `json:"verification_uri_complete,omitempty"`
	UserCode                string    `json:"user_code"`
	Handle                  string    `json:"handle"`
	ExpiresAt               time.Time `json:"expires_at"`
}

// SSODevicePollRequest is the body of POST /v1/auth/sso/device/poll.
type SSODevicePollRequest struct {
	Handle string `json:"handle"`
}

// SSODevicePoll is the answer to a poll: Status "pending" (poll again) or "complete" with the
// session in Login.
type SSODevicePoll struct {
	Status string         `json:"status"`
	Login  *LoginResponse `json:"login,omitempty"`
}

// The statuses of a device sign-in.
const (
	SSODevicePending  = "pending"
	SSODeviceComplete = "complete"
)
