package commands

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/timeexpr"
)

func newTokenCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list, show and revoke API tokens",
		Long: `API tokens let scripts use the platform API. Each token has scopes (what it may do), may be
restricted to some sites, expires (90 days by default, a year at most), and can be revoked at
any moment. Its secret is shown once, when it is created: the server keeps only a hash.

Scopes: readings:read, devices:read, devices:write, devices:keys, tokens:write, admin.
A token is never wider than the role of the user who creates it.`,
	}
	cmd.AddCommand(newTokenCreateCmd(f), newTokenListCmd(f), newTokenShowCmd(f), newTokenRevokeCmd(f))
	return cmd
}

// tokenStatus says whether a token works: active, expired or revoked.
func tokenStatus(t api.TokenInfo, now time.Time) string {
	switch {
	case t.Revoked:
		return "revoked"
	case !t.ExpiresAt.After(now):
		return "expired"
	}
	return "active"
}

// parseExpiry reads --expires: a duration from now (90d, 12h, 2w) or a time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var t time.Time
	if d, err := timeexpr.ParseDuration(s); err == nil { // a lifetime: 90d, 12h
		t = now.Add(d)
	} else if t, err = timeexpr.Parse(s, now, time.Local); err != nil {
		return t, usageErrorf("--expires %q: use a duration such as 90d, 12h or 2w, or a date such as 2027-06-30", s)
	}
	if !t.After(now) {
		return t, usageErrorf("--expires %q is in the past", s)
	}
	return t, nil
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func formatOptionalDate(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return formatDate(*t)
}

// sitesText lists the sites a token is restricted to as the user named them; none means all.
func sitesText(sites []string) string {
	if len(sites) == 0 {
		return "all"
	}
	return strings.Join(sites, ",")
}
