package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/store"
)

// serverDataFlags locate the server's state; `smartx server` and its operator subcommands share them.
type serverDataFlags struct {
	dataDir       string
	database      string
	masterKeyFile string
}

// dataDirFor turns the flags and SMARTX_MASTER_KEY into a server.DataDir.
func (d *serverDataFlags) dataDirFor(f *Factory, create bool) (server.DataDir, error) {
	if d.dataDir == "" && d.database == "" {
		return server.DataDir{}, usageErrorf("--data-dir is required (or use `smartx server --dev` for a throwaway server)")
	}
	return server.DataDir{Dir: d.dataDir, DatabaseURL: d.database, MasterKeyFile: d.masterKeyFile,
		MasterKeyHex: f.Getenv("SMARTX_MASTER_KEY"), Create: create}, nil
}

// openServerService opens the data directory for an operator command. Only commands that may
// create state log (the warning about a generated master key matters there).
func openServerService(ctx context.Context, f *Factory, d *serverDataFlags, create bool) (*server.Service, error) {
	dd, err := d.dataDirFor(f, create)
	if err != nil {
		return nil, err
	}
	cfg := server.ServiceConfig{Now: f.Now}
	if create {
		cfg.Logger = serverLogger(f.IO.ErrOut, false)
	}
	return server.OpenService(ctx, dd, cfg)
}

func serverLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// serverError rewords the store's sentinel errors for the operator.
func serverError(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no such %s: list them with `smartx server %s list`", what, what)
	}
	return err
}

type serverRunFlags struct {
	serverDataFlags
	listen         string
	tlsCert        string
	tlsKey         string
	dev            bool
	devUsers       bool
	devEnvFile     string
	smtpURL        string
	smtpCAFile     string
	rateLimitIP    float64
	rateLimitToken float64
	replicas       int
}

func newServerCmd(f *Factory) *cobra.Command {
	opts := &serverRunFlags{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the reference platform server, or manage its accounts and users",
		Long: `Run the smartx reference platform server: the HTTPS API the smartx client is tested
against, and a real server an operator can deploy.

Without --tls-cert and --tls-key it generates a certificate authority and a server certificate
in <data-dir>/tls and logs where the CA is, for clients (SMARTX_CA_FILE). The master key that
protects the secrets in the database comes from --master-key-file or SMARTX_MASTER_KEY (64 hex
characters); without either, one is generated beside the database, which is only fit for trying
things out.

Password logins are two-factor: the server e-mails a 6-digit code through --smtp-url (or
SMARTX_SMTP_URL; the password may come from SMARTX_SMTP_PASSWORD so it stays out of ps), unless
the user enrolled an authenticator app. Without e-mail, only users with an app can log in by
password; API tokens are unaffected.

The API is rate limited per source address and per token or device (--rate-limit-ip,
--rate-limit-token, requests per second, 0 for none); behind a load balancer, every request
comes from its address: limit there, and raise --rate-limit-ip here.

--dev starts a throwaway server: an ephemeral data directory and master key, an account with an
owner and an admin token, all printed once it is listening. Its e-mails are written to files in
<data-dir>/dev-mail (dev only: nothing is sent); --dev-users adds a user of every role.`,
		Example: `  # try everything on this machine
  smartx server --dev

  # a persistent server
  smartx server account add --data-dir /var/lib/smartx --name "Acme"
  smartx server user add --data-dir /var/lib/smartx --account acc_... --email ops@acme.example --role owner
  SMARTX_MASTER_KEY=$(cat /etc/smartx/master.key) SMARTX_SMTP_PASSWORD=... smartx server --data-dir /var/lib/smartx \
      --listen 0.0.0.0:8443 --smtp-url 'smtp://smartx@mail.acme.example:587?from=smartx@acme.example'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServer(cmd.Context(), f, opts)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&opts.dataDir, "data-dir", "", "directory of the server's database, keys and certificates")
	pf.StringVar(&opts.database, "database", "", "database URL (default sqlite://<data-dir>/smartx.db)")
	pf.StringVar(&opts.masterKeyFile, "master-key-file", "", "file holding the master key, 64 hex characters (or env SMARTX_MASTER_KEY)")
	fl := cmd.Flags()
	fl.StringVar(&opts.listen, "listen", "127.0.0.1:8443", "address to listen on, host:port (port 0 picks a free one)")
	fl.StringVar(&opts.tlsCert, "tls-cert", "", "PEM certificate chain to serve (default: generated)")
	fl.StringVar(&opts.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.BoolVar(&opts.dev, "dev", false, "throwaway development server with a ready account, owner and admin token")
	fl.StringVar(&opts.devEnvFile, "dev-env-file", "", "with --dev, write SMARTX_SERVER, SMARTX_CA_FILE and SMARTX_TOKEN to this file once listening")
	fl.BoolVar(&opts.devUsers, "dev-users", false, "with --dev, add a user of every role (admin, support, installer, analyst) with printed passwords")
	fl.StringVar(&opts.smtpURL, "smtp-url", "", "mail server of the login codes, smtp://user@host:587?from=addr (STARTTLS) or smtps:// (env SMARTX_SMTP_URL)")
	fl.StringVar(&opts.smtpCAFile, "smtp-ca-file", "", "PEM file of extra authorities for the mail server's certificate")
	fl.Float64Var(&opts.rateLimitIP, "rate-limit-ip", float64(server.DefaultAPILimits.PerIP), "API requests per second per source address (bursts of twice as many; 0: no limit)")
	fl.Float64Var(&opts.rateLimitToken, "rate-limit-token", float64(server.DefaultAPILimits.PerToken), "API requests per second per token or device (bursts of twice as many; 0: no limit)")
	fl.IntVar(&opts.replicas, "replicas", 1, "servers sharing the database behind one address: each enforces this share of every rate limit, API and login")

	cmd.AddCommand(
		newServerAccountCmd(f, &opts.serverDataFlags),
		newServerUserCmd(f, &opts.serverDataFlags),
		newServerBackupCmd(f, &opts.serverDataFlags),
		newServerRestoreCmd(f, &opts.serverDataFlags),
	)
	return cmd
}

func runServer(ctx context.Context, f *Factory, opts *serverRunFlags) error {
	if opts.devEnvFile != "" && !opts.dev {
		return usageErrorf("--dev-env-file goes with --dev")
	}
	if opts.devUsers && !opts.dev {
		return usageErrorf("--dev-users goes with --dev")
	}
	if opts.rateLimitIP < 0 || opts.rateLimitToken < 0 {
		return usageErrorf("--rate-limit-ip and --rate-limit-token are requests per second: 0 or more")
	}
	if opts.replicas < 1 {
		return usageErrorf("--replicas is the number of servers sharing the database: 1 or more")
	}
	smtpURL := opts.smtpURL
	if smtpURL == "" {
		smtpURL = f.Getenv("SMARTX_SMTP_URL")
	}
	if !opts.dev && opts.dataDir == "" && opts.database == "" {
		return usageErrorf("--data-dir is required (or use --dev for a throwaway server)")
	}
	if opts.devEnvFile != "" {
		defer os.Remove(opts.devEnvFile) // it holds a token to a server that no longer exists
	}
	return server.Run(ctx, server.Options{
		Listen: opts.listen,
		DataDir: server.DataDir{Dir: opts.dataDir, DatabaseURL: opts.database, MasterKeyFile: opts.masterKeyFile,
			MasterKeyHex: f.Getenv("SMARTX_MASTER_KEY")},
		TLSCertFile:  opts.tlsCert,
		TLSKeyFile:   opts.tlsKey,
		Dev:          opts.dev,
		DevUsers:     opts.devUsers,
		SMTPURL:      smtpURL,
		SMTPPassword: f.Getenv("SMARTX_SMTP_PASSWORD"),
		SMTPCAFile:   opts.smtpCAFile,
		Replicas:     opts.replicas,
		Server: server.Config{APILimits: &server.APILimits{
			PerIP: rate.Limit(opts.rateLimitIP), BurstIP: burst(opts.rateLimitIP),
			PerToken: rate.Limit(opts.rateLimitToken), BurstToken: burst(opts.rateLimitToken)}},
		Version: buildinfo.Version(),
		Logger:  serverLogger(f.IO.ErrOut, f.Global.Verbose),
		Ready: func(r server.Ready) error {
			if r.Dev == nil {
				return nil
			}
			if opts.devEnvFile != "" {
				if err := writeServerDevEnvFile(opts.devEnvFile, r); err != nil {
					return err
				}
			}
			return printServerDevBlock(f, r, opts.dataDir == "")
		},
	})
}

// burst is the bucket size of a rate: two seconds' worth.
func burst(perSecond float64) int { return max(1, int(2*perSecond)) }

// serverDevEnv is what a shell needs to point smartx at a dev server.
func serverDevEnv(r server.Ready) [][2]string {
	return [][2]string{
		{"SMARTX_SERVER", r.URL},
		{"SMARTX_CA_FILE", r.CAFile},
		{"SMARTX_TOKEN", r.Dev.Token},
	}
}

// printServerDevBlock shows what a dev server made; ephemeral is false when --data-dir keeps it.
func printServerDevBlock(f *Factory, r server.Ready, ephemeral bool) error {
	st := f.IO.Styles()
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", st.Bold("smartx server is running in dev mode."))
	if ephemeral {
		fmt.Fprintf(&b, "%s\n\n", st.Warn("Everything lives in a temporary directory and a key held in memory: it disappears on exit. Never use dev mode in production."))
	} else {
		fmt.Fprintf(&b, "%s\n\n", st.Warn("The data and its master key stay in the --data-dir given: restart with 'smartx server --data-dir' to keep them. Never use dev mode in production."))
	}
	rows := [][2]string{{"Server URL", r.URL}, {"CA file", r.CAFile}, {"Account", r.Dev.AccountID},
		{"Owner e-mail", r.Dev.Email}, {"Owner password", r.Dev.Password}, {"Admin token", r.Dev.Token}}
	if r.Dev.MailDir != "" {
		rows = append(rows, [2]string{"E-mails", r.Dev.MailDir + " (dev only: login codes are written there, never sent)"})
	}
	for _, kv := range rows {
		fmt.Fprintf(&b, "  %-15s %s\n", kv[0]+":", kv[1])
	}
	if len(r.Dev.Users) > 0 {
		fmt.Fprintf(&b, "\n  %-24s %-10s %s\n", "User", "Role", "Password")
		for _, u := range r.Dev.Users {
			fmt.Fprintf(&b, "  %-24s %-10s %s\n", u.Email, u.Role, u.Password)
		}
	}
	shell, why := detectDevShell(runtime.GOOS, f.Getenv)
	if why == "" {
		fmt.Fprintf(&b, "\nPoint smartx at it:\n\n")
	} else {
		fmt.Fprintf(&b, "\nPoint smartx at it, in %s syntax (%s):\n\n", shell, why)
	}
	for _, line := range devEnvBlock(shell, serverDevEnv(r)) {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	if runtime.GOOS == "windows" {
		fmt.Fprintf(&b, "\nIn PowerShell: $env:NAME = 'value'; in cmd.exe: set \"NAME=value\"; in Git Bash: export NAME=value.\n")
	}
	fmt.Fprintf(&b, "\nStop it with Ctrl-C.\n\n")
	_, err := io.WriteString(f.IO.Out, b.String())
	return err
}

// writeServerDevEnvFile writes KEY=value lines for the current user only (secretfile.Restrict),
// atomically, so a script waiting for the file never reads half of it.
func writeServerDevEnvFile(path string, r server.Ready) error {
	var b strings.Builder
	for _, kv := range serverDevEnv(r) {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], serverShellQuote(kv[1]))
	}
	fmt.Fprintf(&b, "SMARTX_DEV_EMAIL=%s\nSMARTX_DEV_PASSWORD=%s\n", serverShellQuote(r.Dev.Email), serverShellQuote(r.Dev.Password))
	if r.Dev.MailDir != "" {
		fmt.Fprintf(&b, "SMARTX_DEV_MAIL_DIR=%s\n", serverShellQuote(r.Dev.MailDir))
	}
	for _, u := range r.Dev.Users {
		role := strings.ToUpper(string(u.Role))
		fmt.Fprintf(&b, "SMARTX_DEV_%s_EMAIL=%s\nSMARTX_DEV_%s_PASSWORD=%s\n", role, serverShellQuote(u.Email), role, serverShellQuote(u.Password))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".smartx-env-*")
	if err != nil {
		return fmt.Errorf("write --dev-env-file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err = secretfile.Restrict(tmp); err == nil {
		_, err = tmp.WriteString(b.String())
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write --dev-env-file %s: %w", path, err)
	}
	return nil
}
