package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// ServiceConfig configures a Service. Zero values pick production defaults.
type ServiceConfig struct {
	Store     store.Store
	MasterKey auth.Key
	Logger    *slog.Logger
	Now       func() time.Time
	Rand      io.Reader
	// PasswordParams defaults to auth.DefaultPasswordParams; tests lower them to run quickly.
	PasswordParams *auth.PasswordParams
	// LoginLimits defaults to DefaultLoginLimits.
	LoginLimits *LoginLimits
	// UploadDir is where uploads too large to keep in memory wait while they are verified and
	// stored (OpenService uses <data dir>/uploads; default: the system's temporary directory).
	UploadDir string
}

// Service is the platform's logic behind the API and the operator's commands: accounts, users,
// logins, tokens, sites, devices, ingest and readings. It owns the store it was given and
// closes it.
type Service struct {
	st        store.Store
	keys      *auth.Keyring
	tokens    *auth.TokenService
	devices   *deviceAuth
	uploadDir string
	hasher    *auth.PasswordHasher
	policy    *auth.PasswordPolicy
	limiter   *loginLimiter
	log       *slog.Logger
	now       func() time.Time
	rand      io.Reader
}

// NewService checks the master key against the store and returns the service.
func NewService(ctx context.Context, cfg ServiceConfig) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	params := auth.DefaultPasswordParams
	if cfg.PasswordParams != nil {
		params = *cfg.PasswordParams
	}
	limits := DefaultLoginLimits
	if cfg.LoginLimits != nil {
		limits = *cfg.LoginLimits
	}
	// Each hash holds params.Memory KiB: bound the number at once to what the cores can run.
	hasher, err := auth.NewPasswordHasher(params, cfg.Rand, max(2, runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, err
	}
	keys := auth.NewKeyring(cfg.MasterKey, cfg.Store, cfg.Rand, cfg.Now)
	if err := keys.CheckMaster(ctx); err != nil {
		return nil, err
	}
	if cfg.UploadDir == "" {
		cfg.UploadDir = os.TempDir()
	}
	return &Service{
		st:        cfg.Store,
		keys:      keys,
		tokens:    auth.NewTokenService(keys, cfg.Store, cfg.Rand, cfg.Now),
		devices:   newDeviceAuth(cfg.Store, keys),
		uploadDir: cfg.UploadDir,
		hasher:    hasher,
		policy:    auth.NewPasswordPolicy(),
		limiter:   newLoginLimiter(limits),
		log:       cfg.Logger,
		now:       cfg.Now,
		rand:      cfg.Rand,
	}, nil
}

// Close flushes pending token use times and closes the store.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(s.tokens.FlushLastUsed(ctx), s.st.Close())
}

// Store returns the store, for the server's maintenance and tests.
func (s *Service) Store() store.Store { return s.st }

func (s *Service) newID(prefix string) (string, error) { return store.NewID(prefix, s.rand) }

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CreateAccount creates an account with its data key and first token key.
func (s *Service) CreateAccount(ctx context.Context, name string) (store.Account, error) {
	name = strings.TrimSpace(name)
	if err := checkText("name", name, 200); err != nil {
		return store.Account{}, err
	}
	id, err := s.newID(api.PrefixAccount)
	if err != nil {
		return store.Account{}, err
	}
	dk, err := s.keys.NewDataKey(id)
	if err != nil {
		return store.Account{}, err
	}
	// One row: the account's first token key is made when its first token is issued.
	acc := store.Account{ID: id, Name: name, DataKey: dk, CreatedAt: s.nowUTC()}
	if err := s.st.CreateAccount(ctx, acc); err != nil {
		return store.Account{}, err
	}
	return acc, nil
}

// DeleteAccount deletes an account and everything it owns; its tokens stop working at once.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	if err := s.st.DeleteAccount(ctx, id); err != nil {
		return err
	}
	s.tokens.Invalidate()
	s.devices.invalidate()
	return nil
}

// ListAccounts lists every account.
func (s *Service) ListAccounts(ctx context.Context) ([]store.Account, error) {
	return s.st.ListAccounts(ctx)
}

// NewUser describes a user to add.
type NewUser struct {
	AccountID string
	Email     string
	Role      string
	Password  string
}

// AddUser adds a user to an account after checking the password against the policy.
func (s *Service) AddUser(ctx context.Context, nu NewUser) (store.User, error) {
	email, err := normalizeEmail(nu.Email)
	if err != nil {
		return store.User{}, err
	}
	role, err := api.ParseRole(nu.Role)
	if err != nil {
		return store.User{}, invalid("role", "%v", err)
	}
	acc, err := s.st.Account(ctx, nu.AccountID)
	if err != nil {
		return store.User{}, err
	}
	if err := s.policy.Check(nu.Password, email, acc.Name); err != nil {
		return store.User{}, invalid("password", "%v", err)
	}
	hash, err := s.hasher.Hash(ctx, nu.Password)
	if err != nil {
		return store.User{}, err
	}
	id, err := s.newID(api.PrefixUser)
	if err != nil {
		return store.User{}, err
	}
	now := s.nowUTC()
	u := store.User{ID: id, AccountID: acc.ID, Email: email, Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, fmt.Errorf("a user with e-mail %s already exists: %w", email, store.ErrConflict)
		}
		return store.User{}, err
	}
	return u, nil
}

// SetPassword replaces a user's password and ends the user's sessions (API tokens stay valid:
// they are separate credentials, revoked one by one).
func (s *Service) SetPassword(ctx context.Context, email, password string) (store.User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	u, err := s.st.UserByEmail(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	acc, err := s.st.Account(ctx, u.AccountID)
	if err != nil {
		return store.User{}, err
	}
	if err := s.policy.Check(password, email, acc.Name); err != nil {
		return store.User{}, invalid("password", "%v", err)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return store.User{}, err
	}
	if _, err := s.st.ChangePassword(ctx, u.AccountID, u.ID, hash, s.nowUTC()); err != nil {
		return store.User{}, err
	}
	s.tokens.Invalidate()
	return u, nil
}

// ListUsers lists an account's users, or everyone's when accountID is "".
func (s *Service) ListUsers(ctx context.Context, accountID string) ([]store.User, error) {
	return s.st.ListUsers(ctx, accountID)
}

// GeneratePassword returns a strong random password that passes the policy.
func (s *Service) GeneratePassword() (string, error) {
	for {
		pw, err := auth.GeneratePassword(s.rand)
		if err != nil {
			return "", err
		}
		if s.policy.Check(pw) == nil {
			return pw, nil
		}
	}
}

// maxLoginPasswordBytes bounds what a login hashes; a longer password cannot be valid.
const maxLoginPasswordBytes = 4 * auth.MaxPasswordLength

// Session is a successful login.
type Session struct {
	Token  store.Token
	Secret string
	User   store.User
}

// Login checks an e-mail and password and opens a session. Attempts are rate limited per
// source address and per account (per e-mail when it matches no account, so both cases look
// the same). An unknown e-mail costs one password hash, like a wrong password.
func (s *Service) Login(ctx context.Context, email, password, sourceIP string) (Session, error) {
	if wait, ok := s.limiter.allow(limitByIP, sourceIP); !ok {
		return Session{}, &RateLimitError{RetryAfter: wait}
	}
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := s.st.UserByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, err
	}
	limitKey := "email:" + email
	if known {
		limitKey = u.AccountID
	}
	if wait, ok := s.limiter.allow(limitByAccount, limitKey); !ok {
		return Session{}, &RateLimitError{RetryAfter: wait}
	}
	if !known || len(password) > maxLoginPasswordBytes {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return Session{}, err
		}
		return Session{}, ErrInvalidCredentials
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		return Session{}, ErrInvalidCredentials
	}
	if rehash {
		if hash, err := s.hasher.Hash(ctx, password); err == nil {
			if err := s.st.SetPasswordHash(ctx, u.AccountID, u.ID, hash, s.nowUTC()); err != nil {
				s.log.Warn("could not upgrade a password hash", "user", u.ID, "err", err)
			}
		}
	}
	tok, secret, err := s.tokens.Issue(ctx, auth.IssueRequest{AccountID: u.AccountID, UserID: u.ID, Kind: api.TokenKindSession,
		Name: "session", Scopes: u.Role.Scopes(), ExpiresAt: s.now().Add(api.SessionTokenTTL)})
	if err != nil {
		return Session{}, err
	}
	return Session{Token: tok, Secret: secret, User: u}, nil
}

// Authenticate verifies a presented token secret.
func (s *Service) Authenticate(ctx context.Context, secret string) (store.Token, error) {
	return s.tokens.Verify(ctx, secret)
}

// CreateToken mints an API token for the caller. The new token can be no wider than the caller:
// its scopes must be granted by both the user's role and the presenting token, and if the
// presenting token is restricted to sites, the new one must be restricted to some of them.
func (s *Service) CreateToken(ctx context.Context, caller store.Token, req api.CreateTokenRequest) (store.Token, string, error) {
	name := strings.TrimSpace(req.Name)
	if err := checkText("name", name, api.MaxTokenNameBytes); err != nil {
		return store.Token{}, "", err
	}
	if len(req.Scopes) == 0 {
		return store.Token{}, "", invalid("scopes", "name at least one scope: %s", api.JoinScopes(api.AllScopes))
	}
	for i, sc := range req.Scopes {
		if !sc.Known() {
			return store.Token{}, "", invalid(fmt.Sprintf("scopes[%d]", i), "unknown scope %q: use one of %s", sc, api.JoinScopes(api.AllScopes))
		}
	}
	scopes := api.SortScopes(slices.Clone(req.Scopes))
	if len(req.Sites) > api.MaxTokenSites {
		return store.Token{}, "", invalid("sites", "at most %d sites", api.MaxTokenSites)
	}
	sites := slices.Clone(req.Sites)
	for i, site := range sites {
		if !store.ValidID(site, api.PrefixSite) {
			return store.Token{}, "", invalid(fmt.Sprintf("sites[%d]", i), "%q is not a site id (%s...)", site, api.PrefixSite)
		}
	}
	slices.Sort(sites)
	sites = slices.Compact(sites)
	now := s.now()
	exp := now.Add(api.DefaultTokenTTL)
	if req.ExpiresAt != nil {
		exp = *req.ExpiresAt
		if !exp.After(now) {
			return store.Token{}, "", invalid("expires_at", "must be in the future")
		}
		if exp.Sub(now) > api.MaxTokenTTL {
			return store.Token{}, "", invalid("expires_at", "must be at most a year from now")
		}
	}

	u, err := s.st.User(ctx, caller.AccountID, caller.UserID)
	if err != nil {
		return store.Token{}, "", err
	}
	if missing := api.MissingScope(u.Role.Scopes(), scopes); missing != "" {
		return store.Token{}, "", &ScopeError{Scope: missing, Detail: fmt.Sprintf("your role (%s) does not grant scope %s", u.Role, missing)}
	}
	if missing := api.MissingScope(caller.Scopes, scopes); missing != "" {
		return store.Token{}, "", &ScopeError{Scope: missing, Detail: fmt.Sprintf("the token you authenticated with lacks scope %s", missing)}
	}
	if len(caller.Sites) > 0 {
		if len(sites) == 0 {
			return store.Token{}, "", &ScopeError{Detail: "the token you authenticated with is restricted to some sites: restrict the new one to some of them"}
		}
		for _, site := range sites {
			if !slices.Contains(caller.Sites, site) {
				return store.Token{}, "", &ScopeError{Detail: fmt.Sprintf("the token you authenticated with does not cover site %s", site)}
			}
		}
	}
	return s.tokens.Issue(ctx, auth.IssueRequest{AccountID: caller.AccountID, UserID: caller.UserID, Kind: api.TokenKindAPI,
		Name: name, Scopes: scopes, Sites: sites, ExpiresAt: exp})
}

// IssueAdminToken mints an API token with every scope the user's role grants, for the operator
// (dev mode); it skips the checks CreateToken makes on a caller.
func (s *Service) IssueAdminToken(ctx context.Context, u store.User, name string) (store.Token, string, error) {
	return s.tokens.Issue(ctx, auth.IssueRequest{AccountID: u.AccountID, UserID: u.ID, Kind: api.TokenKindAPI,
		Name: name, Scopes: u.Role.Scopes(), ExpiresAt: s.now().Add(api.DefaultTokenTTL)})
}

// canSeeAll reports whether the caller may see and revoke every token of its account.
func canSeeAll(caller store.Token) bool { return slices.Contains(caller.Scopes, api.ScopeAdmin) }

// ListTokens lists tokens of the caller's account: the caller's own, or, for an admin caller,
// everyone's (userID "all") or one user's.
func (s *Service) ListTokens(ctx context.Context, caller store.Token, userID string, kind api.TokenKind) ([]store.Token, error) {
	f := store.TokenFilter{AccountID: caller.AccountID, UserID: caller.UserID, Kind: kind}
	switch userID {
	case "", caller.UserID:
	case "all":
		if !canSeeAll(caller) {
			return nil, &ScopeError{Scope: api.ScopeAdmin, Detail: "listing everyone's tokens needs scope admin"}
		}
		f.UserID = ""
	default:
		if !canSeeAll(caller) {
			return nil, &ScopeError{Scope: api.ScopeAdmin, Detail: "listing another user's tokens needs scope admin"}
		}
		f.UserID = userID
	}
	return s.st.ListTokens(ctx, f)
}

// Token returns a token the caller may see; others are ErrNotFound, never "forbidden", so ids
// of other users' tokens reveal nothing.
func (s *Service) Token(ctx context.Context, caller store.Token, id string) (store.Token, error) {
	t, err := s.st.Token(ctx, id)
	if err != nil {
		return store.Token{}, err
	}
	if t.AccountID != caller.AccountID || (t.UserID != caller.UserID && !canSeeAll(caller)) {
		return store.Token{}, fmt.Errorf("token %s: %w", id, store.ErrNotFound)
	}
	return t, nil
}

// RevokeToken revokes a token the caller may see; the next request presenting it fails.
func (s *Service) RevokeToken(ctx context.Context, caller store.Token, id string) (store.Token, error) {
	t, err := s.Token(ctx, caller, id)
	if err != nil {
		return store.Token{}, err
	}
	if err := s.tokens.Revoke(ctx, caller.AccountID, id); err != nil {
		return store.Token{}, err
	}
	return s.st.Token(ctx, t.ID)
}

// Logout revokes the presented token.
func (s *Service) Logout(ctx context.Context, caller store.Token) error {
	return s.tokens.Revoke(ctx, caller.AccountID, caller.ID)
}

// WhoAmI returns the caller's user and account.
func (s *Service) WhoAmI(ctx context.Context, caller store.Token) (store.User, store.Account, error) {
	u, err := s.st.User(ctx, caller.AccountID, caller.UserID)
	if err != nil {
		return store.User{}, store.Account{}, err
	}
	acc, err := s.st.Account(ctx, caller.AccountID)
	return u, acc, err
}

func normalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || len(email) > 254 || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") {
		return "", invalid("email", "%q is not an e-mail address", email)
	}
	return email, nil
}

// checkText requires a non-empty single line of printable text of at most maxBytes.
func checkText(field, s string, maxBytes int) error {
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > maxBytes:
		return invalid(field, "must be at most %d bytes", maxBytes)
	case !utf8.ValidString(s):
		return invalid(field, "must be UTF-8 text")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return invalid(field, "must not contain control characters")
	}
	return nil
}
