package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/mail"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/postgres"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
)

// File names in the data directory.
const (
	DatabaseFile  = "smartx.db"
	MasterKeyFile = "master.key"
	TLSDir        = "tls"
	// UploadsDir holds uploads while they are verified and stored; files left there by a crash
	// are removed at start.
	UploadsDir = "uploads"
)

// ErrMasterKeyTooOpen is a master key file that users other than its owner can read: whoever
// reads it can decrypt every account's data, so it is refused, not merely warned about.
var ErrMasterKeyTooOpen = errors.New("the master key file is readable by other users")

// DataDir says where the server's state lives and how to find its master key.
type DataDir struct {
	Dir string
	// DatabaseURL defaults to sqlite://<Dir>/smartx.db; postgres://... selects PostgreSQL,
	// and then Dir is optional (it holds the uploads in progress when given).
	DatabaseURL string
	// The master key comes from MasterKey if set, else MasterKeyFile, else MasterKeyHex (the
	// SMARTX_MASTER_KEY environment variable), else <Dir>/master.key, generated if missing
	// when Create is set.
	MasterKey     *auth.Key
	MasterKeyFile string
	MasterKeyHex  string
	// Create allows creating the directory, the database and the master key.
	Create bool
}

// IsPostgresURL reports whether a database URL names a PostgreSQL database.
func IsPostgresURL(databaseURL string) bool {
	scheme, _, ok := strings.Cut(databaseURL, "://")
	return ok && (scheme == "postgres" || scheme == "postgresql")
}

// DatabasePath returns the SQLite file a database URL names; it rejects other stores.
func DatabasePath(dir, databaseURL string) (string, error) {
	if databaseURL == "" {
		if dir == "" {
			return "", errors.New("no data directory: set --data-dir (or --database)")
		}
		return filepath.Join(dir, DatabaseFile), nil
	}
	scheme, rest, ok := strings.Cut(databaseURL, "://")
	switch {
	case !ok:
		return "", fmt.Errorf("database URL %q has no scheme: use sqlite://PATH or postgres://USER@HOST/DB", databaseURL)
	case IsPostgresURL(databaseURL):
		return "", fmt.Errorf("database URL %q is a PostgreSQL database, not a file", scheme+"://...")
	case scheme != "sqlite":
		return "", fmt.Errorf("database URL scheme %q is not supported: use sqlite://PATH or postgres://USER@HOST/DB", scheme)
	}
	path, err := url.PathUnescape(rest)
	if err != nil || path == "" {
		return "", fmt.Errorf("database URL %q names no file: use sqlite://PATH", databaseURL)
	}
	return path, nil
}

// OpenService opens the data directory's store and master key and returns the service on them.
func OpenService(ctx context.Context, dd DataDir, cfg ServiceConfig) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := openStore(ctx, dd, &cfg)
	if err != nil {
		return nil, err
	}
	if err := checkKeyToGenerate(ctx, dd, st); err != nil {
		st.Close()
		return nil, err
	}
	key, err := MasterKey(dd, cfg.Logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	cfg.Store, cfg.MasterKey = st, key
	svc, err := NewService(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	return svc, nil
}

// openStore opens the store dd names, creating the directories it needs, and sets where
// uploads wait (cfg.UploadDir) unless the caller chose.
func openStore(ctx context.Context, dd DataDir, cfg *ServiceConfig) (store.Store, error) {
	if dd.Create && dd.Dir != "" {
		if err := privateDir(dd.Dir, cfg.Logger); err != nil {
			return nil, err
		}
	}
	if IsPostgresURL(dd.DatabaseURL) {
		if cfg.UploadDir == "" && dd.Dir != "" {
			cfg.UploadDir = filepath.Join(dd.Dir, UploadsDir)
			if err := privateDir(cfg.UploadDir, cfg.Logger); err != nil {
				return nil, err
			}
		}
		// Without --data-dir, uploads wait in the system's temporary directory (NewService).
		return postgres.Open(ctx, dd.DatabaseURL, postgres.Options{})
	}
	path, err := DatabasePath(dd.Dir, dd.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if dd.Create {
		if err := privateDir(filepath.Dir(path), cfg.Logger); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no smartx database at %s: check --data-dir, or create one with `smartx server account add`", path)
	}
	if cfg.UploadDir == "" {
		cfg.UploadDir = filepath.Join(filepath.Dir(path), UploadsDir)
		if err := privateDir(cfg.UploadDir, cfg.Logger); err != nil {
			return nil, err
		}
	}
	return sqlite.Open(ctx, path)
}

// privateDir creates dir owner-only, or tightens an existing one that others could read.
func privateDir(dir string, log *slog.Logger) error {
	changed, err := secretfile.PrivateDir(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if changed {
		log.Warn("the directory was readable by other users: it is now owner-only (0700)", "path", dir)
	}
	return nil
}

// cleanUploads removes the uploads a crashed server left behind. An upload is only acknowledged
// once stored, so none is needed; only files over an hour old go, as another process sharing
// the data directory may be receiving the younger ones.
func cleanUploads(dir string, now time.Time, log *slog.Logger) {
	leftovers, _ := filepath.Glob(filepath.Join(dir, uploadPattern))
	for _, f := range leftovers {
		if fi, err := os.Stat(f); err == nil && now.Sub(fi.ModTime()) > time.Hour {
			if err := os.Remove(f); err != nil {
				log.Warn("could not remove a stale upload", "path", f, "err", err)
			}
		}
	}
}

// generatesMasterKey reports whether MasterKey would draw a new key into <Dir>/master.key.
func generatesMasterKey(dd DataDir) bool {
	if dd.MasterKey != nil || dd.MasterKeyHex != "" || dd.MasterKeyFile != "" || dd.Dir == "" || !dd.Create {
		return false
	}
	_, err := os.Stat(filepath.Join(dd.Dir, MasterKeyFile))
	return errors.Is(err, fs.ErrNotExist)
}

// checkKeyToGenerate refuses, before anything is written, to draw a master key for a database
// that already has one: the new key could not open it, and would be left behind as a stray
// master.key. That is the directory of a `smartx server --dev` without --data-dir, whose key
// lives only in the dev server's memory, or a data directory whose key is kept elsewhere.
func checkKeyToGenerate(ctx context.Context, dd DataDir, st store.Store) error {
	if !generatesMasterKey(dd) {
		return nil
	}
	_, err := st.Meta(ctx, auth.MasterCheckMetaKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // a new database: its key is made now
	case err != nil:
		return fmt.Errorf("check master key: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dd.Dir, DevMailDir)); err == nil {
		return fmt.Errorf("%s is the throwaway directory of a `smartx server --dev`, whose master key lives in its memory only: "+
			"nothing was written; to add accounts to a dev server, start it with `smartx server --dev --data-dir DIR`, which keeps its key in DIR", dd.Dir)
	}
	return fmt.Errorf("the database in %s was made with a master key that is not there: nothing was written; "+
		"pass the server's key with --master-key-file or SMARTX_MASTER_KEY", dd.Dir)
}

// MasterKey finds the master key as DataDir documents: the key itself, the hex of
// SMARTX_MASTER_KEY, the file named by --master-key-file, or master.key in the data directory
// (created there only when dd.Create is set).
func MasterKey(dd DataDir, log *slog.Logger) (auth.Key, error) {
	switch {
	case dd.MasterKey != nil:
		return *dd.MasterKey, nil
	case dd.MasterKeyFile != "" && dd.MasterKeyHex != "":
		return auth.Key{}, errors.New("both --master-key-file and SMARTX_MASTER_KEY are set: use one")
	case dd.MasterKeyHex != "":
		k, err := auth.ParseKeyHex(dd.MasterKeyHex)
		if err != nil {
			return auth.Key{}, fmt.Errorf("SMARTX_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	path := dd.MasterKeyFile
	if path == "" {
		if dd.Dir == "" {
			return auth.Key{}, errors.New("no master key: set --master-key-file or SMARTX_MASTER_KEY, or --data-dir to keep one there")
		}
		path = filepath.Join(dd.Dir, MasterKeyFile)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && dd.Create {
			k, err := auth.NewKey(rand.Reader)
			if err != nil {
				return auth.Key{}, err
			}
			if err := auth.WriteKeyFile(path, k); err != nil {
				return auth.Key{}, err
			}
			log.Warn("GENERATED A MASTER KEY BESIDE THE DATABASE: anyone who copies the data directory can decrypt every "+
				"secret in it. For production, move the key elsewhere and pass --master-key-file or SMARTX_MASTER_KEY", "path", path)
			return k, nil
		}
	}
	k, tooOpen, err := auth.ReadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) && dd.MasterKeyFile == "" {
		return auth.Key{}, fmt.Errorf("no master key in %s: pass the server's key with --master-key-file or SMARTX_MASTER_KEY", dd.Dir)
	}
	if err != nil {
		return auth.Key{}, err
	}
	if tooOpen {
		return auth.Key{}, fmt.Errorf("%w: run `%s`, then start again", ErrMasterKeyTooOpen, secretfile.FixHint(path))
	}
	if dd.MasterKeyFile == "" {
		log.Warn("the master key is kept beside the database, which defeats its purpose: move it and pass --master-key-file or SMARTX_MASTER_KEY", "path", path)
	}
	return k, nil
}

// Options configure Run, which is `smartx server`.
type Options struct {
	Listen  string // host:port; port 0 picks a free port
	DataDir DataDir
	// TLSCertFile and TLSKeyFile name the certificate to serve; without them a CA and a
	// server certificate are generated in <data dir>/tls.
	TLSCertFile string
	TLSKeyFile  string
	// Dev runs `smartx server --dev`: an ephemeral data directory (unless DataDir.Dir is set),
	// an ephemeral master key, and an account, owner and admin token made at start. E-mails
	// are written to <data dir>/dev-mail instead of being sent.
	Dev bool
	// DevUsers, with Dev, adds a user of every other role (admin, support, installer, analyst)
	// with a generated password, so every guide can be followed against a dev server.
	DevUsers bool
	// SMTPURL is the mail server of the e-mailed login codes (smtp://user@host:587?from=...);
	// SMTPPassword its password when not in the URL; SMTPCAFile extra authorities for its
	// certificate. Without SMTPURL (and without Dev) only users with TOTP can log in by password.
	SMTPURL      string
	SMTPPassword string
	SMTPCAFile   string
	// Replicas is the number of servers sharing the database behind one address: each
	// enforces 1/Replicas of every rate limit (API and login), as their buckets are in memory.
	Replicas int
	Version  string
	Logger   *slog.Logger
	// Ready is called once the server is listening, with what a client needs to reach it.
	Ready func(Ready) error

	// Service and Server settings, for tests; production leaves them zero.
	Service ServiceConfig
	Server  Config
}

// Ready describes a listening server.
type Ready struct {
	URL    string
	Addr   net.Addr
	CAFile string // "" when serving an operator's certificate
	Dev    *DevCredentials
}

// DevCredentials are what `smartx server --dev` made for the developer; shown once.
type DevCredentials struct {
	AccountID string
	Email     string
	Password  string
	Token     string
	// MailDir is where the login codes' e-mails are written (dev only: nothing is sent).
	MailDir string
	// Users are the users of the other roles, with DevUsers.
	Users []DevUser
}

// DevUser is a user `smartx server --dev --dev-users` made, with their password.
type DevUser struct {
	Email    string
	Role     api.Role
	Password string
}

// DevMailDir is the directory of a dev server's e-mails inside its data directory.
const DevMailDir = "dev-mail"

// DevOwnerEmail is the e-mail of the owner that dev mode creates.
const DevOwnerEmail = "owner@example.com"

// Run serves the API until ctx ends.
func Run(ctx context.Context, o Options) (err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o.Service.Logger, o.Server.Logger = log, log
	if o.Replicas > 1 {
		login := DefaultLoginLimits
		if o.Service.LoginLimits != nil {
			login = *o.Service.LoginLimits
		}
		api := DefaultAPILimits
		if o.Server.APILimits != nil {
			api = *o.Server.APILimits
		}
		login, api = login.Share(o.Replicas), api.Share(o.Replicas)
		o.Service.LoginLimits, o.Server.APILimits = &login, &api
		log.Info("rate limits shared between replicas", "replicas", o.Replicas,
			"api_per_ip", float64(api.PerIP), "api_per_token", float64(api.PerToken), "logins_per_user_per_minute", float64(login.PerUser)*60)
	}
	dd := o.DataDir
	dd.Create = true
	if o.Dev && dd.Dir == "" {
		tmp, err := os.MkdirTemp("", "smartx-dev-")
		if err != nil {
			return fmt.Errorf("create ephemeral data directory: %w", err)
		}
		defer func() {
			if rmErr := os.RemoveAll(tmp); rmErr != nil {
				log.Warn("could not remove the ephemeral data directory", "path", tmp, "err", rmErr)
			}
		}()
		dd.Dir = tmp
		if dd.MasterKey == nil && dd.MasterKeyFile == "" && dd.MasterKeyHex == "" {
			k, err := auth.NewKey(rand.Reader)
			if err != nil {
				return err
			}
			dd.MasterKey = &k // in memory only: the data dies with the process
		}
		log.Info("dev mode: ephemeral data directory, removed on exit", "path", tmp)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if IsPostgresURL(dd.DatabaseURL) {
		// Every replica on the database must present the certificate its devices trust; a CA
		// generated per data directory would differ from one replica to the next.
		if o.Dev {
			return errors.New("--dev runs on a throwaway SQLite database: drop --database, or drop --dev to serve a PostgreSQL database")
		}
		if o.TLSCertFile == "" {
			return errors.New("with a PostgreSQL database, give the certificate every replica serves with --tls-cert and --tls-key: a certificate authority generated per data directory would differ between replicas")
		}
	}
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w (use host:port, such as 127.0.0.1:8443)", o.Listen, err)
	}

	var devMail *mail.Dir
	switch {
	case o.SMTPURL != "":
		cfg, err := mail.ParseURL(o.SMTPURL, o.SMTPPassword)
		if err != nil {
			return err
		}
		if o.SMTPCAFile != "" {
			if cfg.RootCAs, err = mail.LoadRootCAs(o.SMTPCAFile); err != nil {
				return err
			}
		}
		o.Service.Mail = mail.NewSMTP(cfg)
	case o.Dev:
		devMail, err = mail.NewDir(filepath.Join(dd.Dir, DevMailDir), time.Now, func(path string, m mail.Message) {
			log.Warn("DEV ONLY: an e-mail was written to a file, not sent", "to", m.To, "subject", m.Subject, "path", path)
		})
		if err != nil {
			return err
		}
		o.Service.Mail = devMail
	case o.SMTPPassword != "" || o.SMTPCAFile != "":
		return errors.New("an SMTP password or CA file without an SMTP URL: set --smtp-url too")
	default:
		log.Warn("no e-mail configured (--smtp-url): password logins need an e-mailed code, so only users with an authenticator app (TOTP) can log in")
	}
	if o.Service.Mail != nil {
		log.Info("login codes are e-mailed", "via", o.Service.Mail.Describe())
	}
	if o.DevUsers && !o.Dev {
		return errors.New("--dev-users goes with --dev")
	}

	svc, err := OpenService(ctx, dd, o.Service)
	if err != nil {
		return err
	}
	cleanUploads(svc.uploadDir, time.Now(), log)
	defer func() {
		if cerr := svc.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	tlsConfig, caFile, err := serverTLS(o, dd.Dir, host, log)
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	defer ln.Close()
	srvCfg := o.Server
	srvCfg.Service, srvCfg.Version = svc, o.Version
	srv, err := New(srvCfg)
	if err != nil {
		return err
	}
	ready := Ready{URL: serverURL(ln.Addr(), host), Addr: ln.Addr(), CAFile: caFile}
	if o.Dev {
		creds, err := bootstrapDev(ctx, svc, o.DevUsers)
		if err != nil {
			return err
		}
		if devMail != nil {
			creds.MailDir = devMail.Path()
		}
		ready.Dev = &creds
	}
	log.Info("smartx server listening", "url", ready.URL, "addr", ln.Addr().String(), "data_dir", dd.Dir, "version", o.Version)

	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(serveCtx, ln, tlsConfig) }()
	if o.Ready != nil {
		if err := o.Ready(ready); err != nil {
			stop()
			<-errc
			return err
		}
	}
	err = <-errc
	log.Info("smartx server stopped")
	return err
}

// serverTLS loads the operator's certificate or generates a CA and server certificate.
func serverTLS(o Options, dataDir, listenHost string, log *slog.Logger) (*tls.Config, string, error) {
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("load TLS certificate: %w", err)
		}
		return TLSConfig(cert), "", nil
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if !o.Dev {
		if name, err := os.Hostname(); err == nil && name != "" {
			hosts = append(hosts, name)
		}
	}
	if h := strings.Trim(listenHost, "[]"); h != "" && !isUnspecified(h) && !containsFold(hosts, h) {
		hosts = append(hosts, h)
	}
	files, created, err := EnsureSelfSigned(filepath.Join(dataDir, TLSDir), hosts, time.Now())
	if err != nil {
		return nil, "", err
	}
	cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		return nil, "", fmt.Errorf("load generated TLS certificate: %w", err)
	}
	if created {
		log.Info("generated a certificate authority and server certificate", "hosts", strings.Join(hosts, ","))
	}
	log.Warn("serving a self-signed certificate: give clients the CA file (SMARTX_CA_FILE); in production use real certificates with --tls-cert and --tls-key",
		"ca_file", files.CACert)
	return TLSConfig(cert), files.CACert, nil
}

func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// serverURL is the URL clients use: the listen host, or localhost for a wildcard address.
func serverURL(addr net.Addr, listenHost string) string {
	port := "0"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	host := strings.Trim(listenHost, "[]")
	if host == "" || isUnspecified(host) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// bootstrapDev makes (or, in a kept data directory, reuses) the dev account and owner, sets a
// fresh password and mints an admin token; with users, a user of every other role too.
func bootstrapDev(ctx context.Context, svc *Service, users bool) (DevCredentials, error) {
	owner, accountID, err := devUser(ctx, svc, "", DevOwnerEmail, api.RoleOwner)
	if err != nil {
		return DevCredentials{}, err
	}
	u, err := svc.UserByEmail(ctx, DevOwnerEmail)
	if err != nil {
		return DevCredentials{}, err
	}
	_, secret, err := svc.IssueAdminToken(ctx, u, "dev admin")
	if err != nil {
		return DevCredentials{}, err
	}
	creds := DevCredentials{AccountID: accountID, Email: owner.Email, Password: owner.Password, Token: secret}
	if users {
		for _, role := range api.AllRoles[1:] {
			du, _, err := devUser(ctx, svc, accountID, string(role)+"@example.com", role)
			if err != nil {
				return DevCredentials{}, err
			}
			creds.Users = append(creds.Users, du)
		}
	}
	return creds, nil
}

// devUser makes a dev user with a fresh password, or gives an existing one (a kept data
// directory) a fresh password; accountID "" makes the dev account too.
func devUser(ctx context.Context, svc *Service, accountID, email string, role api.Role) (DevUser, string, error) {
	password, err := svc.GeneratePassword()
	if err != nil {
		return DevUser{}, "", err
	}
	u, err := svc.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if accountID == "" {
			acc, err := svc.CreateAccount(ctx, "Development")
			if err != nil {
				return DevUser{}, "", err
			}
			accountID = acc.ID
		}
		if u, err = svc.AddUser(ctx, NewUser{AccountID: accountID, Email: email, Role: string(role), Password: password}); err != nil {
			return DevUser{}, "", err
		}
	case err != nil:
		return DevUser{}, "", err
	default:
		if err := svc.setPassword(ctx, u, password); err != nil {
			return DevUser{}, "", err
		}
	}
	return DevUser{Email: u.Email, Role: u.Role, Password: password}, u.AccountID, nil
}
