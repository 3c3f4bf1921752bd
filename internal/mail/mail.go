// Package mail sends the platform's e-mails: the login codes of the two-factor login. SMTP
// sends through a real mail server over TLS (STARTTLS on the submission port, or implicit TLS),
// with AUTH PLAIN when a user is given; Dir writes each message to a file instead, for
// `smartx server --dev`, which needs no mail server. Both implement Sender.
//
// It knows nothing of HTTP or of logins: internal/server writes the messages.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Message is one plain-text e-mail to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Sender sends messages.
type Sender interface {
	// Send delivers m, or says why it could not.
	Send(ctx context.Context, m Message) error
	// Describe says where messages go, for logs (never a password).
	Describe() string
}

// ErrInvalidMessage is a message whose address or subject cannot go in a header.
var ErrInvalidMessage = errors.New("invalid message")

// build renders m as an RFC 5322 message from `from`, quoted-printable UTF-8 text with CRLF
// line ends.
func build(from string, m Message, now time.Time, host string) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("%w: recipient %q: %v", ErrInvalidMessage, m.To, err)
	}
	sender, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%w: sender %q: %v", ErrInvalidMessage, from, err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: the subject holds a line break", ErrInvalidMessage)
	}
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", sender.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+host+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}
