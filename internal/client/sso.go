package client

import (
	"context"
	"net/http"

	"github.com/smart-impulse/smartx/internal/api"
)

// Single sign-on through the account's OpenID Connect provider. None of the POSTs is retried:
// a sign-in code is used once at the provider.

// StartSSO asks for the provider's authorization URL of a sign-in.
func (c *Client) StartSSO(ctx context.Context, req api.SSOStartRequest) (api.SSOStart, error) {
	var out api.SSOStart
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathSSOStart, body: req}, &out)
	return out, err
}

// FinishSSO sends the code of the provider's redirect; the answer is a session.
func (c *Client) FinishSSO(ctx context.Context, req api.SSOFinishRequest) (api.LoginResponse, error) {
	var out api.LoginResponse
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathSSOFinish, body: req}, &out)
	return out, err
}

// StartSSODevice begins a sign-in through the device authorization grant.
func (c *Client) StartSSODevice(ctx context.Context, email string) (api.SSODevice, error) {
	var out api.SSODevice
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathSSODevice, body: api.SSODeviceRequest{Email: email}}, &out)
	return out, err
}

// PollSSODevice waits (up to 20 s on the server) for a device sign-in to finish.
func (c *Client) PollSSODevice(ctx context.Context, handle string) (api.SSODevicePoll, error) {
	var out api.SSODevicePoll
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathSSODevicePoll, body: api.SSODevicePollRequest{Handle: handle}}, &out)
	return out, err
}
