package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
)

// TestRoutesMatchOpenAPI fails when a route is registered but not in docs/api/openapi.yaml, or
// the other way round, or when they disagree on the scope or on needing a token.
func TestRoutesMatchOpenAPI(t *testing.T) {
	raw, err := os.ReadFile("../../docs/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string                                `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node       `yaml:"paths"`
		Comps   map[string]map[string]json.RawMessage `yaml:"-"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1.x", spec.OpenAPI)
	}
	type op struct {
		public bool
		device bool // authenticated by a device's upload credential
		scope  string
	}
	documented := map[string]op{}
	for path, methods := range spec.Paths {
		for method, node := range methods {
			if method == "parameters" {
				continue
			}
			var o struct {
				Security *[]map[string][]string `yaml:"security"`
				Scope    string                 `yaml:"x-smartx-scope"`
			}
			if err := node.Decode(&o); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			device := o.Security != nil && len(*o.Security) == 1
			if device {
				_, device = (*o.Security)[0]["deviceCredential"]
			}
			documented[strings.ToUpper(method)+" "+path] = op{public: o.Security != nil && len(*o.Security) == 0, device: device, scope: o.Scope}
		}
	}
	ts := newTestServer(t)
	registered := map[string]op{}
	for _, rt := range ts.srv.routes {
		registered[rt.method+" "+rt.path] = op{public: rt.public, device: rt.handleDevice != nil, scope: string(rt.scope)}
	}
	for k, want := range registered {
		got, ok := documented[k]
		if !ok {
			t.Errorf("route %s is registered but missing from openapi.yaml", k)
		} else if got != want {
			t.Errorf("route %s: openapi.yaml says %+v, the server %+v", k, got, want)
		}
	}
	for k := range documented {
		if _, ok := registered[k]; !ok {
			t.Errorf("openapi.yaml documents %s, which the server does not register", k)
		}
	}
	// The problem codes and scopes in the spec are the ones in internal/api.
	for _, c := range api.AllCodes {
		if !strings.Contains(string(raw), string(c)) {
			t.Errorf("code %s is not in openapi.yaml", c)
		}
	}
	for _, s := range api.AllScopes {
		if !strings.Contains(string(raw), string(s)) {
			t.Errorf("scope %s is not in openapi.yaml", s)
		}
	}
	for _, r := range api.AllRejectReasons {
		if !strings.Contains(string(raw), string(r)) {
			t.Errorf("reject reason %s is not in openapi.yaml", r)
		}
	}
}

func TestHealth(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.do("GET", api.PathHealth, "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("health: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var fields map[string]any
	json.Unmarshal(body, &fields)
	if len(fields) != 3 || fields["status"] != "ok" || fields["version"] != "test" || fields["time"] != "2026-05-01T12:00:00Z" {
		t.Fatalf("health body %s", body)
	}
}

// unreadableStore is a database the server cannot reach.
type unreadableStore struct{ store.Store }

func (unreadableStore) RevocationEpoch(context.Context) (int64, error) {
	return 0, errors.New("connection refused")
}

// A replica that cannot reach its database says so to the load balancer's probe.
func TestHealthWithoutDatabase(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := auth.NewKey(rand.Reader)
	params := testPasswordParams
	svc, err := NewService(ctx, ServiceConfig{Store: unreadableStore{st}, MasterKey: key, PasswordParams: &params})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv, err := New(Config{Service: svc, Version: "test", AuditFlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", api.PathHealth, nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"status":"unavailable"`) {
		t.Fatalf("health without a database: %d %s", rec.Code, rec.Body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := ts.do("GET", api.PathHealth, "", nil)
	for h, want := range map[string]string{
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Content-Security-Policy":   "default-src 'none'; frame-ancestors 'none'",
		"Cache-Control":             "no-store",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.HasPrefix(resp.Header.Get("X-Request-Id"), api.PrefixRequest) {
		t.Errorf("X-Request-Id = %q", resp.Header.Get("X-Request-Id"))
	}
}

func TestLoginWhoAmILogout(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	p := ts.person(acc, "Ada@Example.com", api.RoleAnalyst)
	if !strings.HasPrefix(p.session, api.SessionTokenPrefix) {
		t.Fatalf("session token %q lacks %s", p.session[:8], api.SessionTokenPrefix)
	}
	resp, body := ts.do("GET", api.PathWhoAmI, p.session, nil)
	who := decode[api.WhoAmI](t, resp, body, 200)
	if who.User.Email != "ada@example.com" || who.User.Role != api.RoleAnalyst || who.Account.ID != acc.ID || who.Account.Name != "Acme" ||
		who.Token.Kind != api.TokenKindSession || !slices.Equal(who.Token.Scopes, api.RoleAnalyst.Scopes()) ||
		!who.Token.ExpiresAt.Equal(ts.clock.Now().Add(12*time.Hour)) {
		t.Fatalf("whoami %+v", who)
	}
	resp, body = ts.do("POST", api.PathLogout, p.session, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do("GET", api.PathWhoAmI, p.session, nil)
	problem(t, resp, body, api.CodeTokenRevoked)

	ts.clock.Advance(13 * time.Hour)
	p2 := ts.person(acc, "bob@example.com", api.RoleAnalyst)
	ts.clock.Advance(12 * time.Hour)
	resp, body = ts.do("GET", api.PathWhoAmI, p2.session, nil)
	problem(t, resp, body, api.CodeTokenExpired)
}

func TestLoginFailures(t *testing.T) {
	ts := newTestServer(t)
	p := ts.person(ts.account("Acme"), "ada@example.com", api.RoleOwner)
	wrong, wrongBody := ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: p.password + "x"})
	unknown, unknownBody := ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "nobody@example.com", Password: p.password})
	pw := problem(t, wrong, wrongBody, api.CodeUnauthenticated)
	pu := problem(t, unknown, unknownBody, api.CodeUnauthenticated)
	if pw.Detail != pu.Detail {
		t.Fatalf("a wrong password (%q) and an unknown e-mail (%q) must look the same", pw.Detail, pu.Detail)
	}
	tests := []struct {
		name string
		body any
		ct   string
		want api.Code
	}{
		{"not JSON", "{email", "application/json", api.CodeValidationFailed},
		{"unknown field", `{"email":"a@b.c","password":"x","admin":true}`, "application/json", api.CodeValidationFailed},
		{"two objects", `{"email":"a@b.c","password":"x"}{}`, "application/json", api.CodeValidationFailed},
		{"wrong type", `{"email":1,"password":"x"}`, "application/json", api.CodeValidationFailed},
		{"empty body", "", "application/json", api.CodeValidationFailed},
		{"no password", `{"email":"a@b.c"}`, "application/json", api.CodeValidationFailed},
		{"form encoded", "email=a&password=b", "application/x-www-form-urlencoded", api.CodeUnsupportedMediaType},
		{"over 1 MiB", `{"email":"` + strings.Repeat("a", 1<<20) + `"}`, "application/json", api.CodePayloadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.url+api.PathLogin, strings.NewReader(tt.body.(string)))
			req.Header.Set("Content-Type", tt.ct)
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b []byte
			b, _ = readAll(resp)
			pr := problem(t, resp, b, tt.want)
			if strings.Contains(string(b), p.password) {
				t.Fatal("the problem echoes a password")
			}
			if tt.want == api.CodeValidationFailed && len(pr.Errors) == 0 {
				t.Fatalf("validation problem without errors: %s", b)
			}
		})
	}
}

func TestLoginRateLimitedPerAddress(t *testing.T) {
	ts := newTestServer(t, withLoginLimits(LoginLimits{PerIP: 0.1, BurstIP: 4, PerUser: 100, BurstUser: 100}))
	p := ts.person(ts.account("Acme"), "ada@example.com", api.RoleOwner) // attempts 1 and 2: password, then code
	for i := range 2 {
		resp, body := ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: "wrong password " + string(rune('a'+i))})
		problem(t, resp, body, api.CodeUnauthenticated)
	}
	resp, body := ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: p.password})
	problem(t, resp, body, api.CodeRateLimited)
	if resp.Header.Get("Retry-After") != "10" {
		t.Fatalf("Retry-After = %q, want 10 (one attempt per 10 s)", resp.Header.Get("Retry-After"))
	}
	ts.clock.Advance(10 * time.Second)
	resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: p.password})
	decode[api.LoginChallenge](t, resp, body, 200)
}

func TestLoginRateLimitedPerUser(t *testing.T) {
	ts := newTestServer(t, withLoginLimits(LoginLimits{PerIP: 100, BurstIP: 100, PerUser: 0.5, BurstUser: 3}))
	acc := ts.account("Acme")
	p := ts.person(acc, "ada@example.com", api.RoleOwner) // password and code: two attempts
	colleague := ts.person(acc, "bob@example.com", api.RoleOwner)
	ctx := context.Background()
	// From ever new addresses, as a botnet would: the user's own bucket stops it.
	_, err := ts.svc.Login(ctx, "ada@example.com", "wrong", "192.0.2.1")
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("third attempt: %v", err)
	}
	_, err = ts.svc.Login(ctx, "ada@example.com", p.password, "192.0.2.2")
	var rl *RateLimitError
	if !asError(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("fourth attempt on the user: %v, want a rate limit of 2s", err)
	}
	// A colleague of the attacked user still logs in: buckets are per user, not per account.
	if _, err := ts.svc.Login(ctx, "bob@example.com", colleague.password, "192.0.2.5"); err != nil {
		t.Fatalf("a colleague of the attacked user: %v", err)
	}
	// Unknown e-mails have buckets too, so being limited does not reveal a user exists.
	for range 3 {
		ts.svc.Login(ctx, "ghost@example.com", "x", "192.0.2.3")
	}
	if _, err := ts.svc.Login(ctx, "ghost@example.com", "x", "192.0.2.4"); !asError(err, &rl) {
		t.Fatalf("unknown e-mail not limited: %v", err)
	}
}

func TestLoginUpgradesWeakHashes(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	p := ts.person(acc, "ada@example.com", api.RoleOwner)
	stronger := testPasswordParams
	stronger.Time = 2
	svc2, err := NewService(context.Background(), ServiceConfig{Store: ts.svc.st, MasterKey: masterOf(t, ts), Now: ts.clock.Now,
		PasswordParams: &stronger, Mail: ts.svc.mail})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc2.Login(context.Background(), "ada@example.com", p.password, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	u, _ := ts.svc.st.UserByEmail(context.Background(), ts.svc.emailIndex("ada@example.com"))
	if !strings.Contains(u.PasswordHash, ",t=2,") {
		t.Fatalf("hash not upgraded on login: %s", u.PasswordHash)
	}
}

func TestCreateToken(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	analyst := ts.person(acc, "ana@example.com", api.RoleAnalyst)
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	narrow := ts.mint(owner, api.ScopeTokensWrite, api.ScopeReadingsRead)
	const site1, site2 = "sit_aaaaaaaaaaaaaaaa", "sit_bbbbbbbbbbbbbbbb"
	resp, body := ts.do("POST", api.PathTokens, owner.session, api.CreateTokenRequest{Name: "site", Scopes: []api.Scope{api.ScopeTokensWrite, api.ScopeReadingsRead}, Sites: []string{site1}})
	siteBound := decode[api.CreateTokenResponse](t, resp, body, 201)
	now := ts.clock.Now()
	past, tooFar, fine := now.Add(-time.Minute), now.Add(367*24*time.Hour), now.Add(6*time.Hour)
	afterSession := now.Add(13 * time.Hour)
	root := ts.rootToken(owner, api.ScopeTokensWrite, api.ScopeReadingsRead)

	tests := []struct {
		name   string
		token  string
		req    any
		status int
		code   api.Code
		scope  api.Scope
	}{
		{"analyst within role", analyst.session, api.CreateTokenRequest{Name: "pull", Scopes: []api.Scope{api.ScopeReadingsRead}}, 201, "", ""},
		{"analyst asks admin", analyst.session, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeReadingsRead, api.ScopeAdmin}}, 403, api.CodeInsufficientScope, api.ScopeAdmin},
		{"analyst asks device keys", analyst.session, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeDevicesKeys}}, 403, api.CodeInsufficientScope, api.ScopeDevicesKeys},
		{"wider than the presenting token", narrow.Secret, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeDevicesWrite}}, 403, api.CodeInsufficientScope, api.ScopeDevicesWrite},
		{"unknown scope", owner.session, `{"name":"x","scopes":["readings:write"]}`, 422, api.CodeValidationFailed, ""},
		{"no scopes", owner.session, api.CreateTokenRequest{Name: "x"}, 422, api.CodeValidationFailed, ""},
		{"no name", owner.session, api.CreateTokenRequest{Scopes: []api.Scope{api.ScopeAdmin}}, 422, api.CodeValidationFailed, ""},
		{"expired already", owner.session, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeAdmin}, ExpiresAt: &past}, 422, api.CodeValidationFailed, ""},
		{"over a year", owner.session, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeAdmin}, ExpiresAt: &tooFar}, 422, api.CodeValidationFailed, ""},
		{"bad time", owner.session, `{"name":"x","scopes":["admin"],"expires_at":"tomorrow"}`, 422, api.CodeValidationFailed, ""},
		{"bad site id", owner.session, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeAdmin}, Sites: []string{"paris"}}, 422, api.CodeValidationFailed, ""},
		{"site-bound caller, unbound token", siteBound.Secret, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeReadingsRead}}, 403, api.CodeInsufficientScope, ""},
		{"site-bound caller, other site", siteBound.Secret, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeReadingsRead}, Sites: []string{site2}}, 403, api.CodeInsufficientScope, ""},
		{"site-bound caller, same site", siteBound.Secret, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeReadingsRead}, Sites: []string{site1}, ExpiresAt: &fine}, 201, "", ""},
		{"outliving the session that mints it", owner.session, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeReadingsRead}, ExpiresAt: &afterSession}, 422, api.CodeValidationFailed, ""},
		{"a root token mints for longer", root.Token, api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeReadingsRead}, ExpiresAt: &afterSession}, 201, "", ""},
		{"no token", "", api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeAdmin}}, 401, api.CodeUnauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do("POST", api.PathTokens, tt.token, tt.req)
			if tt.status == 201 {
				c := decode[api.CreateTokenResponse](t, resp, body, 201)
				if !strings.HasPrefix(c.Secret, api.APITokenPrefix) || resp.Header.Get("Location") != api.PathTokens+"/"+c.ID ||
					resp.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("created %+v, headers %v", c, resp.Header)
				}
				return
			}
			p := problem(t, resp, body, tt.code)
			if p.Scope != tt.scope {
				t.Fatalf("problem names scope %q, want %q", p.Scope, tt.scope)
			}
		})
	}

	t.Run("default expiry is 90 days, or the parent's if sooner", func(t *testing.T) {
		if !root.ExpiresAt.Equal(now.Add(90 * 24 * time.Hour)) {
			t.Fatalf("a login's root token expires %v", root.ExpiresAt)
		}
		resp, body := ts.do("POST", api.PathTokens, root.Token, api.CreateTokenRequest{Name: "child", Scopes: []api.Scope{api.ScopeReadingsRead}})
		child := decode[api.CreateTokenResponse](t, resp, body, 201)
		if !child.ExpiresAt.Equal(root.ExpiresAt) || child.ParentID != root.TokenID {
			t.Fatalf("a token minted with a root token: expires %v, parent %q", child.ExpiresAt, child.ParentID)
		}
		c := ts.mint(owner, api.ScopeReadingsRead)
		if !c.ExpiresAt.Equal(now.Add(12 * time.Hour)) {
			t.Fatalf("a token minted with a session expires %v, want with the session", c.ExpiresAt)
		}
	})
	t.Run("the new token works and carries its scopes", func(t *testing.T) {
		c := ts.mint(owner, api.ScopeReadingsRead)
		resp, body := ts.do("GET", api.PathWhoAmI, c.Secret, nil)
		who := decode[api.WhoAmI](t, resp, body, 200)
		if who.Token.ID != c.ID || !slices.Equal(who.Token.Scopes, []api.Scope{api.ScopeReadingsRead}) {
			t.Fatalf("whoami %+v", who.Token)
		}
		resp, body = ts.do("GET", api.PathTokens, c.Secret, nil)
		p := problem(t, resp, body, api.CodeInsufficientScope)
		if p.Scope != api.ScopeTokensWrite || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="tokens:write"`) {
			t.Fatalf("problem %+v, header %q", p, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

func TestSecretsAreShownOnce(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	c := ts.mint(owner, api.ScopeReadingsRead)
	stored, _ := ts.svc.st.Token(context.Background(), c.ID)
	for _, path := range []string{api.PathTokens, api.PathTokens + "?kind=all&user=all", api.PathTokens + "/" + c.ID} {
		resp, body := ts.do("GET", path, owner.session, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		for _, secret := range []string{c.Secret, owner.session, string(mustJSON(stored.SecretHash)), string(mustJSON(stored.SecretSalt))} {
			if strings.Contains(string(body), strings.Trim(secret, `"`)) {
				t.Fatalf("%s returns a secret or its hash: %s", path, body)
			}
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s is cacheable", path)
		}
	}
}

func TestTokenVisibilityAndRevocation(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	ana := ts.person(acc, "ana@example.com", api.RoleAnalyst)
	bob := ts.person(acc, "bob@example.com", api.RoleInstaller)
	anaTok := ts.mint(ana, api.ScopeReadingsRead)
	bobTok := ts.mint(bob, api.ScopeDevicesRead)

	resp, body := ts.do("GET", api.PathTokens, ana.session, nil)
	list := decode[api.TokenList](t, resp, body, 200)
	if len(list.Tokens) != 1 || list.Tokens[0].ID != anaTok.ID {
		t.Fatalf("analyst sees %+v, want only her token", list.Tokens)
	}
	resp, body = ts.do("GET", api.PathTokens+"/"+bobTok.ID, ana.session, nil)
	problem(t, resp, body, api.CodeNotFound) // not 403: another user's token does not exist for her
	resp, body = ts.do("DELETE", api.PathTokens+"/"+bobTok.ID, ana.session, nil)
	problem(t, resp, body, api.CodeNotFound)
	resp, body = ts.do("GET", api.PathTokens+"?user=all", ana.session, nil)
	problem(t, resp, body, api.CodeInsufficientScope)

	resp, body = ts.do("GET", api.PathTokens+"?user=all", owner.session, nil)
	list = decode[api.TokenList](t, resp, body, 200)
	if len(list.Tokens) != 2 {
		t.Fatalf("owner sees %d API tokens, want 2", len(list.Tokens))
	}
	resp, body = ts.do("GET", api.PathTokens+"?user=all&kind=session", owner.session, nil)
	if l := decode[api.TokenList](t, resp, body, 200); len(l.Tokens) != 3 {
		t.Fatalf("owner sees %d sessions, want 3", len(l.Tokens))
	}
	resp, body = ts.do("GET", api.PathTokens+"?kind=nope", owner.session, nil)
	problem(t, resp, body, api.CodeValidationFailed)

	// Revocation takes effect on the very next request, through every cache.
	resp, body = ts.do("GET", api.PathWhoAmI, bobTok.Secret, nil)
	decode[api.WhoAmI](t, resp, body, 200)
	resp, body = ts.do("DELETE", api.PathTokens+"/"+bobTok.ID, owner.session, nil)
	revoked := decode[api.TokenInfo](t, resp, body, 200)
	if !revoked.Revoked || revoked.RevokedAt == nil {
		t.Fatalf("revoke returned %+v", revoked)
	}
	resp, body = ts.do("GET", api.PathWhoAmI, bobTok.Secret, nil)
	problem(t, resp, body, api.CodeTokenRevoked)
	resp, body = ts.do("DELETE", api.PathTokens+"/"+bobTok.ID, owner.session, nil)
	decode[api.TokenInfo](t, resp, body, 200) // revoking twice is fine

	// Last use is recorded (to the minute) and shown.
	if err := ts.svc.tokens.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do("GET", api.PathTokens+"/"+bobTok.ID, owner.session, nil)
	if info := decode[api.TokenInfo](t, resp, body, 200); info.LastUsedAt == nil {
		t.Fatalf("last use not shown: %s", body)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	ts := newTestServer(t)
	a := ts.person(ts.account("A"), "a@example.com", api.RoleOwner)
	b := ts.person(ts.account("B"), "b@example.com", api.RoleOwner)
	aTok := ts.mint(a, api.ScopeReadingsRead)
	for _, method := range []string{"GET", "DELETE"} {
		resp, body := ts.do(method, api.PathTokens+"/"+aTok.ID, b.session, nil)
		problem(t, resp, body, api.CodeNotFound)
	}
	resp, body := ts.do("GET", api.PathTokens+"?user="+a.user.ID, b.session, nil)
	if l := decode[api.TokenList](t, resp, body, 200); len(l.Tokens) != 0 {
		t.Fatalf("account B lists A's tokens: %s", body)
	}
	ts.srv.FlushAudit(context.Background())
	resp, body = ts.do("GET", api.PathAudit+"?limit=1000", b.session, nil)
	for _, e := range decode[api.AuditPage](t, resp, body, 200).Entries {
		if e.AccountID != b.user.AccountID {
			t.Fatalf("account B's audit log shows %+v", e)
		}
	}
	resp, body = ts.do("GET", api.PathWhoAmI, aTok.Secret, nil)
	if who := decode[api.WhoAmI](t, resp, body, 200); who.Account.ID != a.user.AccountID {
		t.Fatal("token of A speaks for another account")
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.do("GET", "/v1/nothing", "", nil)
	problem(t, resp, body, api.CodeNotFound)
	resp, body = ts.do("PUT", api.PathTokens, "", nil)
	problem(t, resp, body, api.CodeMethodNotAllowed)
	if allow := resp.Header.Get("Allow"); allow != "POST, GET, HEAD" {
		t.Fatalf("Allow = %q", allow)
	}
	resp, body = ts.do("GET", api.PathTokens+"?secret=1", "", nil)
	problem(t, resp, body, api.CodeUnauthenticated) // authentication comes first
	for _, h := range []string{"Basic dXNlcjpwYXNz", "Bearer", "Bearer sxt_garbage"} {
		req, _ := http.NewRequest("GET", ts.url+api.PathWhoAmI, nil)
		req.Header.Set("Authorization", h)
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := readAll(resp)
		resp.Body.Close()
		problem(t, resp, b, api.CodeUnauthenticated)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("no WWW-Authenticate for %q", h)
		}
	}
}

func TestAuditLog(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	ana := ts.person(acc, "ana@example.com", api.RoleAnalyst)
	tok := ts.mint(owner, api.ScopeReadingsRead)
	ts.clock.Advance(time.Minute)
	ts.do("GET", api.PathTokens+"/"+tok.ID, owner.session, nil)
	ts.do("GET", api.PathTokens+"/tok_missingmissingmi", owner.session, nil)
	ts.do("GET", api.PathAudit, ana.session, nil) // 403
	if err := ts.srv.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}

	resp, body := ts.do("GET", api.PathAudit, ana.session, nil)
	p := problem(t, resp, body, api.CodeInsufficientScope)
	if p.Scope != api.ScopeAdmin {
		t.Fatalf("audit without admin: %+v", p)
	}

	page := func(query string) api.AuditPage {
		t.Helper()
		if err := ts.srv.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		resp, body := ts.do("GET", api.PathAudit+query, owner.session, nil)
		return decode[api.AuditPage](t, resp, body, 200)
	}
	all := page("")
	var get *api.AuditEntry
	for i, e := range all.Entries {
		if e.Route == "GET /v1/tokens/{id}" && e.Status == 200 {
			get = &all.Entries[i]
		}
		if strings.Contains(e.Route, "tok_") {
			t.Fatalf("the audit log records a raw path: %+v", e)
		}
	}
	if get == nil || get.Method != "GET" || get.UserID != owner.user.ID || get.TokenID == "" || get.SourceIP != "127.0.0.1" ||
		get.AccountID != acc.ID || !strings.HasPrefix(get.RequestID, "req_") || !get.Time.Equal(ts.clock.Now()) {
		t.Fatalf("entry for GET /v1/tokens/{id}: %+v", get)
	}

	errs := page("?status=4xx")
	codes := map[api.Code]int{}
	for _, e := range errs.Entries {
		if e.Status < 400 {
			t.Fatalf("status=4xx returned %+v", e)
		}
		codes[e.ErrorCode]++
	}
	if codes[api.CodeNotFound] != 1 || codes[api.CodeInsufficientScope] != 2 {
		t.Fatalf("error codes %v", codes)
	}
	if got := page("?status=404"); len(got.Entries) != 1 {
		t.Fatalf("status=404: %d entries", len(got.Entries))
	}
	if got := page("?user=" + ana.user.ID); len(got.Entries) == 0 || slices.ContainsFunc(got.Entries, func(e api.AuditEntry) bool { return e.UserID != ana.user.ID }) {
		t.Fatalf("user filter: %+v", got.Entries)
	}
	from := ts.clock.Now()
	got := page("?from=" + from.Format(time.RFC3339))
	if len(got.Entries) < 4 || len(got.Entries) == len(page("").Entries) || slices.ContainsFunc(got.Entries, func(e api.AuditEntry) bool { return e.Time.Before(from) }) {
		t.Fatalf("from filter: %d entries", len(got.Entries))
	}
	// Pages of one, following the cursor, cover everything once.
	all = page("?limit=1000")
	seen := map[string]bool{}
	for q := "?limit=1"; ; {
		resp, body := ts.do("GET", api.PathAudit+q, owner.session, nil) // no flush: the log stands still
		p := decode[api.AuditPage](t, resp, body, 200)
		for _, e := range p.Entries {
			if seen[e.RequestID] {
				t.Fatal("an entry appeared twice while paging")
			}
			seen[e.RequestID] = true
		}
		if p.NextCursor == "" {
			break
		}
		q = "?limit=1&cursor=" + p.NextCursor
	}
	if len(seen) != len(all.Entries) {
		t.Fatalf("paging saw %d entries, the full page %d", len(seen), len(all.Entries))
	}
	for _, bad := range []string{"?status=abc", "?limit=0", "?from=yesterday", "?cursor=forged", "?colour=blue"} {
		resp, body := ts.do("GET", api.PathAudit+bad, owner.session, nil)
		problem(t, resp, body, api.CodeValidationFailed)
	}
	// Every bad parameter is named in one answer: unknown ones first (alphabetically), then the
	// route's own in the order it checks them.
	for path, want := range map[string][]string{
		api.PathAudit + "?status=abc&limit=0&from=yesterday&to=soon&colour=blue&size=2": {"colour", "size", "from", "to", "status", "limit"},
		api.PathDevices + "?state=gone&site=Paris&colour=blue":                          {"colour", "state", "site"},
		api.PathTokens + "?kind=nope&colour=blue":                                       {"colour", "kind"},
		api.PathSites + "?colour=blue&size=2":                                           {"colour", "size"},
	} {
		resp, body := ts.do("GET", path, owner.session, nil)
		var fields []string
		for _, e := range problem(t, resp, body, api.CodeValidationFailed).Errors {
			fields = append(fields, e.Field)
		}
		if !slices.Equal(fields, want) {
			t.Errorf("GET %s names %v, want %v", path, fields, want)
		}
	}
}

func TestAuditRetention(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	day := 24 * time.Hour
	// Requests at day 0: one success, one error; the clock then moves on.
	ts.do("GET", api.PathWhoAmI, owner.session, nil)
	ts.do("GET", api.PathTokens+"/tok_missingmissingmi", owner.session, nil)
	ts.srv.FlushAudit(context.Background())
	count := func() (ok, failed int) {
		page, err := ts.svc.st.ListAudit(context.Background(), store.AuditFilter{AccountID: owner.user.AccountID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if e.Status >= 400 {
				failed++
			} else {
				ok++
			}
		}
		return ok, failed
	}
	ok0, failed0 := count()

	// The purge runs from the maintenance loop: at start, then on every tick.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flushTick, purgeTick := make(chan time.Time), make(chan time.Time)
	done := make(chan struct{})
	go func() { ts.srv.maintain(ctx, flushTick, purgeTick, nil); close(done) }()
	tick := func() {
		purgeTick <- time.Time{}
		flushTick <- time.Time{} // received only once the purge finished
	}
	tick()
	if ok, failed := count(); ok != ok0 || failed != failed0 {
		t.Fatal("fresh entries were purged")
	}
	ts.clock.Advance(7*day + time.Minute)
	tick()
	if ok, failed := count(); ok != 0 || failed != failed0 {
		t.Fatalf("after 7 days: %d ok, %d errors; want 0 and %d", ok, failed, failed0)
	}
	ts.clock.Advance(23 * day)
	tick()
	if ok, failed := count(); ok != 0 || failed != 0 {
		t.Fatalf("after 30 days: %d ok, %d errors remain", ok, failed)
	}
	cancel()
	<-done
}

func TestAccountDeletionRemovesEverything(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	doomed := ts.account("Doomed")
	kept := ts.account("Kept")
	owner := ts.person(doomed, "own@example.com", api.RoleOwner)
	ana := ts.person(doomed, "ana@example.com", api.RoleAnalyst)
	other := ts.person(kept, "other@example.com", api.RoleOwner)
	tok := ts.mint(owner, api.ScopeReadingsRead)
	ts.do("GET", api.PathWhoAmI, tok.Secret, nil)
	ts.srv.FlushAudit(ctx)

	if err := ts.svc.DeleteAccount(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{tok.Secret, owner.session, ana.session} {
		resp, body := ts.do("GET", api.PathWhoAmI, secret, nil)
		problem(t, resp, body, api.CodeUnauthenticated)
	}
	st := ts.svc.st
	users, _ := st.ListUsers(ctx, doomed.ID)
	toks, _ := st.ListTokens(ctx, store.TokenFilter{AccountID: doomed.ID})
	page, _ := st.ListAudit(ctx, store.AuditFilter{AccountID: doomed.ID})
	_, keyErr := st.LatestTokenKey(ctx, doomed.ID, owner.user.ID)
	_, accErr := st.Account(ctx, doomed.ID)
	if len(users) != 0 || len(toks) != 0 || len(page.Entries) != 0 || keyErr == nil || accErr == nil {
		t.Fatalf("left behind: %d users, %d tokens, %d audit entries, key err %v, account err %v", len(users), len(toks), len(page.Entries), keyErr, accErr)
	}
	resp, body := ts.do("GET", api.PathWhoAmI, other.session, nil)
	decode[api.WhoAmI](t, resp, body, 200)
}

func TestSetPasswordEndsSessions(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	p := ts.person(acc, "ada@example.com", api.RoleOwner)
	minted := ts.mint(p, api.ScopeReadingsRead)
	root := ts.rootToken(p, api.ScopeReadingsRead)
	if _, err := ts.svc.SetPassword(context.Background(), "ada@example.com", "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.do("GET", api.PathWhoAmI, p.session, nil)
	problem(t, resp, body, api.CodeTokenRevoked)
	// What the session minted dies with it; a token a login minted is a credential of its own.
	resp, body = ts.do("GET", api.PathWhoAmI, minted.Secret, nil)
	problem(t, resp, body, api.CodeTokenRevoked)
	resp, body = ts.do("GET", api.PathWhoAmI, root.Token, nil)
	decode[api.WhoAmI](t, resp, body, 200)
	ts.login("ada@example.com", "a brand new passphrase")
	if _, err := ts.svc.SetPassword(context.Background(), "ada@example.com", "short"); err == nil {
		t.Fatal("a password under the policy was accepted")
	}
}

func TestAddUserValidation(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme Corp")
	ctx := context.Background()
	good := "violet lantern orbit harbour"
	tests := []struct {
		name string
		nu   NewUser
		want string // error substring; "" for success
	}{
		{"ok", NewUser{AccountID: acc.ID, Email: "ok@example.com", Role: "analyst", Password: good}, ""},
		{"duplicate", NewUser{AccountID: acc.ID, Email: "OK@example.com", Role: "analyst", Password: good}, "already exists"},
		{"bad e-mail", NewUser{AccountID: acc.ID, Email: "not an email", Role: "analyst", Password: good}, "email"},
		{"bad role", NewUser{AccountID: acc.ID, Email: "r@example.com", Role: "god", Password: good}, "unknown role"},
		{"weak password", NewUser{AccountID: acc.ID, Email: "w@example.com", Role: "analyst", Password: "password1234"}, "too common"},
		{"account name in password", NewUser{AccountID: acc.ID, Email: "n@example.com", Role: "analyst", Password: "acme corp is great"}, "account name"},
		{"unknown account", NewUser{AccountID: "acc_nope", Email: "u@example.com", Role: "analyst", Password: good}, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.svc.AddUser(ctx, tt.nu)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("AddUser = %v, want %q", err, tt.want)
			}
		})
	}
}
