package auth

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: those every authenticator app understands (RFC 6238 with SHA-1, 6 digits,
// 30-second steps), a 160-bit secret, and one step of clock skew either way.
const (
	totpPeriod     = 30
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20
	totpSkew       = 1
)

// TOTPKey is a new TOTP secret with the otpauth:// URI that apps scan.
type TOTPKey struct {
	Secret string // base32, without padding
	URI    string
}

// NewTOTPKey draws a TOTP secret for account (the user's e-mail) under issuer.
func NewTOTPKey(issuer, account string, rand io.Reader) (TOTPKey, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod, SecretSize: totpSecretSize,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Rand: rand})
	if err != nil {
		return TOTPKey{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return TOTPKey{Secret: k.Secret(), URI: k.URL()}, nil
}

// TOTPStep is the time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// MatchTOTP checks a code against secret at now, one step of skew either way, in constant time
// per step; it returns the step the code belongs to, for replay protection.
func MatchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	step := TOTPStep(now)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*totpPeriod, 0), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, true
		}
	}
	return 0, false
}

// TOTPCode returns the code of secret at t (tests and the dev tooling).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
}

// NewLoginCode draws a code of digits decimal digits, uniformly (rejection sampling).
func NewLoginCode(rand io.Reader, digits int) (string, error) {
	limit := uint64(1)
	for range digits {
		limit *= 10
	}
	ceiling := (1 << 63 / limit) * limit // the largest multiple of limit below 2^63
	var b [8]byte
	for {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return "", fmt.Errorf("draw login code: %w", err)
		}
		v := binary.BigEndian.Uint64(b[:]) >> 1
		if v < ceiling {
			return fmt.Sprintf("%0*d", digits, v%limit), nil
		}
	}
}

// recoveryAlphabet has no 0/o, 1/l/i (a code read aloud or copied by hand survives) and no
// vowel (no code spells a word).
const recoveryAlphabet = "23456789bcdfghjkmnpqrstvwxz"

// NewRecoveryCodes draws n one-time recovery codes shaped xxxxx-xxxxx (about 47 bits each).
func NewRecoveryCodes(rand io.Reader, n int) ([]string, error) {
	out := make([]string, n)
	buf := make([]byte, 10)
	for i := range out {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("draw recovery codes: %w", err)
		}
		var b strings.Builder
		for j, c := range buf {
			if j == 5 {
				b.WriteByte('-')
			}
			// 256 is not a multiple of 27: the bias is about 1%, of no use to a guesser facing
			// a per-login limit of five tries.
			b.WriteByte(recoveryAlphabet[int(c)%len(recoveryAlphabet)])
		}
		out[i] = b.String()
	}
	return out, nil
}

// NormalizeRecoveryCode returns a recovery code as it is hashed: lower case, without spaces or
// dashes; ok is false when it cannot be one.
func NormalizeRecoveryCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
		case strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == 10
}
