package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smart-impulse/smartx/internal/server/ssotest"
)

// The scripts of single sign-on (sso.txtar) run a real OpenID provider on loopback inside the
// test process (internal/server/ssotest: the example provider of github.com/zitadel/oidc), and
// stand in for the person's browser with ssobrowser, which fills the provider's login form.

// The provider's people and the platform's client at it.
const (
	ssoClientID     = "smartx-platform"
	ssoClientSecret = "Qk7v-client-secret-9a1f3c"
	ssoPassword     = "provider-password-1"
)

var ssoProviders sync.Map // *testscript.TestScript -> *ssotest.Provider

// oidcProvider runs the script's provider:
//
//	oidcprovider start    start it on 127.0.0.1 and set OIDC_ISSUER
//	oidcprovider mode M   what its token endpoint answers: normal, tampered, foreign-audience, expired
//
// Its people are ana@ and ada@acme.example (ada in the group smartx-admins) and
// eve@elsewhere.example, all with the password provider-password-1; the client is
// smartx-platform with the secret in OIDC_CLIENT_SECRET.
func oidcProvider(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: oidcprovider start | mode normal|tampered|foreign-audience|expired")
	}
	switch args[0] {
	case "start":
		p, err := ssotest.Start(ssotest.Options{
			Users: []ssotest.User{
				{Email: "ana@acme.example", Password: ssoPassword, EmailVerified: true},
				{Email: "ada@acme.example", Password: ssoPassword, EmailVerified: true, Groups: []string{"smartx-admins"}},
				{Email: "eve@elsewhere.example", Password: ssoPassword, EmailVerified: true},
			},
			Clients: []ssotest.Client{{ID: ssoClientID, Secret: ssoClientSecret}},
		})
		ts.Check(err)
		ssoProviders.Store(ts, p)
		ts.Defer(func() { p.Close(); ssoProviders.Delete(ts) })
		ts.Setenv("OIDC_ISSUER", p.Issuer)
		ts.Setenv("OIDC_CLIENT_ID", ssoClientID)
		ts.Setenv("OIDC_CLIENT_SECRET", ssoClientSecret)
		ts.Setenv("OIDC_PASSWORD", ssoPassword)
	case "mode":
		v, ok := ssoProviders.Load(ts)
		if !ok || len(args) != 2 {
			ts.Fatalf("oidcprovider mode M, after oidcprovider start")
		}
		modes := map[string]ssotest.Mode{"normal": ssotest.Normal, "tampered": ssotest.Tampered,
			"foreign-audience": ssotest.ForeignAudience, "expired": ssotest.Expired}
		m, ok := modes[args[1]]
		if !ok {
			ts.Fatalf("unknown mode %q", args[1])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ts.Check(v.(*ssotest.Provider).SetMode(ctx, m))
	default:
		ts.Fatalf("usage: oidcprovider start | mode M")
	}
}

// ssoBrowserMain is the browser smartx auth login --sso opens (SMARTX_BROWSER=ssobrowser):
// ssobrowser URL signs in at the provider as SSO_USERNAME with SSO_PASSWORD, following
// redirects to smartx's loopback listener.
func ssoBrowserMain() int {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ssobrowser URL")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := &ssotest.Browser{Username: os.Getenv("SSO_USERNAME"), Password: os.Getenv("SSO_PASSWORD")}
	if _, err := b.SignIn(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "ssobrowser:", err)
		return 1
	}
	return 0
}
