package mail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// DevHeader marks every message Dir writes: it was never sent.
const DevHeader = "X-Smartx-Dev-Only: this message was written to a file by smartx server --dev, not sent"

// Dir writes each message to a file in a directory instead of sending it: the e-mails of
// `smartx server --dev`, which must work without a mail server. Files are named
// <time>-<n>-<recipient>.eml, owner-only, and written atomically.
type Dir struct {
	dir  string
	now  func() time.Time
	seq  atomic.Int64
	sent func(path string, m Message)
}

// NewDir returns a sender into dir (created owner-only if missing); written, when not nil, is
// told each file written.
func NewDir(dir string, now func() time.Time, written func(path string, m Message)) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dev mail directory: %w", err)
	}
	return &Dir{dir: dir, now: now, sent: written}, nil
}

// Path returns the directory messages are written to.
func (d *Dir) Path() string { return d.dir }

// Describe implements Sender.
func (d *Dir) Describe() string { return "files in " + d.dir + " (dev only: nothing is sent)" }

// Send implements Sender.
func (d *Dir) Send(_ context.Context, m Message) error {
	now := d.now()
	body, err := build("smartx-dev@localhost", m, now, "localhost")
	if err != nil {
		return err
	}
	body = append([]byte(DevHeader+"\r\n"), body...)
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '@' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, m.To)
	name := fmt.Sprintf("%s-%04d-%s.eml", now.UTC().Format("20060102T150405.000Z"), d.seq.Add(1), safe)
	tmp, err := os.CreateTemp(d.dir, ".mail-*")
	if err != nil {
		return fmt.Errorf("write dev mail: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(body); err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	path := filepath.Join(d.dir, name)
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write dev mail: %w", err)
	}
	if d.sent != nil {
		d.sent(path, m)
	}
	return nil
}
