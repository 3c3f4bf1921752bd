package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/smart-impulse/smartx/internal/api"
)

// The login and the user's own security settings. None of the POSTs is retried: logins and
// codes are rate limited and counted, and a retry would spend an attempt (or send a second
// e-mail, or draw a second secret).

// Login sends an e-mail and password; when they are right the answer is the challenge of the
// second step (VerifyLogin), never a session.
func (c *Client) Login(ctx context.Context, email, password string) (api.LoginChallenge, error) {
	var out api.LoginChallenge
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathLogin, body: api.LoginRequest{Email: email, Password: password}}, &out)
	return out, err
}

// VerifyLogin finishes a login with the second factor's code: a session, or the API token
// req.Token asks for.
func (c *Client) VerifyLogin(ctx context.Context, req api.LoginVerifyRequest) (api.LoginResponse, error) {
	var out api.LoginResponse
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathLoginVerify, body: req}, &out)
	return out, err
}

// ResendLogin asks for a new e-mailed code.
func (c *Client) ResendLogin(ctx context.Context, challenge string) (api.LoginResend, error) {
	var out api.LoginResend
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathLoginResend, body: api.LoginResendRequest{Challenge: challenge}}, &out)
	return out, err
}

// ChangePassword replaces the user's password (a session only); every session of the user ends.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.do(ctx, request{method: http.MethodPost, path: api.PathPassword, body: api.PasswordChangeRequest{Current: current, New: next}}, nil)
}

// TwoFactor returns the user's second-factor settings.
func (c *Client) TwoFactor(ctx context.Context) (api.TwoFactorStatus, error) {
	var out api.TwoFactorStatus
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathTwoFactor, idempotent: true}, &out)
	return out, err
}

// StartTOTP starts enrolling an authenticator app: the secret is in the answer, shown once.
func (c *Client) StartTOTP(ctx context.Context) (api.TOTPEnrollment, error) {
	var out api.TOTPEnrollment
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathTOTP}, &out)
	return out, err
}

// ConfirmTOTP turns the app on with its first code and returns the recovery codes.
func (c *Client) ConfirmTOTP(ctx context.Context, code string) (api.RecoveryCodes, error) {
	var out api.RecoveryCodes
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathTOTPConfirm, body: api.CodeRequest{Code: code}}, &out)
	return out, err
}

// DisableTOTP turns the app off, with a current code or a recovery code.
func (c *Client) DisableTOTP(ctx context.Context, code string) error {
	return c.do(ctx, request{method: http.MethodPost, path: api.PathTOTPDisable, body: api.CodeRequest{Code: code}}, nil)
}

// RegenerateRecoveryCodes replaces the recovery codes, with a current code.
func (c *Client) RegenerateRecoveryCodes(ctx context.Context, code string) (api.RecoveryCodes, error) {
	var out api.RecoveryCodes
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathRecoveryCodes, body: api.CodeRequest{Code: code}}, &out)
	return out, err
}

// Users lists the account's users (scope admin).
func (c *Client) Users(ctx context.Context) ([]api.User, error) {
	var out api.UserList
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathUsers, idempotent: true}, &out)
	return out.Users, err
}

// User returns one user of the account.
func (c *Client) User(ctx context.Context, id string) (api.User, error) {
	var out api.User
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathUsers + "/" + url.PathEscape(id), idempotent: true}, &out)
	return out, err
}

// CreateUser adds a user; the answer holds their generated password, shown once.
func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest) (api.CreateUserResponse, error) {
	var out api.CreateUserResponse
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathUsers, body: req}, &out)
	return out, err
}

// UpdateUser changes a user's role.
func (c *Client) UpdateUser(ctx context.Context, id string, req api.UpdateUserRequest) (api.User, error) {
	var out api.User
	err := c.do(ctx, request{method: http.MethodPatch, path: api.PathUsers + "/" + url.PathEscape(id), body: req, idempotent: true}, &out)
	return out, err
}

// SetUserDisabled disables (revoking their tokens) or enables a user.
func (c *Client) SetUserDisabled(ctx context.Context, id string, disabled bool) (api.User, error) {
	verb := "/enable"
	if disabled {
		verb = "/disable"
	}
	var out api.User
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathUsers + "/" + url.PathEscape(id) + verb, idempotent: true}, &out)
	return out, err
}

// DeleteUser deletes a user, their keys and tokens.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: api.PathUsers + "/" + url.PathEscape(id), idempotent: true}, nil)
}

// ResetUserTwoFactor removes a user's authenticator app and recovery codes (an owner only).
func (c *Client) ResetUserTwoFactor(ctx context.Context, id string) (api.User, error) {
	var out api.User
	err := c.do(ctx, request{method: http.MethodDelete, path: api.PathUsers + "/" + url.PathEscape(id) + "/2fa", idempotent: true}, &out)
	return out, err
}

// ReplaceDevice swaps the hardware behind a device; the answer holds the new unit's key and
// credential, shown once.
func (c *Client) ReplaceDevice(ctx context.Context, id, serial string) (api.ProvisionedDevice, error) {
	var out api.ProvisionedDevice
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathDevices + "/" + url.PathEscape(id) + "/replace", body: api.ReplaceDeviceRequest{Serial: serial}}, &out)
	return out, err
}
