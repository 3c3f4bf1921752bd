// Package ssotest starts a real OpenID Connect provider on loopback for the tests of single
// sign-on: the example provider of github.com/zitadel/oidc (an OpenID certified
// implementation that this project did not write), with the users and clients a test names,
// and a stand-in for a person's browser that follows its login forms (Browser).
//
// Only the seams the library offers are used: the example's storage is wrapped to accept any
// loopback port in redirect URIs (RFC 8252), to allow the device authorization grant, and to
// add a "groups" claim; and, for the tests of what the platform must refuse, the provider can
// be told to issue expired ID tokens, or its token endpoint's answers can be altered (a
// tampered ID token, or one issued to another client).
package ssotest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/text/language"
)

// User is a person at the provider; Email is also their username on its login form.
type User struct {
	Email         string
	Password      string
	EmailVerified bool
	Groups        []string // the "groups" claim
}

// Client is a confidential client (client_secret_basic) of the provider.
type Client struct {
	ID, Secret string
}

// Options describe the provider to start.
type Options struct {
	Users   []User
	Clients []Client
	// Log receives the provider's request log (default: discarded).
	Log io.Writer
}

// Mode says what the provider's token endpoint answers.
type Mode int

// The modes of the token endpoint.
const (
	Normal          Mode = iota
	Expired              // ID tokens expire an hour before they are issued
	Tampered             // the ID token's claims are altered after signing
	ForeignAudience      // the ID token is a genuine one issued to another client
)

// otherClient is the client whose ID tokens ForeignAudience substitutes.
var otherClient = Client{ID: "ssotest-other", Secret: "other-secret-0123456789"}

// Provider is a running provider.
type Provider struct {
	// Issuer is its issuer URL, http://127.0.0.1:PORT/.
	Issuer string

	srv     *http.Server
	users   *userStore
	storage *storage.Storage
	clients []Client

	mu      sync.Mutex
	mode    Mode
	foreign string // an ID token of otherClient, for ForeignAudience
}

// Start starts a provider on 127.0.0.1 (a free port).
func Start(opts Options) (*Provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The example logs every request through the default logger.
	logTo := opts.Log
	if logTo == nil {
		logTo = io.Discard
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(logTo, nil)))
	p := &Provider{Issuer: "http://" + ln.Addr().String() + "/", users: &userStore{users: map[string]*storage.User{}}}
	for _, u := range opts.Users {
		p.AddUser(u)
	}
	clients := map[string]*storage.Client{}
	p.clients = append(opts.Clients, otherClient)
	for _, c := range p.clients {
		// The registered URI only stands for its host: any loopback port and path matches.
		clients[c.ID] = storage.WebClient(c.ID, c.Secret, "http://127.0.0.1/callback")
	}
	p.storage = storage.NewStorageWithClients(p.users, clients)
	router := exampleop.SetupServer(p.Issuer, &opStorage{Storage: p.storage, p: p}, nil, false)
	p.srv = &http.Server{Handler: p.intercept(router), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() error { return p.srv.Close() }

// AddUser adds (or replaces) a person.
func (p *Provider) AddUser(u User) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	id := subject(u.Email)
	p.users.users[id] = &storage.User{ID: id, Username: u.Email, Password: u.Password, FirstName: "Test", LastName: "User",
		Email: u.Email, EmailVerified: u.EmailVerified, PreferredLanguage: language.English}
	p.users.groups(id, u.Groups)
}

// DeleteUser removes a person, as an identity provider does the day they leave: they can no
// longer sign in, and every session and refresh token of theirs ends.
func (p *Provider) DeleteUser(email string) {
	p.EndSessions(email)
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	delete(p.users.users, subject(email))
}

// EndSessions revokes a person's sessions and refresh tokens at every client.
func (p *Provider) EndSessions(email string) {
	for _, c := range p.clients {
		p.storage.TerminateSession(context.Background(), subject(email), c.ID)
	}
}

// Subject is the subject ("sub") the provider gives a person.
func Subject(email string) string { return subject(email) }

// The example's device sign-in takes the username for the subject, so the code flow's
// subject (the user's id) is the username too: the lower-case e-mail.
func subject(email string) string { return strings.ToLower(email) }

// SetMode changes what the token endpoint answers from now on. ForeignAudience first signs
// one of the users in at another client to get a genuine ID token issued to it.
func (p *Provider) SetMode(ctx context.Context, m Mode) error {
	p.mu.Lock()
	p.mode = Normal
	p.mu.Unlock()
	if m == ForeignAudience {
		tok, err := p.foreignIDToken(ctx)
		if err != nil {
			return fmt.Errorf("get an ID token of another client: %w", err)
		}
		p.mu.Lock()
		p.foreign = tok
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
	return nil
}

func (p *Provider) currentMode() (Mode, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.foreign
}

// foreignIDToken signs the first user in at otherClient (authorization code flow) and returns
// its ID token.
func (p *Provider) foreignIDToken(ctx context.Context) (string, error) {
	var user *storage.User
	p.users.mu.Lock()
	for _, u := range p.users.users {
		user = u
		break
	}
	p.users.mu.Unlock()
	if user == nil {
		return "", errors.New("the provider has no user")
	}
	cfg := oauth2.Config{ClientID: otherClient.ID, ClientSecret: otherClient.Secret, RedirectURL: "http://127.0.0.1:1/callback",
		Scopes:   []string{oidc.ScopeOpenID, oidc.ScopeEmail},
		Endpoint: oauth2.Endpoint{AuthURL: p.Issuer + "auth", TokenURL: p.Issuer + "oauth/token"}}
	b := &Browser{Username: user.Username, Password: user.Password, StopAt: "http://127.0.0.1:1/"}
	final, err := b.SignIn(ctx, cfg.AuthCodeURL("state"))
	if err != nil {
		return "", err
	}
	code := final.Query().Get("code")
	if code == "" {
		return "", fmt.Errorf("no code in %s", final)
	}
	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		return "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", errors.New("no id_token")
	}
	return raw, nil
}

// intercept alters the token endpoint's answers in the Tampered and ForeignAudience modes.
func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode, foreign := p.currentMode()
		if r.URL.Path != "/oauth/token" || (mode != Tampered && mode != ForeignAudience) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var answer map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &answer) == nil {
			if raw, ok := answer["id_token"].(string); ok {
				if mode == Tampered {
					answer["id_token"] = tamper(raw)
				} else {
					answer["id_token"] = foreign
				}
				body, _ = json.Marshal(answer)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// tamper changes the e-mail in a signed token's claims, leaving its signature as it was.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return raw + "x"
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return raw + "x"
	}
	var m map[string]any
	if json.Unmarshal(claims, &m) != nil {
		return raw + "x"
	}
	m["email"] = "mallory@attacker.example"
	m["sub"] = "sub-mallory"
	claims, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(claims)
	return strings.Join(parts, ".")
}

// userStore is the provider's people (storage.UserStore), changeable while it runs.
type userStore struct {
	mu     sync.Mutex
	users  map[string]*storage.User
	groupm map[string][]string
}

func (s *userStore) groups(id string, g []string) {
	if s.groupm == nil {
		s.groupm = map[string][]string{}
	}
	s.groupm[id] = g
}

func (s *userStore) groupsOf(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groupm[id]
}

func (s *userStore) GetUserByID(id string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[id]
}

func (s *userStore) GetUserByUsername(name string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if strings.EqualFold(u.Username, name) {
			return u
		}
	}
	return nil
}

func (s *userStore) ExampleClientID() string { return storage.ServiceUserID }

// opStorage is the example's storage with the seams a deployment would use.
type opStorage struct {
	*storage.Storage
	p *Provider
}

// GetClientByClientID returns the client with loopback redirects on any port, the device
// grant, and expired ID tokens in the Expired mode.
func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return testClient{Client: c, p: s.p}, nil
}

// SetUserinfoFromRequest adds the groups claim to ID tokens.
func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, token, scopes); err != nil {
		return err
	}
	s.addGroups(ui, token.GetSubject())
	return nil
}

// SetUserinfoFromToken adds the groups claim to the userinfo endpoint's answers.
func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.addGroups(ui, ui.Subject)
	return nil
}

func (s *opStorage) addGroups(ui *oidc.UserInfo, sub string) {
	if g := s.p.users.groupsOf(sub); len(g) > 0 {
		ui.AppendClaims("groups", g)
	}
}

type testClient struct {
	op.Client
	p *Provider
}

func (c testClient) RedirectURIGlobs() []string {
	return []string{"http://127.0.0.1:*/**", "http://localhost:*/**"}
}
func (c testClient) PostLogoutRedirectURIGlobs() []string { return nil }
func (c testClient) GrantTypes() []oidc.GrantType {
	return append(c.Client.GrantTypes(), oidc.GrantTypeDeviceCode)
}

func (c testClient) IDTokenLifetime() time.Duration {
	if m, _ := c.p.currentMode(); m == Expired {
		return -time.Hour
	}
	return c.Client.IDTokenLifetime()
}

// Browser stands in for a person's browser: it follows redirects and cookies, fills the
// provider's login forms with Username and Password, and allows what the provider asks it to
// confirm (a device sign-in).
type Browser struct {
	Username, Password string
	// StopAt, when set, stops at the first redirect to a URL starting with it (the client's
	// redirect URI) instead of following it.
	StopAt string
	// Client is the HTTP client to use (default: a new one with a cookie jar).
	Client *http.Client
}

// SignIn opens url and signs in: it returns the last URL reached (with StopAt, the redirect
// to it), or an error with what the provider's page said when it refused.
func (b *Browser) SignIn(ctx context.Context, start string) (*url.URL, error) {
	c := b.client()
	var stopped *url.URL
	if b.StopAt != "" {
		c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
			if strings.HasPrefix(r.URL.String(), b.StopAt) {
				stopped = r.URL
				return http.ErrUseLastResponse
			}
			return nil
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	if err != nil {
		return nil, err
	}
	filled := false
	for range 10 {
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if stopped != nil {
			return stopped, nil
		}
		page, err := parsePage(resp.Request.URL, body)
		if err != nil {
			return nil, err
		}
		switch {
		case page.form != nil && page.form.has("password"):
			if filled && page.errorText != "" {
				return nil, fmt.Errorf("the provider refused the sign-in: %s", page.errorText)
			}
			page.form.values.Set("username", b.Username)
			page.form.values.Set("password", b.Password)
			filled = true
			req, err = page.form.request(ctx)
		case page.confirm != nil:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, page.confirm.String(), nil)
		case resp.StatusCode >= 400:
			return nil, fmt.Errorf("%s answered %s: %s", resp.Request.URL, resp.Status, strings.Join(strings.Fields(string(body)), " "))
		default:
			return resp.Request.URL, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, errors.New("the sign-in did not end after 10 pages")
}

func (b *Browser) client() *http.Client {
	if b.Client != nil {
		c := *b.Client
		return &c
	}
	jar := newJar()
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// DeviceSignIn enters a device sign-in's user code at the provider and allows it; complete
// is the verification URI with the code (verification_uri_complete).
func (b *Browser) DeviceSignIn(ctx context.Context, complete string) error {
	_, err := b.SignIn(ctx, complete)
	return err
}

// Response bodies the browser posts are small forms.
func formBody(v url.Values) io.Reader { return bytes.NewBufferString(v.Encode()) }
