package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver of openRaw
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/mail"
	"github.com/smart-impulse/smartx/internal/mail/mailtest"
	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
	"golang.org/x/time/rate"
)

// TestMain stops the throwaway PostgreSQL cluster of a run on PostgreSQL (testStoreEnv).
func TestMain(m *testing.M) { pgtest.Main(m) }

// testStoreEnv set to "postgres" runs the server's tests on a throwaway PostgreSQL database
// each instead of SQLite (`make test` runs them both ways).
const testStoreEnv = "SMARTX_TEST_STORE"

// testDataDir is the data directory of a test server: SQLite in dir, or a fresh PostgreSQL
// database with dir for the uploads.
func testDataDir(t testing.TB, dir string) DataDir {
	dd := DataDir{Dir: dir, Create: true}
	if os.Getenv(testStoreEnv) == "postgres" {
		dd.DatabaseURL = pgtest.NewDatabase(t)
	}
	return dd
}

// testPasswordParams keep argon2 cheap under the race detector; never used in production.
var testPasswordParams = auth.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testServer is a real server on 127.0.0.1:0 with TLS from a generated CA, sending its login
// codes through a real SMTP server on loopback.
type testServer struct {
	t      testing.TB
	dir    string
	dbURL  string // the PostgreSQL database, or "" for SQLite in dir
	clock  *fakeClock
	svc    *Service
	srv    *Server
	url    string
	caPool *x509.CertPool
	client *http.Client
	smtp   *mailtest.Server
}

type testOption func(*ServiceConfig, *Config)

// sqliteOnly is the ServiceConfig.Store placeholder by which onSQLite marks a test server.
var sqliteOnly store.Store = (*sqlite.Store)(nil)

// onSQLite keeps a test on SQLite when the run is on PostgreSQL: the test looks at SQLite's files.
func onSQLite() testOption {
	return func(sc *ServiceConfig, _ *Config) { sc.Store = sqliteOnly }
}

func withLoginLimits(l LoginLimits) testOption {
	return func(sc *ServiceConfig, _ *Config) { sc.LoginLimits = &l }
}

func withAPILimits(l APILimits) testOption {
	return func(_ *ServiceConfig, c *Config) { c.APILimits = &l }
}

func newTestServer(t testing.TB, opts ...testOption) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: t.TempDir(), clock: &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}}
	params := testPasswordParams
	limits := LoginLimits{PerIP: rate.Inf, PerUser: rate.Inf, Now: ts.clock.Now}
	smtpServer, err := mailtest.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpServer.Close() })
	ts.smtp = smtpServer
	mailCfg, err := mail.ParseURL(smtpServer.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	mailCfg.RootCAs = smtpServer.RootCAs()
	sc := ServiceConfig{Now: ts.clock.Now, PasswordParams: &params, LoginLimits: &limits, Mail: mail.NewSMTP(mailCfg)}
	// Audit entries are written when a test flushes, never behind its back.
	cfg := Config{Now: ts.clock.Now, Version: "test", AuditFlushEvery: time.Hour}
	for _, o := range opts {
		o(&sc, &cfg)
	}
	if sc.LoginLimits.Now == nil {
		sc.LoginLimits.Now = ts.clock.Now
	}
	ctx := context.Background()
	dd := DataDir{Dir: ts.dir, Create: true}
	if sc.Store == sqliteOnly {
		sc.Store = nil
	} else {
		dd = testDataDir(t, ts.dir)
	}
	ts.dbURL = dd.DatabaseURL
	svc, err := OpenService(ctx, dd, sc)
	if err != nil {
		t.Fatal(err)
	}
	ts.svc = svc
	cfg.Service = svc
	if ts.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	files, _, err := EnsureSelfSigned(filepath.Join(ts.dir, TLSDir), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(files.CACert)
	ts.caPool = x509.NewCertPool()
	ts.caPool.AppendCertsFromPEM(ca)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.url = "https://" + ln.Addr().String()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(sctx, ln, TLSConfig(cert)) }()
	ts.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ts.caPool}, MaxIdleConnsPerHost: 256, ForceAttemptHTTP2: true}}
	t.Cleanup(func() {
		ts.client.CloseIdleConnections() // else HTTP/2's graceful shutdown waits a second for us
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		svc.Close()
	})
	return ts
}

// openRaw opens the test server's database beside the server, to look at what it stores.
// Queries use $1, $2... for their arguments, which both stores understand.
func (ts *testServer) openRaw(t testing.TB) *sql.DB {
	t.Helper()
	driver, source := "sqlite", filepath.Join(ts.dir, DatabaseFile)+"?_pragma=query_only(1)"
	if ts.dbURL != "" {
		driver, source = "pgx", ts.dbURL
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// storedBytes returns what the test server's database holds as stored: with SQLite, the bytes
// of its files (database, WAL, shared memory and epoch files), which are what a thief copies;
// with PostgreSQL, every row of every table as text, bytea as hex (the relation files of the
// throwaway cluster are shared with the package's other tests, so they cannot be searched for
// one test's values; remnants of deleted rows there are store/postgres's tests).
func (ts *testServer) storedBytes(t testing.TB) []byte {
	t.Helper()
	var out []byte
	if ts.dbURL == "" {
		for _, suffix := range []string{"", "-wal", "-shm", "-epoch"} {
			raw, err := os.ReadFile(filepath.Join(ts.dir, DatabaseFile+suffix))
			if err == nil {
				out = append(out, raw...)
			}
		}
		return out
	}
	ctx := context.Background()
	db := ts.openRaw(t)
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		var text sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT string_agg(t::text, E'\n') FROM `+table+` t`).Scan(&text); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		out = append(out, text.String...)
	}
	return out
}

// do sends a request and returns the response with its body read.
func (ts *testServer) do(method, path, token string, body any) (*http.Response, []byte) {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	contentType := ""
	if rd != nil {
		contentType = "application/json"
	}
	return ts.send(method, path, token, contentType, "", rd)
}

// send makes a request with the optional bearer token, content type and Accept header, and
// returns the response with its whole body.
func (ts *testServer) send(method, path, token, contentType, accept string, body io.Reader) (*http.Response, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url+path, body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp, out
}

// decode unmarshals a response body, failing the test on a status other than want.
func decode[T any](t testing.TB, resp *http.Response, body []byte, want int) T {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// problem decodes a problem response and checks its status and code.
func problem(t testing.TB, resp *http.Response, body []byte, wantCode api.Code) api.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != api.ProblemContentType {
		t.Fatalf("Content-Type %q, want %s: %s", ct, api.ProblemContentType, body)
	}
	p := decode[api.Problem](t, resp, body, wantCode.Status())
	if p.Code != wantCode || p.Status != resp.StatusCode || p.Type != api.ProblemTypePrefix+string(wantCode) || p.Title == "" || p.Instance == "" {
		t.Fatalf("problem %+v, want code %s", p, wantCode)
	}
	if p.Instance != resp.Header.Get("X-Request-Id") {
		t.Fatalf("problem instance %q differs from X-Request-Id %q", p.Instance, resp.Header.Get("X-Request-Id"))
	}
	return p
}

// person is a user with a password and a session token.
type person struct {
	user     User
	password string
	session  string
}

func (ts *testServer) account(name string) Account {
	ts.t.Helper()
	acc, err := ts.svc.CreateAccount(context.Background(), name)
	if err != nil {
		ts.t.Fatal(err)
	}
	return acc
}

func (ts *testServer) person(acc Account, email string, role api.Role) person {
	ts.t.Helper()
	pw, err := ts.svc.GeneratePassword()
	if err != nil {
		ts.t.Fatal(err)
	}
	u, err := ts.svc.AddUser(context.Background(), NewUser{AccountID: acc.ID, Email: email, Role: string(role), Password: pw})
	if err != nil {
		ts.t.Fatal(err)
	}
	lr := ts.login(email, pw)
	return person{user: u, password: pw, session: lr.Token}
}

// startLogin sends the password step of a login and returns its challenge.
func (ts *testServer) startLogin(email, password string) api.LoginChallenge {
	ts.t.Helper()
	resp, body := ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: email, Password: password})
	return decode[api.LoginChallenge](ts.t, resp, body, http.StatusOK)
}

// codePattern finds the code in a login e-mail: six digits alone on an indented line.
var codePattern = regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`)

// mailedCode returns the code of the n-th e-mail (counting from 1) the SMTP server received,
// and checks it went to email.
func (ts *testServer) mailedCode(n int, email string) string {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := ts.smtp.Wait(ctx, n)
	if err != nil {
		ts.t.Fatal(err)
	}
	m := msgs[n-1]
	if !strings.EqualFold(m.To, email) {
		ts.t.Fatalf("e-mail %d went to %s, want %s", n, m.To, email)
	}
	match := codePattern.FindStringSubmatch(m.Text())
	if match == nil {
		ts.t.Fatalf("no code in the e-mail:\n%s", m.Text())
	}
	return match[1]
}

// login logs in through the e-mailed code and returns the session.
func (ts *testServer) login(email, password string) api.LoginResponse {
	ts.t.Helper()
	sent := len(ts.smtp.Messages())
	ch := ts.startLogin(email, password)
	code := ts.mailedCode(sent+1, email)
	resp, body := ts.do("POST", api.PathLoginVerify, "", api.LoginVerifyRequest{Challenge: ch.Challenge, Code: code})
	return decode[api.LoginResponse](ts.t, resp, body, http.StatusOK)
}

// rootToken logs the person in again and mints a root API token with the login.
func (ts *testServer) rootToken(p person, scopes ...api.Scope) api.LoginResponse {
	ts.t.Helper()
	sent := len(ts.smtp.Messages())
	ch := ts.startLogin(p.user.Email, p.password)
	code := ts.mailedCode(sent+1, p.user.Email)
	resp, body := ts.do("POST", api.PathLoginVerify, "", api.LoginVerifyRequest{Challenge: ch.Challenge, Code: code,
		Token: &api.CreateTokenRequest{Name: "root", Scopes: scopes}})
	lr := decode[api.LoginResponse](ts.t, resp, body, http.StatusOK)
	if lr.Kind != api.TokenKindAPI {
		ts.t.Fatalf("a login asked for an API token gave a %s", lr.Kind)
	}
	return lr
}

// mint creates an API token with the given scopes using the person's session.
func (ts *testServer) mint(p person, scopes ...api.Scope) api.CreateTokenResponse {
	ts.t.Helper()
	resp, body := ts.do("POST", api.PathTokens, p.session, api.CreateTokenRequest{Name: "t", Scopes: scopes})
	return decode[api.CreateTokenResponse](ts.t, resp, body, http.StatusCreated)
}
