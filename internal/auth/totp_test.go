package auth

import (
	"bytes"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTOTP(t *testing.T) {
	k, err := NewTOTPKey("smartx", "owner@example.com", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(k.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != k.Secret ||
		u.Query().Get("issuer") != "smartx" || !strings.Contains(u.Path, "owner@example.com") {
		t.Fatalf("URI %q", k.URI)
	}
	now := time.Date(2026, 12, 2, 10, 0, 15, 0, time.UTC)
	tests := []struct {
		name   string
		at     time.Time
		wantOK bool
		step   int64
	}{
		{"now", now, true, TOTPStep(now)},
		{"previous step (clock behind)", now.Add(-30 * time.Second), true, TOTPStep(now) - 1},
		{"next step (clock ahead)", now.Add(30 * time.Second), true, TOTPStep(now) + 1},
		{"two steps old", now.Add(-60 * time.Second), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := TOTPCode(k.Secret, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			step, ok := MatchTOTP(k.Secret, code, now)
			if ok != tt.wantOK || (ok && step != tt.step) {
				t.Fatalf("MatchTOTP = %d, %v; want %d, %v", step, ok, tt.step, tt.wantOK)
			}
		})
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := MatchTOTP(k.Secret, bad, now); ok {
			t.Errorf("MatchTOTP accepted %q", bad)
		}
	}
}

func TestLoginCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewLoginCode(rand.Reader, 6)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Fatalf("only %d distinct codes in 200", len(seen))
	}
	// A fixed source yields leading zeros as digits, not a shorter code.
	c, err := NewLoginCode(bytes.NewReader(make([]byte, 8)), 6)
	if err != nil || c != "000000" {
		t.Fatalf("NewLoginCode(zeros) = %q, %v", c, err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes(rand.Reader, 10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || c[5] != '-' {
			t.Fatalf("code %q", c)
		}
		n, ok := NormalizeRecoveryCode(c)
		if !ok || len(n) != 10 || seen[n] {
			t.Fatalf("code %q normalizes to %q, %v", c, n, ok)
		}
		seen[n] = true
		if m, ok := NormalizeRecoveryCode(" " + strings.ToUpper(c) + " "); !ok || m != n {
			t.Fatalf("an upper-case copy of %q normalizes to %q", c, m)
		}
	}
	for _, bad := range []string{"", "12345", "bcdfg-hjkmn-p", "0oil1-bcdfg", "abcde-bcdfg"} {
		if _, ok := NormalizeRecoveryCode(bad); ok {
			t.Errorf("NormalizeRecoveryCode accepted %q", bad)
		}
	}
}

func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{"bcdfg-hjkmn", "BCDFG HJKMN", "", "-----", "0oil1-abcde", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormalizeRecoveryCode(s)
		if ok && (len(n) != 10 || strings.Trim(n, recoveryAlphabet) != "") {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q", s, n)
		}
	})
}
