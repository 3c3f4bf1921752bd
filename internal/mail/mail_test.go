package mail

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/mail/mailtest"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, url, password string
		want                Config
		wantErr             string
	}{
		{name: "submission with STARTTLS", url: "smtp://ops@mail.example.com?from=smartx@example.com",
			want: Config{Host: "mail.example.com", Port: 587, Username: "ops", From: "smartx@example.com"}},
		{name: "implicit TLS", url: "smtps://ops:pw@mail.example.com", want: Config{Host: "mail.example.com", Port: 465, ImplicitTLS: true,
			Username: "ops", Password: "pw", From: "smartx@mail.example.com"}},
		{name: "user is an address", url: "smtp://alerts@example.com@mail.example.com:2525",
			want: Config{Host: "mail.example.com", Port: 2525, Username: "alerts@example.com", From: "alerts@example.com"}},
		{name: "password from the environment", url: "smtp://ops@mail.example.com", password: "env",
			want: Config{Host: "mail.example.com", Port: 587, Username: "ops", Password: "env", From: "smartx@mail.example.com"}},
		{name: "plain smtp scheme unknown", url: "http://mail.example.com", wantErr: "use smtp:// (STARTTLS) or smtps://"},
		{name: "no host", url: "smtp://", wantErr: "names no host"},
		{name: "bad port", url: "smtp://mail.example.com:99999", wantErr: "not a port"},
		{name: "a path", url: "smtp://mail.example.com/x", wantErr: "has a path"},
		{name: "two passwords", url: "smtp://a:b@mail.example.com", password: "c", wantErr: "use one"},
		{name: "password without user", url: "smtp://mail.example.com", password: "c", wantErr: "without a user"},
		{name: "unknown parameter", url: "smtp://mail.example.com?tls=off", wantErr: `parameter "tls"`},
		{name: "bad sender", url: "smtp://mail.example.com?from=nobody", wantErr: "not an e-mail address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURL(tt.url, tt.password)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL = %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pw") && strings.Contains(tt.url, ":pw@") {
					t.Fatalf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseURL = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func startServer(t *testing.T) *mailtest.Server {
	t.Helper()
	srv, err := mailtest.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestSMTPDeliversOverSTARTTLSWithAuth(t *testing.T) {
	srv := startServer(t)
	cfg, err := ParseURL(srv.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootCAs = srv.RootCAs()
	s := NewSMTP(cfg)
	msg := Message{To: "alice@example.com", Subject: "Your smartx login code", Text: "Code: 123456\nIt expires in 10 minutes. Café.\n"}
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages received", len(got))
	}
	m := got[0]
	if !m.TLS || m.AuthUser != "smartx" || m.To != "alice@example.com" || m.From != "smartx@example.com" {
		t.Fatalf("received %+v", m)
	}
	if m.Subject() != msg.Subject || !strings.Contains(m.Text(), "Code: 123456\r\nIt expires in 10 minutes. Café.") {
		t.Fatalf("subject %q, text %q", m.Subject(), m.Text())
	}
}

func TestSMTPFailures(t *testing.T) {
	srv := startServer(t)
	good, _ := ParseURL(srv.URL(), "")
	good.RootCAs = srv.RootCAs()
	msg := Message{To: "alice@example.com", Subject: "s", Text: "t"}
	tests := []struct {
		name    string
		cfg     func(c Config) Config
		msg     Message
		wantErr string
	}{
		{"certificate not trusted", func(c Config) Config { c.RootCAs = nil; return c }, msg, "STARTTLS"},
		{"wrong password", func(c Config) Config { c.Password = "nope"; return c }, msg, "authenticate as smartx"},
		{"no credentials", func(c Config) Config { c.Username, c.Password = "", ""; return c }, msg, "authenticate first"},
		{"header injection", func(c Config) Config { return c }, Message{To: "a@example.com", Subject: "x\r\nBcc: b@example.com"}, "line break"},
		{"nothing listens", func(c Config) Config { c.Port = closedPort(t); return c }, msg, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewSMTP(tt.cfg(good)).Send(context.Background(), tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Send = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages got through", n)
	}
}

func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestDirWritesDevMail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev-mail")
	var written []string
	d, err := NewDir(dir, func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) },
		func(path string, m Message) { written = append(written, path) })
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Send(context.Background(), Message{To: "owner@example.com", Subject: "Your code", Text: "Code: 654321"}); err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || filepath.Dir(written[0]) != dir || !strings.HasSuffix(written[0], "-owner@example.com.eml") {
		t.Fatalf("written %v", written)
	}
	b, err := os.ReadFile(written[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), DevHeader) || !strings.Contains(string(b), "Code: 654321") {
		t.Fatalf("dev mail:\n%s", b)
	}
	if err := d.Send(context.Background(), Message{To: "not an address"}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("a bad recipient: %v", err)
	}
}

// FuzzParseURL: any string is either a valid configuration or an error that never shows the
// password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"smtp://ops:pw@mail.example.com:587?from=a@b.co", "smtps://x", "smtp://a@b@c", "smtp://[::1]:25", "smtp://h?from=%zz", ""} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, raw, password string) {
		c, err := ParseURL(raw, password)
		if err != nil {
			if pw := strings.SplitN(strings.TrimPrefix(raw, "smtp://"), "@", 2)[0]; strings.Contains(pw, ":") {
				secret := pw[strings.IndexByte(pw, ':')+1:]
				if len(secret) >= 6 && strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows the password: %v", err)
				}
			}
			return
		}
		if c.Host == "" || c.Port < 1 || c.Port > 65535 || c.From == "" {
			t.Fatalf("ParseURL(%q) = %+v", raw, c)
		}
	})
}
