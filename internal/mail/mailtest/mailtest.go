// Package mailtest runs a real SMTP server on loopback for tests, built with
// github.com/emersion/go-smtp: it offers STARTTLS with a certificate of its own, requires TLS
// before AUTH PLAIN and authentication before any message, and keeps what it receives. Tests
// send through it with the same client the platform uses in production: nothing of the sending
// code is mocked.
package mailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	From, To string
	AuthUser string
	TLS      bool
	Raw      []byte
}

// Text returns the message's decoded body (quoted-printable, as smartx sends it).
func (r Received) Text() string {
	m, err := mail.ReadMessage(bytes.NewReader(r.Raw))
	if err != nil {
		return ""
	}
	body := io.Reader(m.Body)
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	return string(b)
}

// Subject returns the message's subject.
func (r Received) Subject() string {
	m, err := mail.ReadMessage(bytes.NewReader(r.Raw))
	if err != nil {
		return ""
	}
	return m.Header.Get("Subject")
}

// Server is a running SMTP server.
type Server struct {
	Addr     string // 127.0.0.1:port
	Username string
	Password string
	caPEM    []byte
	srv      *smtp.Server

	mu       sync.Mutex
	received []Received
	notify   chan struct{}
	// Dir, when set, gets each message as a file too (tests that read mail from a shell).
	dir string
}

// Start starts a server on a free loopback port. dir, when not empty, receives each message
// as <n>.eml as well.
func Start(dir string) (*Server, error) {
	cert, caPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), Username: "smartx", Password: "mailtest-password", caPEM: caPEM,
		notify: make(chan struct{}, 1), dir: dir}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, c: c}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.AllowInsecureAuth = false
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0) // clients hanging up on purpose are not news
	s.srv = srv
	go srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// URL is the smtp:// URL of the server with its credentials, for `smartx server --smtp-url`.
func (s *Server) URL() string {
	return (&url.URL{Scheme: "smtp", User: url.UserPassword(s.Username, s.Password), Host: s.Addr, RawQuery: "from=smartx%40example.com"}).String()
}

// CAFile writes the authority of the server's certificate to dir and returns its path.
func (s *Server) CAFile(dir string) (string, error) {
	path := filepath.Join(dir, "smtp-ca.pem")
	return path, os.WriteFile(path, s.caPEM, 0o600)
}

// RootCAs returns a pool holding the server's authority.
func (s *Server) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	return pool
}

// Messages returns what was received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Wait returns once at least n messages were received, or when ctx ends.
func (s *Server) Wait(ctx context.Context, n int) ([]Received, error) {
	for {
		if msgs := s.Messages(); len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %d message(s): %w", n, ctx.Err())
		case <-s.notify:
		}
	}
}

type session struct {
	s        *Server
	c        *smtp.Conn
	authUser string
	from, to string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.Username || password != ss.s.Password {
			return errors.New("invalid credentials")
		}
		ss.authUser = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = to
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.c.TLSConnectionState()
	m := Received{From: ss.from, To: ss.to, AuthUser: ss.authUser, TLS: isTLS, Raw: raw}
	ss.s.mu.Lock()
	ss.s.received = append(ss.s.received, m)
	n := len(ss.s.received)
	ss.s.mu.Unlock()
	if ss.s.dir != "" {
		tmp := filepath.Join(ss.s.dir, fmt.Sprintf(".%04d.tmp", n))
		if err := os.WriteFile(tmp, raw, 0o600); err == nil {
			os.Rename(tmp, filepath.Join(ss.s.dir, fmt.Sprintf("%04d.eml", n)))
		}
	}
	select {
	case ss.s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", "" }
func (ss *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, its own authority.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemCert, nil
}
