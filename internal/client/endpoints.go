package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
)

// Health asks GET /v1/health (no token needed).
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var h api.Health
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathHealth, idempotent: true}, &h)
	return h, err
}

// Logout revokes the token the client presents.
func (c *Client) Logout(ctx context.Context) error {
	// Revoking twice is harmless, so a lost answer may be retried.
	return c.do(ctx, request{method: http.MethodPost, path: api.PathLogout, idempotent: true}, nil)
}

// WhoAmI returns the user, account and token the client's token speaks for.
func (c *Client) WhoAmI(ctx context.Context) (api.WhoAmI, error) {
	var w api.WhoAmI
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathWhoAmI, idempotent: true}, &w)
	return w, err
}

// CreateToken mints an API token; the answer holds its secret, shown this once. Not retried:
// a retry after a lost answer would mint a second token.
func (c *Client) CreateToken(ctx context.Context, req api.CreateTokenRequest) (api.CreateTokenResponse, error) {
	var out api.CreateTokenResponse
	err := c.do(ctx, request{method: http.MethodPost, path: api.PathTokens, body: req}, &out)
	return out, err
}

// TokenListOptions filter Tokens: Kind "api" (default), "session" or "all"; User "" (one's
// own), "all" (admin) or a user id.
type TokenListOptions struct {
	Kind string
	User string
}

// Tokens lists token metadata (never secrets).
func (c *Client) Tokens(ctx context.Context, o TokenListOptions) ([]api.TokenInfo, error) {
	q := url.Values{}
	if o.Kind != "" {
		q.Set("kind", o.Kind)
	}
	if o.User != "" {
		q.Set("user", o.User)
	}
	var out api.TokenList
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathTokens, query: q, idempotent: true}, &out)
	return out.Tokens, err
}

// Token returns one token's metadata.
func (c *Client) Token(ctx context.Context, id string) (api.TokenInfo, error) {
	var out api.TokenInfo
	err := c.do(ctx, request{method: http.MethodGet, path: api.PathTokens + "/" + url.PathEscape(id), idempotent: true}, &out)
	return out, err
}

// RevokeToken revokes a token at once (revoking twice is harmless, so it is retried).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: api.PathTokens + "/" + url.PathEscape(id), idempotent: true}, nil)
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	From, To time.Time
	User     string
	Device   string // a device id: the requests it made with its upload credential
	Status   string // "4xx", "5xx" or an exact status
	// PageSize is the number of entries per request (0: the server's default, 100).
	PageSize int
}

// Audit iterates over the transaction log, newest first, fetching pages as it goes.
func (c *Client) Audit(ctx context.Context, f AuditFilter) iter.Seq2[api.AuditEntry, error] {
	return func(yield func(api.AuditEntry, error) bool) {
		q := url.Values{}
		if !f.From.IsZero() {
			q.Set("from", f.From.UTC().Format(time.RFC3339))
		}
		if !f.To.IsZero() {
			q.Set("to", f.To.UTC().Format(time.RFC3339))
		}
		if f.User != "" {
			q.Set("user", f.User)
		}
		if f.Device != "" {
			q.Set("device", f.Device)
		}
		if f.Status != "" {
			q.Set("status", f.Status)
		}
		if f.PageSize > 0 {
			q.Set("limit", strconv.Itoa(f.PageSize))
		}
		for {
			var page api.AuditPage
			if err := c.do(ctx, request{method: http.MethodGet, path: api.PathAudit, query: q, idempotent: true}, &page); err != nil {
				yield(api.AuditEntry{}, err)
				return
			}
			for _, e := range page.Entries {
				if !yield(e, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			q.Set("cursor", page.NextCursor)
		}
	}
}
