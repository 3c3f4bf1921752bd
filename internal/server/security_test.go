package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

func TestUserManagement(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	admin := ts.person(acc, "adm@example.com", api.RoleAdmin)
	ctx := context.Background()

	resp, body := ts.do("POST", api.PathUsers, admin.session, api.CreateUserRequest{Email: "Ana@Example.com", Role: api.RoleAnalyst})
	created := decode[api.CreateUserResponse](t, resp, body, http.StatusCreated)
	if created.Email != "ana@example.com" || created.Role != api.RoleAnalyst || len(created.Password) < 20 || created.TwoFactor != api.FactorEmail ||
		resp.Header.Get("Location") != api.PathUsers+"/"+created.ID {
		t.Fatalf("created %+v", created)
	}
	ana := person{user: User{User: store.User{ID: created.ID, AccountID: acc.ID}, Email: created.Email}, password: created.Password}
	ana.session = ts.login(created.Email, created.Password).Token
	apiTok := ts.rootToken(ana, api.ScopeReadingsRead)

	tests := []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		code   api.Code
	}{
		{"an admin cannot make an owner", admin.session, "POST", api.PathUsers, api.CreateUserRequest{Email: "o2@example.com", Role: api.RoleOwner}, api.CodeForbidden},
		{"nor promote to owner", admin.session, "PATCH", api.PathUsers + "/" + created.ID, api.UpdateUserRequest{Role: ptr(api.RoleOwner)}, api.CodeForbidden},
		{"nor touch an owner", admin.session, "POST", api.PathUsers + "/" + owner.user.ID + "/disable", nil, api.CodeForbidden},
		{"nobody changes themselves here", owner.session, "DELETE", api.PathUsers + "/" + owner.user.ID, nil, api.CodeForbidden},
		{"an analyst is no administrator", ana.session, "GET", api.PathUsers, nil, api.CodeInsufficientScope},
		{"a taken e-mail", admin.session, "POST", api.PathUsers, api.CreateUserRequest{Email: "adm@example.com", Role: api.RoleAnalyst}, api.CodeConflict},
		{"an unknown role", admin.session, "POST", api.PathUsers, api.CreateUserRequest{Email: "x@example.com", Role: "god"}, api.CodeValidationFailed},
		{"another account's user is not found", admin.session, "GET", api.PathUsers + "/usr_aaaaaaaaaaaaaaaa", nil, api.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(tt.method, tt.path, tt.token, tt.body)
			problem(t, resp, body, tt.code)
		})
	}

	resp, body = ts.do("GET", api.PathUsers, admin.session, nil)
	list := decode[api.UserList](t, resp, body, http.StatusOK)
	if len(list.Users) != 3 {
		t.Fatalf("%d users", len(list.Users))
	}

	t.Run("disabling ends every token and refuses logins", func(t *testing.T) {
		resp, body := ts.do("POST", api.PathUsers+"/"+created.ID+"/disable", admin.session, nil)
		if u := decode[api.User](t, resp, body, http.StatusOK); !u.Disabled || u.DisabledAt == nil {
			t.Fatalf("disabled user %+v", u)
		}
		for _, secret := range []string{ana.session, apiTok.Token} {
			resp, body := ts.do("GET", api.PathWhoAmI, secret, nil)
			problem(t, resp, body, api.CodeTokenRevoked)
		}
		resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: created.Email, Password: created.Password})
		pr := problem(t, resp, body, api.CodeUserDisabled)
		if !strings.Contains(pr.Detail, "ask an owner or administrator") {
			t.Fatalf("detail %q", pr.Detail)
		}
		// A wrong password says nothing of the disabling.
		resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: created.Email, Password: "wrong" + created.Password})
		problem(t, resp, body, api.CodeUnauthenticated)
		resp, body = ts.do("POST", api.PathUsers+"/"+created.ID+"/enable", admin.session, nil)
		decode[api.User](t, resp, body, http.StatusOK)
		ana.session = ts.login(created.Email, created.Password).Token
	})
	t.Run("a demotion revokes the tokens the old role allowed", func(t *testing.T) {
		sup := ts.person(acc, "sup@example.com", api.RoleSupport)
		keysTok := ts.mint(sup, api.ScopeDevicesKeys)
		resp, body := ts.do("PATCH", api.PathUsers+"/"+sup.user.ID, admin.session, api.UpdateUserRequest{Role: ptr(api.RoleAnalyst)})
		if u := decode[api.User](t, resp, body, http.StatusOK); u.Role != api.RoleAnalyst {
			t.Fatalf("role %s", u.Role)
		}
		resp, body = ts.do("GET", api.PathWhoAmI, keysTok.Secret, nil)
		problem(t, resp, body, api.CodeTokenRevoked)
	})
	t.Run("only an owner disables an owner", func(t *testing.T) {
		other := ts.person(acc, "own2@example.com", api.RoleOwner)
		resp, body := ts.do("POST", api.PathUsers+"/"+other.user.ID+"/disable", admin.session, nil)
		problem(t, resp, body, api.CodeForbidden)
		resp, body = ts.do("POST", api.PathUsers+"/"+other.user.ID+"/disable", owner.session, nil)
		decode[api.User](t, resp, body, http.StatusOK)
		resp, body = ts.do("GET", api.PathWhoAmI, other.session, nil)
		problem(t, resp, body, api.CodeTokenRevoked)
	})
	t.Run("deleting destroys the user's key: their tokens stop verifying", func(t *testing.T) {
		tok := ts.rootToken(ana, api.ScopeReadingsRead)
		resp, body := ts.do("DELETE", api.PathUsers+"/"+created.ID, admin.session, nil)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete: %d %s", resp.StatusCode, body)
		}
		resp, body = ts.do("GET", api.PathWhoAmI, tok.Token, nil)
		problem(t, resp, body, api.CodeUnauthenticated)
		if _, err := ts.svc.st.LatestTokenKey(ctx, acc.ID, created.ID); err == nil {
			t.Fatal("the deleted user's token key is still stored")
		}
		resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: created.Email, Password: created.Password})
		problem(t, resp, body, api.CodeUnauthenticated)
	})
}

func ptr[T any](v T) *T { return &v }

// mintRoot returns a root token of every scope of the person's role, minted by a login.
func (ts *testServer) mintRoot(p person) string {
	return ts.rootToken(p, p.user.Role.Scopes()...).Token
}

func TestTokensDieWithTheirParent(t *testing.T) {
	ts := newTestServer(t)
	p := ts.person(ts.account("Acme"), "ada@example.com", api.RoleOwner)
	child := ts.mint(p, api.ScopeTokensWrite, api.ScopeReadingsRead)
	if child.ParentID == "" || !child.ExpiresAt.Equal(ts.clock.Now().Add(12*time.Hour)) {
		t.Fatalf("minted with a session: %+v", child.TokenInfo)
	}
	resp, body := ts.do("POST", api.PathTokens, child.Secret, api.CreateTokenRequest{Name: "grandchild", Scopes: []api.Scope{api.ScopeReadingsRead}})
	grandchild := decode[api.CreateTokenResponse](t, resp, body, http.StatusCreated)
	if grandchild.ParentID != child.ID {
		t.Fatalf("grandchild's parent %q", grandchild.ParentID)
	}
	root := ts.rootToken(p, api.ScopeReadingsRead)
	resp, body = ts.do("POST", api.PathLogout, p.session, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout %d %s", resp.StatusCode, body)
	}
	for _, secret := range []string{child.Secret, grandchild.Secret} {
		resp, body := ts.do("GET", api.PathWhoAmI, secret, nil)
		problem(t, resp, body, api.CodeTokenRevoked)
	}
	resp, body = ts.do("GET", api.PathWhoAmI, root.Token, nil)
	decode[api.WhoAmI](t, resp, body, http.StatusOK)
}

func TestSiteRestrictedTokensStayInsideTheirSites(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	root := ts.mintRoot(owner)
	paris := ts.site(root, "Paris", "")
	lyon := ts.site(root, "Lyon", "")
	mint := func(token string, sites ...string) api.CreateTokenResponse {
		resp, body := ts.do("POST", api.PathTokens, token, api.CreateTokenRequest{Name: "t", Scopes: api.AllScopes, Sites: sites})
		return decode[api.CreateTokenResponse](t, resp, body, http.StatusCreated)
	}
	parisAdmin := mint(root, paris.ID)
	unrestricted := mint(root)
	lyonOnly := mint(root, lyon.ID)
	parisChild := mint(parisAdmin.Secret, paris.ID)

	resp, body := ts.do("GET", api.PathAudit, parisAdmin.Secret, nil)
	problem(t, resp, body, api.CodeSiteForbidden)
	resp, body = ts.do("GET", api.PathUsers, parisAdmin.Secret, nil)
	problem(t, resp, body, api.CodeSiteForbidden)
	for _, tok := range []api.CreateTokenResponse{unrestricted, lyonOnly} {
		resp, body := ts.do("DELETE", api.PathTokens+"/"+tok.ID, parisAdmin.Secret, nil)
		problem(t, resp, body, api.CodeNotFound)
	}
	resp, body = ts.do("GET", api.PathTokens+"?user=all", parisAdmin.Secret, nil)
	listed := decode[api.TokenList](t, resp, body, http.StatusOK)
	var ids []string
	for _, tok := range listed.Tokens {
		ids = append(ids, tok.ID)
	}
	slices.Sort(ids)
	want := []string{parisChild.ID, parisAdmin.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("a Paris token lists %v, want only the Paris tokens %v", ids, want)
	}
	resp, body = ts.do("DELETE", api.PathTokens+"/"+parisChild.ID, parisAdmin.Secret, nil)
	decode[api.TokenInfo](t, resp, body, http.StatusOK)
}

func TestAPIRateLimits(t *testing.T) {
	t.Run("per token", func(t *testing.T) {
		ts := newTestServer(t, withAPILimits(APILimits{PerIP: rate.Inf, PerToken: 1, BurstToken: 3}))
		p := ts.person(ts.account("Acme"), "ada@example.com", api.RoleOwner)
		tok := ts.mint(p, api.ScopeReadingsRead) // the session's first request
		for range 3 {
			resp, body := ts.do("GET", api.PathWhoAmI, tok.Secret, nil)
			decode[api.WhoAmI](t, resp, body, http.StatusOK)
		}
		resp, body := ts.do("GET", api.PathWhoAmI, tok.Secret, nil)
		pr := problem(t, resp, body, api.CodeRateLimited)
		if resp.Header.Get("Retry-After") != "1" || !strings.Contains(pr.Detail, "too many requests with this token") {
			t.Fatalf("Retry-After %q, detail %q", resp.Header.Get("Retry-After"), pr.Detail)
		}
		// Another token of the same user has its own bucket.
		resp, body = ts.do("GET", api.PathWhoAmI, p.session, nil)
		decode[api.WhoAmI](t, resp, body, http.StatusOK)
		ts.clock.Advance(time.Second)
		resp, body = ts.do("GET", api.PathWhoAmI, tok.Secret, nil)
		decode[api.WhoAmI](t, resp, body, http.StatusOK)
	})
	t.Run("per address, before anything else", func(t *testing.T) {
		ts := newTestServer(t, withAPILimits(APILimits{PerIP: 1, BurstIP: 2, PerToken: rate.Inf}))
		ts.do("GET", api.PathHealth, "", nil)
		ts.do("GET", api.PathWhoAmI, "sxt_garbage", nil)
		resp, body := ts.do("GET", api.PathHealth, "", nil)
		pr := problem(t, resp, body, api.CodeRateLimited)
		if !strings.Contains(pr.Detail, "too many requests from this address") {
			t.Fatalf("detail %q", pr.Detail)
		}
	})
}

// A flood of unauthenticated failures from any number of addresses writes a bounded number of
// rows a minute, and the counts add up to every request.
func TestUnauthenticatedFailuresAreFolded(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	const requests = 400
	for i := range requests {
		// Spread over many addresses, as a botnet would.
		ts.srv.record(httptestRequest("10.0."+fmt.Sprint(i%97)+"."+fmt.Sprint(i%251)), &requestInfo{id: fmt.Sprintf("req_%016d", i),
			route: "GET /v1/auth/whoami", errCode: api.CodeUnauthenticated}, http.StatusUnauthorized, ts.clock.Now())
	}
	ts.clock.Advance(time.Minute) // the minute is over: its folded rows are written
	if err := ts.srv.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	db := ts.openRaw(t)
	var rows, total int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), SUM(count) FROM audit_log WHERE account_id IS NULL`).Scan(&rows, &total); err != nil {
		t.Fatal(err)
	}
	if total != requests || rows > foldFirst+foldAddresses+1 {
		t.Fatalf("%d requests became %d rows counting %d; want at most %d rows counting them all", requests, rows, total, foldFirst+foldAddresses+1)
	}
}

// Requests that present no credential are folded too, successes included: a flood of health
// checks under the rate limits cannot grow the log without bound either.
func TestRequestsWithoutCredentialAreFolded(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	for i := range 300 {
		ts.srv.record(httptestRequest("10.1.0."+fmt.Sprint(i%3)), &requestInfo{id: fmt.Sprintf("req_%016d", i), route: "GET /v1/health"},
			http.StatusOK, ts.clock.Now())
	}
	ts.clock.Advance(time.Minute)
	if err := ts.srv.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	db := ts.openRaw(t)
	var rows, total int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), SUM(count) FROM audit_log`).Scan(&rows, &total); err != nil {
		t.Fatal(err)
	}
	if total != 300 || rows != foldFirst+3 {
		t.Fatalf("300 health checks from 3 addresses became %d rows counting %d; want %d rows", rows, total, foldFirst+3)
	}
}

// The login steps of a known user are in their account's log, so its owners see attempts on
// their users; an unknown e-mail's are in no account's.
func TestLoginAttemptsAreFiledInTheirAccount(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	ada := ts.person(acc, "ada@example.com", api.RoleAnalyst)
	ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: "not her password at all"})
	ch := ts.startLogin("ada@example.com", ada.password)
	ts.verify(ch.Challenge, "000000")
	ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ghost@example.com", Password: "not her password at all"})
	ts.srv.FlushAudit(context.Background())
	resp, body := ts.do("GET", api.PathAudit+"?user="+ada.user.ID, owner.session, nil)
	page := decode[api.AuditPage](t, resp, body, http.StatusOK)
	var seen []string
	for _, e := range page.Entries {
		seen = append(seen, fmt.Sprintf("%s %d %s", e.Route, e.Status, e.ErrorCode))
	}
	for _, want := range []string{"POST /v1/auth/login 401 unauthenticated", "POST /v1/auth/login 200 ", "POST /v1/auth/login/verify 401 code_invalid"} {
		if !slices.Contains(seen, want) {
			t.Errorf("the account's log lacks %q: %v", want, seen)
		}
	}
}

// httptestRequest is a request from addr, as the handler sees it.
func httptestRequest(addr string) *http.Request {
	r, _ := http.NewRequest("GET", "/v1/auth/whoami", nil)
	r.RemoteAddr = addr + ":40000"
	return r
}

// A client that hangs up before its answer is logged at INFO and recorded as 499, not as a
// server failure: here the request's context ends (the client left) while the export runs.
func TestClientHangUpIsNotAnError(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newTestServer(t, func(sc *ServiceConfig, c *Config) { sc.Logger, c.Logger = logger, logger })
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	ts.uploadAll(p.Credential, deviceFiles(t, p, testGenerator(t, genStart, time.Minute, 2*time.Hour, false), time.Hour))

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", api.PathReadings+"?format=csv&device="+p.Device.ID+"&from=2025-01-01T00:00:00Z", nil)
	req.Header.Set("Authorization", "Bearer "+owner.session)
	w := &hangUpWriter{ResponseRecorder: httptest.NewRecorder(), after: 4096, hangUp: cancel}
	func() {
		defer func() { recover() }() // a stream cut midway ends with http.ErrAbortHandler
		ts.srv.Handler().ServeHTTP(w, req)
	}()
	if !strings.Contains(logs.String(), "client closed the connection before the answer") {
		t.Fatalf("no INFO line about the client leaving; logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a client hanging up was logged as an error:\n%s", logs.String())
	}
	ts.srv.FlushAudit(context.Background())
	page, err := ts.svc.st.ListAudit(context.Background(), store.AuditFilter{AccountID: owner.user.AccountID, Status: api.StatusClientClosedRequest})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].ErrorCode != string(api.CodeClientClosed) {
		t.Fatalf("audit entries of status 499: %+v, %v", page.Entries, err)
	}
}

// hangUpWriter is a client that leaves once it has read after bytes: its writes fail from then
// on, as writes to a closed connection do, and its request's context ends.
type hangUpWriter struct {
	*httptest.ResponseRecorder
	after  int
	hangUp func()
}

func (w *hangUpWriter) Write(b []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("write: broken pipe")
	}
	w.after -= len(b)
	if w.after <= 0 {
		w.hangUp()
	}
	return w.ResponseRecorder.Write(b)
}

// from=0001-01-01T00:00:00Z is a real time (the beginning), not "no from" (the last day).
func TestZeroTimeIsARealTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"} {
		q, err := parseReadingsQuery(map[string][]string{"device": {"SX-1"}, "from": {v}}, "", now)
		if err != nil {
			t.Fatal(err)
		}
		if zero := (time.Time{}); !q.from.Equal(zero) || q.fromMs != zero.UnixMilli() {
			t.Fatalf("from=%s read as %v (%d ms)", v, q.from, q.fromMs)
		}
	}
	q, _ := parseReadingsQuery(map[string][]string{"device": {"SX-1"}}, "", now)
	if !q.from.Equal(now.Add(-api.DefaultReadingsSpan)) {
		t.Fatalf("no from read as %v", q.from)
	}
}

// TestNoCustomerDataInDatabaseFiles reads the raw database and WAL after a realistic day of use
// and finds none of the customer's identifying values or readings: names, address, e-mails,
// serials, network settings, channel names, a readings segment's encoding, source addresses.
func TestNoCustomerDataInDatabaseFiles(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	acc := ts.account("Zephyrine Dataworks")
	owner := ts.person(acc, "honorine.quillet@zephyrine.example", api.RoleOwner)
	resp, body := ts.do("POST", api.PathSites, owner.session, api.CreateSiteRequest{Name: "Usine Vauquelin-Nord", Address: "17 rue Xavier-Privas, Lille",
		TimeZone: "Europe/Paris"})
	site := decode[api.Site](t, resp, body, http.StatusCreated)
	resp, body = ts.do("POST", api.PathDevices, owner.session, api.CreateDeviceRequest{Serial: "SX-QWZ-90817", SiteID: site.ID,
		Network: &api.NetworkSettings{Mode: api.NetworkStatic, Address: "198.51.100.77/24", Gateway: "198.51.100.1", DNS: []string{"198.51.100.53"}}})
	dev := decode[api.ProvisionedDevice](t, resp, body, http.StatusCreated)
	g := testGenerator(t, genStart, time.Minute, 2*time.Hour, false)
	ts.uploadAll(dev.Credential, deviceFiles(t, dev, g, time.Hour))
	ts.mint(owner, api.ScopeReadingsRead)
	ts.srv.FlushAudit(ctx)

	// A segment's clear encoding: the first channel's readings of the first file, as stored.
	sch := g.Schema().Channels
	var times, values []int64
	for r := range g.Range(g.Start(), genStart.Add(time.Hour).UnixMilli()) {
		if r.Channel == 0 {
			times, values = append(times, r.Time), append(values, r.Value)
		}
	}
	segment := store.AppendSegment(nil, times, values)
	values16 := segment[:min(32, len(segment))]
	values64 := segment[len(segment)/2 : len(segment)/2+32]

	plain := map[string][]byte{
		"account name":        []byte("Zephyrine"),
		"e-mail":              []byte("honorine.quillet"),
		"site name":           []byte("Vauquelin"),
		"address":             []byte("Xavier-Privas"),
		"serial":              []byte("SX-QWZ-90817"),
		"device address":      []byte("198.51.100.77"),
		"DNS server":          []byte("198.51.100.53"),
		"channel name":        []byte(sch[2].Name), // "lighting": "main" is in the schema's own words (sso_domains)
		"readings":            values16,
		"readings (middle)":   values64,
		"readings (hex)":      []byte(hex.EncodeToString(values16)),
		"client address":      []byte("127.0.0.1"),
		"time zone of a site": []byte("Europe/Paris"),
	}
	raw := ts.storedBytes(t)
	for name, v := range plain {
		if bytes.Contains(raw, v) {
			t.Errorf("the database holds the %s in clear", name)
		}
	}
	if len(raw) < 8<<10 { // two hours of sealed readings alone take more
		t.Fatalf("only %d bytes scanned", len(raw))
	}
	// And the service reads them all back.
	resp, body = ts.get(api.PathReadings+"?format=csv&device=SX-QWZ-90817&from=2025-01-01T00:00:00Z", owner.session, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "SX-QWZ-90817,"+sch[0].Name) {
		t.Fatalf("readings: %d %.200s", resp.StatusCode, body)
	}
}

// Replicas behind one address hold the limits together: each enforces its share.
func TestLimitsShareBetweenReplicas(t *testing.T) {
	api := APILimits{PerIP: 2000, BurstIP: 4000, PerToken: 0, BurstToken: 0}.Share(3)
	if api.PerIP != rate.Limit(2000)/3 || api.BurstIP != 1334 || api.PerToken != 0 {
		t.Errorf("API limits shared by 3: %+v", api)
	}
	login := DefaultLoginLimits.Share(4)
	if login.PerUser != DefaultLoginLimits.PerUser/4 || login.BurstUser != 5 || login.BurstIP != 3 {
		t.Errorf("login limits shared by 4: %+v", login)
	}
	if got := DefaultLoginLimits.Share(1); got.PerUser != DefaultLoginLimits.PerUser || got.BurstUser != DefaultLoginLimits.BurstUser {
		t.Errorf("one replica changed the limits: %+v", got)
	}
	if got := (APILimits{PerIP: rate.Inf, BurstIP: 1}).Share(2); got.PerIP != rate.Inf {
		t.Errorf("no limit became %v", got.PerIP)
	}
}
