package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/server/ssotest"
	"github.com/smart-impulse/smartx/internal/store"
)

// The tests of single sign-on run a real OpenID provider on loopback (ssotest: the example
// provider of github.com/zitadel/oidc) and drive the person's browser with an HTTP client that
// fills its login form.

const (
	ssoClientID     = "smartx-platform"
	ssoClientSecret = "Qk7v-client-secret-9a1f3c"
	ssoPassword     = "provider-password-1"
	ssoRedirect     = "http://127.0.0.1:1/callback" // nothing listens: the browser stops there
)

type ssoFixture struct {
	t     *testing.T
	ts    *testServer
	op    *ssotest.Provider
	acc   Account
	owner person
}

// newSSOFixture starts a provider and a server whose account "Acme" signs in acme.example
// through it (analysts by default, admins for the group smartx-admins).
func newSSOFixture(t *testing.T, opts ...testOption) *ssoFixture {
	t.Helper()
	op, err := ssotest.Start(ssotest.Options{
		Users: []ssotest.User{
			{Email: "ana@acme.example", Password: ssoPassword, EmailVerified: true},
			{Email: "ada@acme.example", Password: ssoPassword, EmailVerified: true, Groups: []string{"staff", "smartx-admins"}},
			{Email: "owner@acme.example", Password: ssoPassword, EmailVerified: true},
			{Email: "eve@elsewhere.example", Password: ssoPassword, EmailVerified: true},
		},
		Clients: []ssotest.Client{{ID: ssoClientID, Secret: ssoClientSecret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	ts := newTestServer(t, opts...)
	// Tokens carry the provider's real times: the server's clock starts at the real one.
	ts.clock.mu.Lock()
	ts.clock.t = time.Now().UTC()
	ts.clock.mu.Unlock()
	f := &ssoFixture{t: t, ts: ts, op: op}
	f.acc = ts.account("Acme")
	f.owner = ts.person(f.acc, "owner@acme.example", api.RoleOwner)
	resp, body := ts.do("PUT", api.PathAccountSSO, f.owner.session, f.settings())
	decode[api.SSOSettings](t, resp, body, http.StatusOK)
	return f
}

func (f *ssoFixture) settings() api.SSOSettingsRequest {
	return api.SSOSettingsRequest{Issuer: f.op.Issuer, ClientID: ssoClientID, ClientSecret: ssoClientSecret, Domains: []string{"acme.example"},
		RoleClaim: "groups", RoleMap: []api.SSORoleRule{{Value: "smartx-admins", Role: api.RoleAdmin}}, DefaultRole: api.RoleAnalyst}
}

// start asks the server for the provider's authorization URL, as smartx auth login --sso does.
func (f *ssoFixture) start(email string) (api.SSOStart, string) {
	f.t.Helper()
	verifier := oauth2.GenerateVerifier()
	resp, body := f.ts.do("POST", api.PathSSOStart, "", api.SSOStartRequest{Email: email, RedirectURI: ssoRedirect,
		CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier), CodeChallengeMethod: "S256"})
	return decode[api.SSOStart](f.t, resp, body, http.StatusOK), verifier
}

// signIn runs a whole sign-in of a person of the provider and returns the finish's answer.
func (f *ssoFixture) signIn(email string) (*http.Response, []byte) {
	f.t.Helper()
	return f.signInAs(email, email)
}

// signInAs starts a sign-in with one e-mail, and signs in at the provider as username.
func (f *ssoFixture) signInAs(email, username string) (*http.Response, []byte) {
	f.t.Helper()
	start, verifier := f.start(email)
	b := &ssotest.Browser{Username: username, Password: ssoPassword, StopAt: "http://127.0.0.1:1/"}
	final, err := b.SignIn(context.Background(), start.AuthorizationURL)
	if err != nil {
		f.t.Fatal(err)
	}
	q := final.Query()
	if q.Get("state") != start.State || q.Get("code") == "" {
		f.t.Fatalf("the provider redirected to %s (state %q)", final, start.State)
	}
	return f.ts.do("POST", api.PathSSOFinish, "", api.SSOFinishRequest{Handle: start.Handle, Code: q.Get("code"), State: q.Get("state"), CodeVerifier: verifier})
}

func (f *ssoFixture) session(email string) api.LoginResponse {
	f.t.Helper()
	resp, body := f.signIn(email)
	return decode[api.LoginResponse](f.t, resp, body, http.StatusOK)
}

func TestSSOSignIn(t *testing.T) {
	f := newSSOFixture(t)
	ts := f.ts

	// A person of an allowed domain is made a user at their first sign-in, with the default
	// role, and gets an ordinary session.
	lr := f.session("ana@acme.example")
	if lr.Kind != api.TokenKindSession || lr.User.Email != "ana@acme.example" || lr.User.Role != api.RoleAnalyst || lr.User.AccountID != f.acc.ID {
		t.Fatalf("first sign-in: %+v", lr)
	}
	resp, body := ts.do("GET", api.PathWhoAmI, lr.Token, nil)
	who := decode[api.WhoAmI](t, resp, body, http.StatusOK)
	if !equalScopes(who.Token.Scopes, api.RoleAnalyst.Scopes()) {
		t.Fatalf("session scopes %v, want the analyst's", who.Token.Scopes)
	}
	resp, _ = ts.do("GET", api.PathSites, lr.Token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list sites: %d", resp.StatusCode)
	}
	// Signing in again finds the same user; logging out revokes the session like any other.
	again := f.session("ana@acme.example")
	if again.User.ID != lr.User.ID {
		t.Fatalf("second sign-in made another user: %s, then %s", lr.User.ID, again.User.ID)
	}
	resp, _ = ts.do("POST", api.PathLogout, again.Token, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, body = ts.do("GET", api.PathWhoAmI, again.Token, nil)
	problem(t, resp, body, api.CodeTokenRevoked)

	// The group claim maps to a role.
	ada := f.session("ada@acme.example")
	if ada.User.Role != api.RoleAdmin {
		t.Fatalf("ada's role %s, want admin from the groups claim", ada.User.Role)
	}

	// A user with a password signs in through the provider too, and keeps their role.
	own := f.session("owner@acme.example")
	if own.User.ID != f.owner.user.ID || own.User.Role != api.RoleOwner {
		t.Fatalf("the owner signing in: %+v", own.User)
	}

	// Refused: a person of the provider whose e-mail is in another domain (verifiedEmail's
	// test covers e-mails the provider says it has not verified, which the example provider
	// cannot say: it leaves email_verified out when false).
	resp, body = f.signInAs("eve@acme.example", "eve@elsewhere.example")
	p := problem(t, resp, body, api.CodeSSOForbidden)
	if !strings.Contains(p.Detail, "eve@elsewhere.example is not in a domain this account signs in through single sign-on (acme.example)") {
		t.Errorf("another domain: %s", p.Detail)
	}
	if _, err := ts.svc.UserByEmail(context.Background(), "eve@elsewhere.example"); err == nil {
		t.Error("a refused person was made a user")
	}

	// An e-mail whose domain no account links.
	resp, body = ts.do("POST", api.PathSSOStart, "", api.SSOStartRequest{Email: "bob@nowhere.example", RedirectURI: ssoRedirect,
		CodeChallenge: strings.Repeat("a", 43), CodeChallengeMethod: "S256"})
	p = problem(t, resp, body, api.CodeSSONotLinked)
	if p.Detail != "no account signs in nowhere.example through single sign-on: log in with your password (smartx auth login)" {
		t.Errorf("unlinked domain: %s", p.Detail)
	}
	// Only loopback redirects, and PKCE with S256.
	for _, req := range []api.SSOStartRequest{
		{Email: "ana@acme.example", RedirectURI: "https://attacker.example/cb", CodeChallenge: strings.Repeat("a", 43), CodeChallengeMethod: "S256"},
		{Email: "ana@acme.example", RedirectURI: ssoRedirect, CodeChallenge: strings.Repeat("a", 43), CodeChallengeMethod: "plain"},
	} {
		resp, body = ts.do("POST", api.PathSSOStart, "", req)
		problem(t, resp, body, api.CodeValidationFailed)
	}

	// A redirect whose state is not the sign-in's, and a handle that was altered.
	start, verifier := f.start("ana@acme.example")
	resp, body = ts.do("POST", api.PathSSOFinish, "", api.SSOFinishRequest{Handle: start.Handle, Code: "x", State: "forged", CodeVerifier: verifier})
	problem(t, resp, body, api.CodeSSOFailed)
	resp, body = ts.do("POST", api.PathSSOFinish, "", api.SSOFinishRequest{Handle: start.Handle[:len(start.Handle)-2] + "AA", Code: "x", State: start.State, CodeVerifier: verifier})
	problem(t, resp, body, api.CodeSSOFailed)
	// A sign-in code without its PKCE verifier is refused by the provider.
	start, _ = f.start("ana@acme.example")
	final, err := (&ssotest.Browser{Username: "ana@acme.example", Password: ssoPassword, StopAt: "http://127.0.0.1:1/"}).SignIn(context.Background(), start.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do("POST", api.PathSSOFinish, "", api.SSOFinishRequest{Handle: start.Handle, Code: final.Query().Get("code"), State: start.State,
		CodeVerifier: oauth2.GenerateVerifier()})
	p = problem(t, resp, body, api.CodeSSOFailed)
	if !strings.Contains(p.Detail, "the identity provider refused the sign-in code") {
		t.Errorf("wrong verifier: %s", p.Detail)
	}

	// Nothing of the link is in the database in clear.
	raw := ts.storedBytes(t)
	for _, secret := range []string{ssoClientSecret, ssoClientID, "acme.example", "smartx-admins", "ada@acme"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%q is in the database in clear", secret)
		}
	}
}

func equalScopes(a, b []api.Scope) bool {
	return api.JoinScopes(api.SortScopes(a)) == api.JoinScopes(api.SortScopes(b))
}

// The platform refuses an ID token that was altered, issued to another client, or expired,
// each with a one-line reason, and makes no user.
func TestSSORefusesBadIDTokens(t *testing.T) {
	f := newSSOFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		mode ssotest.Mode
		want string
	}{
		{ssotest.Tampered, "the ID token does not verify against the identity provider's keys"},
		{ssotest.ForeignAudience, "the ID token was issued to another client, not this account's"},
		{ssotest.Expired, "the identity provider's ID token expired at"},
	} {
		if err := f.op.SetMode(ctx, tc.mode); err != nil {
			t.Fatal(err)
		}
		resp, body := f.signIn("ana@acme.example")
		p := problem(t, resp, body, api.CodeSSOFailed)
		if !strings.HasPrefix(p.Detail, tc.want) || strings.Contains(p.Detail, "\n") {
			t.Errorf("mode %d: %q, want it to start with %q on one line", tc.mode, p.Detail, tc.want)
		}
	}
	if _, err := f.ts.svc.UserByEmail(ctx, "ana@acme.example"); err == nil {
		t.Error("a refused sign-in made a user")
	}
	if err := f.op.SetMode(ctx, ssotest.Normal); err != nil {
		t.Fatal(err)
	}
	f.session("ana@acme.example")
}

func TestSSOSettings(t *testing.T) {
	f := newSSOFixture(t)
	ts := f.ts
	resp, body := ts.do("GET", api.PathAccountSSO, f.owner.session, nil)
	got := decode[api.SSOSettings](t, resp, body, http.StatusOK)
	if got.Issuer != f.op.Issuer || got.ClientID != ssoClientID || !got.ClientSecretSet || strings.Join(got.Domains, ",") != "acme.example" ||
		got.DefaultRole != api.RoleAnalyst || got.RoleClaim != "groups" || len(got.RoleMap) != 1 {
		t.Fatalf("GET = %+v", got)
	}
	if bytes.Contains(body, []byte(ssoClientSecret)) {
		t.Fatal("the client secret was answered")
	}

	// Only owners.
	admin := ts.person(f.acc, "admin@other-domain.example", api.RoleAdmin)
	resp, body = ts.do("GET", api.PathAccountSSO, admin.session, nil)
	problem(t, resp, body, api.CodeForbidden)

	bad := func(mutate func(*api.SSOSettingsRequest), field string) {
		t.Helper()
		req := f.settings()
		mutate(&req)
		resp, body := ts.do("PUT", api.PathAccountSSO, f.owner.session, req)
		p := problem(t, resp, body, api.CodeValidationFailed)
		if len(p.Errors) == 0 || p.Errors[0].Field != field {
			t.Errorf("want an error on %s, got %+v", field, p.Errors)
		}
	}
	bad(func(r *api.SSOSettingsRequest) { r.Issuer = "http://idp.example/" }, "issuer")
	bad(func(r *api.SSOSettingsRequest) { r.Domains = []string{"not a domain"} }, "domains[0]")
	bad(func(r *api.SSOSettingsRequest) { r.RoleMap[0].Role = api.RoleOwner }, "role_map[0].role")
	bad(func(r *api.SSOSettingsRequest) { r.DefaultRole, r.RoleClaim, r.RoleMap = "", "", nil }, "default_role")
	bad(func(r *api.SSOSettingsRequest) { r.RequireSSO = true }, "break_glass_user_id")
	bad(func(r *api.SSOSettingsRequest) { r.RequireSSO, r.BreakGlassUserID = true, admin.user.ID }, "break_glass_user_id")
	bad(func(r *api.SSOSettingsRequest) { r.ClientID, r.ClientSecret = "another-client", "" }, "client_secret")

	// The secret may be left out while the issuer and client id stay.
	req := f.settings()
	req.ClientSecret = ""
	req.Domains = append(req.Domains, "acme.fr")
	resp, body = ts.do("PUT", api.PathAccountSSO, f.owner.session, req)
	if got := decode[api.SSOSettings](t, resp, body, http.StatusOK); len(got.Domains) != 2 {
		t.Fatalf("after adding a domain: %+v", got)
	}
	f.session("ana@acme.example") // the kept secret still works

	// A provider that cannot be discovered is refused, unless the check is skipped.
	req = f.settings()
	req.Issuer = "http://127.0.0.1:1/"
	resp, body = ts.do("PUT", api.PathAccountSSO, f.owner.session, req)
	problem(t, resp, body, api.CodeSSOUnavailable)

	// A domain signs in to one account.
	other := ts.account("Other")
	otherOwner := ts.person(other, "boss@other.example", api.RoleOwner)
	req = f.settings()
	req.Domains = []string{"other.example", "acme.fr"}
	resp, body = ts.do("PUT", api.PathAccountSSO, otherOwner.session, req)
	problem(t, resp, body, api.CodeConflict)

	// Removing the link: its users stay, and can no longer sign in through it.
	resp, _ = ts.do("DELETE", api.PathAccountSSO, f.owner.session, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	resp, body = ts.do("GET", api.PathAccountSSO, f.owner.session, nil)
	problem(t, resp, body, api.CodeNotFound)
	if _, err := ts.svc.UserByEmail(context.Background(), "ana@acme.example"); err != nil {
		t.Fatalf("the users went with the link: %v", err)
	}
}

// An account that requires single sign-on refuses password logins, except its break-glass
// owner's; users made at sign-in have no password at all.
func TestSSORequired(t *testing.T) {
	f := newSSOFixture(t)
	ts := f.ts
	colleague := ts.person(f.acc, "colleague@acme.example", api.RoleSupport)
	ana := f.session("ana@acme.example")
	req := f.settings()
	req.RequireSSO, req.BreakGlassUserID = true, f.owner.user.ID
	resp, body := ts.do("PUT", api.PathAccountSSO, f.owner.session, req)
	if got := decode[api.SSOSettings](t, resp, body, http.StatusOK); !got.RequireSSO || got.BreakGlassEmail != "owner@acme.example" {
		t.Fatalf("require SSO: %+v", got)
	}
	resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: colleague.user.Email, Password: colleague.password})
	p := problem(t, resp, body, api.CodeSSORequired)
	if p.Detail != "your account signs in through its identity provider, not with a password: run `smartx auth login --sso`" {
		t.Errorf("password login: %s", p.Detail)
	}
	ts.login(f.owner.user.Email, f.owner.password) // break glass
	// A wrong password is the same 401 as anyone's, whatever the account requires.
	resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: colleague.user.Email, Password: "not the password at all"})
	problem(t, resp, body, api.CodeUnauthenticated)
	// A user made at sign-in has no password: any is wrong, and they cannot "change" it.
	resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ana@acme.example", Password: ""})
	problem(t, resp, body, api.CodeValidationFailed)
	resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ana@acme.example", Password: "anything at all 123"})
	problem(t, resp, body, api.CodeUnauthenticated)
	resp, body = ts.do("POST", api.PathPassword, ana.Token, api.PasswordChangeRequest{Current: "x", New: "a new password for me 77"})
	p = problem(t, resp, body, api.CodeValidationFailed)
	if !strings.Contains(p.Errors[0].Message, "you have no password") {
		t.Errorf("password change of a user without one: %+v", p.Errors)
	}
}

// The server asks the provider, with each user's refresh token, whether they still exist: a
// person deleted at the provider is disabled on the platform, their sessions end, and their
// next successful sign-in there enables them again. An owner's decision is not undone.
func TestSSOCheckDisablesUsers(t *testing.T) {
	f := newSSOFixture(t)
	ts := f.ts
	ctx := context.Background()
	ana := f.session("ana@acme.example")
	ada := f.session("ada@acme.example")
	id, err := ts.svc.Store().SSOIdentity(ctx, f.acc.ID, ana.User.ID)
	if err != nil || id.SealedRefresh == nil {
		t.Fatalf("no refresh token kept: %+v, %v", id, err)
	}

	ts.clock.Advance(20 * time.Minute)
	res, err := ts.svc.CheckSSOUsers(ctx, DefaultSSOCheckEvery)
	if err != nil || res != (SSOCheck{Checked: 2}) {
		t.Fatalf("first check: %+v, %v", res, err)
	}
	rotated, _ := ts.svc.Store().SSOIdentity(ctx, f.acc.ID, ana.User.ID)
	if bytes.Equal(rotated.SealedRefresh, id.SealedRefresh) {
		t.Error("the provider's rotated refresh token was not kept")
	}
	if res, _ := ts.svc.CheckSSOUsers(ctx, DefaultSSOCheckEvery); res.Checked != 0 {
		t.Fatalf("checked again within the period: %+v", res)
	}

	// Ana leaves: the provider deletes her.
	f.op.DeleteUser("ana@acme.example")
	ts.clock.Advance(20 * time.Minute)
	res, err = ts.svc.CheckSSOUsers(ctx, DefaultSSOCheckEvery)
	if err != nil || res != (SSOCheck{Checked: 2, Disabled: 1}) {
		t.Fatalf("check after the deletion: %+v, %v", res, err)
	}
	resp, body := ts.do("GET", api.PathWhoAmI, ana.Token, nil)
	problem(t, resp, body, api.CodeTokenRevoked)
	resp, _ = ts.do("GET", api.PathWhoAmI, ada.Token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a colleague's session ended too: %d", resp.StatusCode)
	}
	u, _ := ts.svc.UserByEmail(ctx, "ana@acme.example")
	if !u.Disabled() {
		t.Fatal("ana is not disabled")
	}
	if err := ts.srv.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	page, _ := ts.svc.Store().ListAudit(ctx, store.AuditFilter{AccountID: f.acc.ID, UserID: ana.User.ID})
	if len(page.Entries) == 0 || page.Entries[0].Method != "SSO" || !strings.Contains(page.Entries[0].Route, "invalid_grant") {
		t.Fatalf("audit log of ana: %+v", page.Entries)
	}

	// She comes back at the provider (the same subject): her sign-in enables her again.
	f.op.AddUser(ssotest.User{Email: "ana@acme.example", Password: ssoPassword, EmailVerified: true})
	back := f.session("ana@acme.example")
	if back.User.ID != ana.User.ID || back.User.Disabled {
		t.Fatalf("ana back: %+v", back.User)
	}

	// A user an owner disabled stays out, whatever the provider says.
	resp, _ = ts.do("POST", api.PathUsers+"/"+ada.User.ID+"/disable", f.owner.session, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("disable ada: %d", resp.StatusCode)
	}
	resp, body = f.signIn("ada@acme.example")
	problem(t, resp, body, api.CodeUserDisabled)

	// A provider that cannot be reached disables nobody: the check is tried again later.
	f.op.Close()
	ts.clock.Advance(20 * time.Minute)
	ts.svc.sso = newSSOProviders(nil, ts.clock.Now) // forget the discovered provider
	res, err = ts.svc.CheckSSOUsers(ctx, DefaultSSOCheckEvery)
	if err != nil || res.Disabled != 0 || res.Failed != 1 {
		t.Fatalf("check with the provider down: %+v, %v", res, err)
	}
}

// A machine without a browser signs in with the device authorization grant.
func TestSSODeviceCode(t *testing.T) {
	if testing.Short() {
		t.Skip("the provider's polling interval is 5 s")
	}
	f := newSSOFixture(t)
	ts := f.ts
	resp, body := ts.do("POST", api.PathSSODevice, "", api.SSODeviceRequest{Email: "ada@acme.example"})
	dev := decode[api.SSODevice](t, resp, body, http.StatusOK)
	if dev.UserCode == "" || !strings.HasPrefix(dev.VerificationURIComplete, f.op.Issuer) {
		t.Fatalf("device sign-in: %+v", dev)
	}
	// Nobody has entered the code yet.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- (&ssotest.Browser{Username: "ada@acme.example", Password: ssoPassword}).DeviceSignIn(ctx, dev.VerificationURIComplete)
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var poll api.SSODevicePoll
	for poll.Status != api.SSODeviceComplete {
		resp, body = ts.do("POST", api.PathSSODevicePoll, "", api.SSODevicePollRequest{Handle: dev.Handle})
		poll = decode[api.SSODevicePoll](t, resp, body, http.StatusOK)
	}
	if poll.Login == nil || poll.Login.User.Email != "ada@acme.example" || poll.Login.User.Role != api.RoleAdmin || poll.Login.Kind != api.TokenKindSession {
		t.Fatalf("device sign-in: %+v", poll.Login)
	}
}

func TestVerifiedEmail(t *testing.T) {
	for _, tc := range []struct {
		claims map[string]any
		want   string // the e-mail, or the start of the refusal
	}{
		{map[string]any{"email": "Ana@Acme.example", "email_verified": true}, "ana@acme.example"},
		{map[string]any{"email": "ana@acme.example"}, "ana@acme.example"}, // Entra ID sends no email_verified
		{map[string]any{"email": "ana@acme.example", "email_verified": "true"}, "ana@acme.example"},
		{map[string]any{"email": "ana@acme.example", "email_verified": false}, "the identity provider has not verified the e-mail ana@acme.example"},
		{map[string]any{"email": "ana@acme.example", "email_verified": "false"}, "the identity provider has not verified the e-mail"},
		{map[string]any{"sub": "x"}, "the identity provider gave no e-mail for this person"},
		{map[string]any{"email": "not an address"}, "the identity provider's e-mail \"not an address\" is not an e-mail address"},
	} {
		got, err := verifiedEmail(tc.claims)
		if err != nil {
			var pe *problemError
			if !errors.As(err, &pe) || pe.problem.Code != api.CodeSSOForbidden {
				t.Fatalf("%v: %v is not an sso_forbidden problem", tc.claims, err)
			}
			got = pe.problem.Detail
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.claims, got, tc.want)
		}
	}
}

func TestClaimValues(t *testing.T) {
	claims := map[string]any{"groups": []any{"a", "b", 3}, "role": "admin", "realm_access": map[string]any{"roles": []any{"smartx-admin"}}}
	for name, want := range map[string]string{"groups": "a,b", "role": "admin", "realm_access.roles": "smartx-admin", "missing": "", "realm_access.none": ""} {
		if got := strings.Join(claimValues(claims, name), ","); got != want {
			t.Errorf("claimValues(%s) = %q, want %q", name, got, want)
		}
	}
}
