package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/smart-impulse/smartx/internal/api"
)

// UploadPreflightRun sends a preflight run's document (as `smartx preflight -o json` writes it)
// to a site. The server keeps a run once per site, so a retry after a lost answer is safe: the
// answer is then the run kept before, marked Duplicate.
func (c *Client) UploadPreflightRun(ctx context.Context, siteID string, document json.RawMessage) (api.PreflightRun, error) {
	var out api.PreflightRun
	err := c.do(ctx, request{method: http.MethodPost, path: sitePath(siteID, api.SitePreflightSuffix), body: document, idempotent: true}, &out)
	return out, err
}

// SiteStatus returns a site at a glance: the latest preflight runs, its devices' contact,
// losses and gaps, and what needs attention.
func (c *Client) SiteStatus(ctx context.Context, siteID string) (api.SiteStatus, error) {
	var out api.SiteStatus
	err := c.do(ctx, request{method: http.MethodGet, path: sitePath(siteID, api.SiteStatusSuffix), idempotent: true}, &out)
	return out, err
}

func sitePath(id, suffix string) string { return api.PathSites + "/" + url.PathEscape(id) + suffix }
