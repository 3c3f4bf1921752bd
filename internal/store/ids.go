package store

import (
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidCursor is returned for a page cursor that this server did not issue.
var ErrInvalidCursor = errors.New("invalid cursor")

// idEncoding is lower-case base32 without padding: ids stay readable, case-insensitive and free
// of characters a shell or a URL would mangle.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 80 random bits (16 characters), drawn from r.
func NewID(prefix string, r io.Reader) (string, error) {
	var b [10]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("generate %sid: %w", prefix, err)
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

// ValidID reports whether s looks like an id NewID made with prefix. It guards queries and
// token restrictions against junk; it proves nothing about existence.
func ValidID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 16 {
		return false
	}
	_, err := idEncoding.DecodeString(rest)
	return err == nil
}

// EncodeAuditCursor makes the opaque cursor that resumes an audit listing after the entry at t
// with sequence number seq (listings are ordered by time, then sequence, newest first).
func EncodeAuditCursor(t time.Time, seq int64) string {
	raw := "a1." + strconv.FormatInt(t.UnixMicro(), 10) + "." + strconv.FormatInt(seq, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeAuditCursor reverses EncodeAuditCursor; anything else is ErrInvalidCursor.
func DecodeAuditCursor(cursor string) (time.Time, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, 0, ErrInvalidCursor
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || parts[0] != "a1" {
		return time.Time{}, 0, ErrInvalidCursor
	}
	micros, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || seq < 0 {
		return time.Time{}, 0, ErrInvalidCursor
	}
	return time.UnixMicro(micros).UTC(), seq, nil
}
