package server

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"os"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/mail"
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
	// Mail sends the e-mailed login codes; nil when the server has none, and then only users
	// with an authenticator app (TOTP) can log in with a password.
	Mail mail.Sender
	// TOTPIssuer names the platform in authenticator apps (default "smartx").
	TOTPIssuer string
	// SSOClient reaches the accounts' OpenID Connect providers (default: a client with a 15 s
	// timeout).
	SSOClient *http.Client
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
	mail      mail.Sender
	issuer    string
	sso       *ssoProviders
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
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "smartx"
	}
	s := &Service{
		st:        cfg.Store,
		keys:      keys,
		tokens:    auth.NewTokenService(keys, cfg.Store, cfg.Rand, cfg.Now),
		uploadDir: cfg.UploadDir,
		hasher:    hasher,
		policy:    auth.NewPasswordPolicy(),
		limiter:   newLoginLimiter(limits),
		mail:      cfg.Mail,
		issuer:    cfg.TOTPIssuer,
		sso:       newSSOProviders(cfg.SSOClient, cfg.Now),
		log:       cfg.Logger,
		now:       cfg.Now,
		rand:      cfg.Rand,
	}
	s.devices = newDeviceAuth(cfg.Store, keys, s.openDevice)
	return s, nil
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

// CreateAccount creates an account with its data key; its name is sealed under that key.
func (s *Service) CreateAccount(ctx context.Context, name string) (Account, error) {
	name = strings.TrimSpace(name)
	if err := checkText("name", name, 200); err != nil {
		return Account{}, err
	}
	id, err := s.newID(api.PrefixAccount)
	if err != nil {
		return Account{}, err
	}
	dk, err := s.keys.NewDataKey(id)
	if err != nil {
		return Account{}, err
	}
	sealedName, err := s.keys.SealForAccount(ctx, id, accountNamePurpose(), []byte(name))
	if err != nil {
		return Account{}, err
	}
	// One row: each user's token key is made when their first token is issued.
	acc := Account{Account: store.Account{ID: id, SealedName: sealedName, DataKey: dk, CreatedAt: s.nowUTC()}, Name: name}
	if err := s.st.CreateAccount(ctx, acc.Account); err != nil {
		return Account{}, err
	}
	return acc, nil
}

// DeleteAccount deletes an account and everything it owns, and destroys its data key in the
// same transaction (crypto-shredding); its tokens stop working at once.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	if err := s.st.DeleteAccount(ctx, id); err != nil {
		return err
	}
	s.tokens.Invalidate()
	s.devices.invalidate()
	return nil
}

// ListAccounts lists every account.
func (s *Service) ListAccounts(ctx context.Context) ([]Account, error) {
	list, err := s.st.ListAccounts(ctx)
	if err != nil {
		return nil, err
	}
	return openAll(ctx, list, s.openAccount)
}

func normalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	addr, err := netmail.ParseAddress(email)
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
