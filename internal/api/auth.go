package api

import "time"

// Paths of the two-step login, the user's own security settings and the account's users.
const (
	PathLoginVerify   = "/v1/auth/login/verify"
	PathLoginResend   = "/v1/auth/login/resend"
	PathPassword      = "/v1/auth/password"
	PathTwoFactor     = "/v1/auth/2fa"
	PathTOTP          = "/v1/auth/2fa/totp"
	PathTOTPConfirm   = "/v1/auth/2fa/totp/confirm"
	PathTOTPDisable   = "/v1/auth/2fa/totp/disable"
	PathRecoveryCodes = "/v1/auth/2fa/recovery-codes"
	PathUsers         = "/v1/users"
)

// ChallengePrefix starts the secret of a pending login; PrefixChallenge its id.
const (
	ChallengePrefix = "sxc_"
	PrefixChallenge = "lch_"
)

// The rules of second factors (docs/security.md).
const (
	LoginCodeDigits      = 6                // digits of an e-mailed code
	LoginCodeTTL         = 10 * time.Minute // an e-mailed code's life
	LoginCodeMaxAttempts = 5                // wrong codes before a new one must be asked for
	LoginCodeResendAfter = 30 * time.Second // between two e-mails of one login
	LoginCodeMaxSends    = 5                // e-mails of one login
	LoginChallengeMaxAge = 30 * time.Minute // a pending login's life, whatever is resent
	RecoveryCodeCount    = 10
	TOTPPeriod           = 30 * time.Second
	TOTPDigits           = 6
)

// SecondFactor is how a user proves a login beyond the password.
type SecondFactor string

// The second factors.
const (
	FactorEmail SecondFactor = "email" // a 6-digit code sent by e-mail
	FactorTOTP  SecondFactor = "totp"  // a code of an authenticator app (RFC 6238), or a recovery code
)

// LoginChallenge is the answer to a correct password (POST /v1/auth/login): no session yet,
// but the handle of the second step. Challenge is a secret: send it back with the code to
// POST /v1/auth/login/verify.
type LoginChallenge struct {
	Challenge string       `json:"challenge"`
	Method    SecondFactor `json:"method"`
	// SentTo is the e-mail the code went to, partly masked (method email).
	SentTo    string    `json:"sent_to,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// CodeLength is the number of digits of the code.
	CodeLength int `json:"code_length"`
	// RecoveryCodesAccepted says a recovery code may stand for the TOTP code.
	RecoveryCodesAccepted bool `json:"recovery_codes_accepted"`
}

// LoginVerifyRequest is the body of POST /v1/auth/login/verify. Without Token the login opens
// a session; with it, it mints a long-lived API token instead (a root token: it has no parent,
// since the password and second factor are its credentials).
type LoginVerifyRequest struct {
	Challenge string              `json:"challenge"`
	Code      string              `json:"code"`
	Token     *CreateTokenRequest `json:"token,omitempty"`
}

// LoginResendRequest is the body of POST /v1/auth/login/resend: a new e-mailed code.
type LoginResendRequest struct {
	Challenge string `json:"challenge"`
}

// LoginResend is the answer to a resend.
type LoginResend struct {
	SentTo    string    `json:"sent_to"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PasswordChangeRequest is the body of POST /v1/auth/password (a session only).
type PasswordChangeRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// TwoFactorStatus is the body of GET /v1/auth/2fa.
type TwoFactorStatus struct {
	// Method is the factor the next login asks for.
	Method SecondFactor `json:"method"`
	TOTP   TOTPStatus   `json:"totp"`
	// RecoveryCodesLeft counts the unused recovery codes (with TOTP).
	RecoveryCodesLeft int `json:"recovery_codes_left"`
	// EmailAvailable says whether this server can send e-mailed codes.
	EmailAvailable bool `json:"email_available"`
}

// TOTPStatus is the state of a user's TOTP.
type TOTPStatus struct {
	Enabled   bool       `json:"enabled"`
	Pending   bool       `json:"pending"` // enrolment started, not confirmed
	EnabledAt *time.Time `json:"enabled_at,omitempty"`
}

// TOTPEnrollment is the answer to POST /v1/auth/2fa/totp: the secret to put in an
// authenticator app, shown once; confirm it with a first code.
type TOTPEnrollment struct {
	Secret    string `json:"secret"` // base32, as apps take it
	URI       string `json:"uri"`    // otpauth://totp/...
	Issuer    string `json:"issuer"`
	Account   string `json:"account"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"` // seconds
	Algorithm string `json:"algorithm"`
}

// CodeRequest carries a code: a TOTP code, or a recovery code where one is accepted.
type CodeRequest struct {
	Code string `json:"code"`
}

// RecoveryCodes are one-time codes that stand for a TOTP code, shown once.
type RecoveryCodes struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// CreateUserRequest is the body of POST /v1/users. The user's first password is generated
// and shown once in the answer.
type CreateUserRequest struct {
	Email string `json:"email"`
	Role  Role   `json:"role"`
}

// CreateUserResponse is a new user and their generated password, shown once.
type CreateUserResponse struct {
	User
	Password string `json:"password"`
}

// UpdateUserRequest is the body of PATCH /v1/users/{id}.
type UpdateUserRequest struct {
	Role *Role `json:"role,omitempty"`
}

// UserList is the body of GET /v1/users.
type UserList struct {
	Users []User `json:"users"`
}
