package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	id, err := NewID("tok_", rand.Reader)
	if err != nil || !strings.HasPrefix(id, "tok_") || len(id) != 20 || !ValidID(id, "tok_") {
		t.Fatalf("NewID = %q, %v", id, err)
	}
	other, _ := NewID("tok_", rand.Reader)
	if other == id {
		t.Fatal("two ids are equal")
	}
	if _, err := NewID("x_", bytes.NewReader(nil)); err == nil {
		t.Fatal("NewID without randomness succeeded")
	}
	for _, bad := range []string{"", "tok_", "acc_aaaaaaaaaaaaaaaa", "tok_AAAAAAAAAAAAAAAA", "tok_aaaaaaaaaaaaaaa1", "tok_aaaaaaaaaaaaaaaaa"} {
		if ValidID(bad, "tok_") {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestAuditCursor(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 789000, time.UTC)
	c := EncodeAuditCursor(at, 42)
	got, seq, err := DecodeAuditCursor(c)
	if err != nil || !got.Equal(at) || seq != 42 {
		t.Fatalf("DecodeAuditCursor = %v, %d, %v", got, seq, err)
	}
	for _, bad := range []string{"", "!!", "YTEuMQ", EncodeAuditCursor(at, 1)[:5]} {
		if _, _, err := DecodeAuditCursor(bad); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("DecodeAuditCursor(%q) = %v", bad, err)
		}
	}
}

func FuzzDecodeAuditCursor(f *testing.F) {
	f.Add(EncodeAuditCursor(time.Unix(1700000000, 0), 7))
	f.Add("YTEuLTEuLTE")
	f.Fuzz(func(t *testing.T, s string) {
		at, seq, err := DecodeAuditCursor(s)
		if err != nil {
			return
		}
		if seq < 0 {
			t.Fatalf("negative sequence from %q", s)
		}
		if again := EncodeAuditCursor(at, seq); again == "" {
			t.Fatal("empty cursor")
		}
	})
}
