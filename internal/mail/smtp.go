package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is an SMTP server and how to authenticate to it.
type Config struct {
	Host string
	Port int
	// ImplicitTLS speaks TLS from the first byte (smtps://, port 465); otherwise the server must
	// offer STARTTLS, which is required: nothing is ever sent in clear.
	ImplicitTLS bool
	Username    string
	Password    string
	// From is the sender address of every message.
	From string
	// RootCAs are the authorities the server's certificate must chain to (nil: the system's).
	RootCAs *x509.CertPool
	// Timeout bounds a whole delivery (default 30 s).
	Timeout time.Duration
}

// ParseURL reads an SMTP URL: smtp://[user[:password]@]host[:port][?from=address] (STARTTLS,
// port 587 by default) or smtps://... (implicit TLS, port 465). The password may instead come
// from password (the SMARTX_SMTP_PASSWORD environment variable), so it does not show in ps.
func ParseURL(raw, password string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("SMTP URL: %v (use smtp://user@host:587?from=smartx@example.com)", redactURLError(err))
	}
	var c Config
	switch u.Scheme {
	case "smtp":
		c.Port = 587
	case "smtps":
		c.Port, c.ImplicitTLS = 465, true
	default:
		return Config{}, fmt.Errorf("SMTP URL scheme %q is not supported: use smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return Config{}, errors.New("SMTP URL names no host: use smtp://user@host:587")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("SMTP URL port %q is not a port number", p)
		}
		c.Port = n
	}
	if u.Path != "" && u.Path != "/" {
		return Config{}, fmt.Errorf("SMTP URL has a path (%s): an SMTP URL is scheme://host:port", u.Path)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		if p, ok := u.User.Password(); ok {
			c.Password = p
		}
	}
	if password != "" {
		if c.Password != "" {
			return Config{}, errors.New("the SMTP password is both in the URL and in SMARTX_SMTP_PASSWORD: use one")
		}
		c.Password = password
	}
	if c.Password != "" && c.Username == "" {
		return Config{}, errors.New("an SMTP password without a user: put the user in the URL (smtp://user@host)")
	}
	q := u.Query()
	for k := range q {
		if k != "from" {
			return Config{}, fmt.Errorf("SMTP URL parameter %q is not known (known: from)", k)
		}
	}
	c.From = q.Get("from")
	if c.From == "" {
		if strings.Contains(c.Username, "@") {
			c.From = c.Username
		} else {
			c.From = "smartx@" + c.Host
		}
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return Config{}, fmt.Errorf("SMTP sender %q is not an e-mail address: set ?from=smartx@example.com", c.From)
	}
	return c, nil
}

// redactURLError keeps a password out of a URL parse error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// SMTP sends through an SMTP server.
type SMTP struct {
	cfg  Config
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	now  func() time.Time
}

// NewSMTP returns a sender for cfg.
func NewSMTP(cfg Config) *SMTP {
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg, dial: (&net.Dialer{}).DialContext, now: time.Now}
}

// Describe implements Sender.
func (s *SMTP) Describe() string {
	scheme := "smtp"
	if s.cfg.ImplicitTLS {
		scheme = "smtps"
	}
	who := ""
	if s.cfg.Username != "" {
		who = s.cfg.Username + "@"
	}
	return fmt.Sprintf("%s://%s%s from %s", scheme, who, net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)), s.cfg.From)
}

// Send implements Sender: one connection per message, TLS always, AUTH PLAIN when a user is
// configured.
func (s *SMTP) Send(ctx context.Context, m Message) (err error) {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	defer func() {
		if err != nil {
			err = fmt.Errorf("send e-mail through %s: %w", addr, err)
		}
	}()
	body, err := build(s.cfg.From, m, s.now(), s.cfg.Host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	conn, err := s.dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	tlsConfig := &tls.Config{ServerName: s.cfg.Host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if s.cfg.ImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if !s.cfg.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS, and smartx sends no mail in clear: use a server with TLS, or smtps://")
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server offers no authentication, but a user is configured: remove it from the URL, or check the server")
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("authenticate as %s: %w", s.cfg.Username, err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return err
	}
	if err := c.Rcpt(m.To); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// LoadRootCAs reads a PEM file of extra authorities for the SMTP server's certificate, on top
// of the system's.
func LoadRootCAs(path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SMTP CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("SMTP CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
