package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// testParams make argon2 cheap for tests; production code never uses them.
var testParams = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newTestHasher(t testing.TB, p PasswordParams) *PasswordHasher {
	t.Helper()
	h, err := NewPasswordHasher(p, rand.Reader, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDefaultPasswordParamsMeetOWASP(t *testing.T) {
	// OWASP Password Storage Cheat Sheet: argon2id with at least m=19456 KiB, t=2, p=1.
	p := DefaultPasswordParams
	if p.Memory < 19456 || p.Time < 2 || p.Threads < 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Fatalf("DefaultPasswordParams %+v are below OWASP's recommendation", p)
	}
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)

func TestHashAndVerify(t *testing.T) {
	h := newTestHasher(t, testParams)
	ctx := context.Background()
	tests := []struct {
		name, password, attempt string
		want                    bool
	}{
		{"right password", "correct horse battery staple", "correct horse battery staple", true},
		{"wrong password", "correct horse battery staple", "correct horse battery stapler", false},
		{"case matters", "Correct Horse", "correct horse", false},
		{"empty attempt", "correct horse battery staple", "", false},
		{"unicode", "mot de passe très long ☃", "mot de passe très long ☃", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(ctx, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if !phcPattern.MatchString(encoded) {
				t.Fatalf("hash %q is not a PHC argon2id string", encoded)
			}
			if strings.Contains(encoded, tt.password) {
				t.Fatal("hash contains the password")
			}
			ok, rehash, err := h.Verify(ctx, tt.attempt, encoded)
			if err != nil || ok != tt.want || rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tt.want)
			}
		})
	}
}

func TestHashesAreSalted(t *testing.T) {
	h := newTestHasher(t, testParams)
	a, _ := h.Hash(context.Background(), "the same password twice")
	b, _ := h.Hash(context.Background(), "the same password twice")
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestRehashWhenParametersAreBelowCurrent(t *testing.T) {
	ctx := context.Background()
	old := newTestHasher(t, testParams)
	encoded, _ := old.Hash(ctx, "a password from 2020")
	stronger := testParams
	stronger.Memory *= 2
	ok, rehash, err := newTestHasher(t, stronger).Verify(ctx, "a password from 2020", encoded)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify with stronger current params = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	ok, rehash, _ = newTestHasher(t, stronger).Verify(ctx, "wrong", encoded)
	if ok || rehash {
		t.Fatal("a wrong password must not ask for a rehash")
	}
}

func TestUnknownUserCostsAsMuchAsAWrongPassword(t *testing.T) {
	h := newTestHasher(t, testParams)
	p, _, _, err := ParsePHC(h.dummy)
	if err != nil {
		t.Fatal(err)
	}
	if p != h.params {
		t.Fatalf("dummy hash params %+v differ from the real ones %+v, so its cost differs", p, h.params)
	}
	if err := h.VerifyDummy(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
}

func TestHasherHonoursCancellation(t *testing.T) {
	h := newTestHasher(t, testParams)
	for range cap(h.slots) { // every slot busy
		h.slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "whatever"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with all slots busy and a cancelled context: %v", err)
	}
}

func TestParsePHCRejects(t *testing.T) {
	valid := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	if _, _, _, err := ParsePHC(valid); err != nil {
		t.Fatalf("valid PHC string refused: %v", err)
	}
	tests := map[string]string{
		"empty":               "",
		"bcrypt":              "$2b$12$abcdefghijklmnopqrstuu5Wn5wK3qgq3xq5Gq5Q5Q5Q5Q5Q5Q5Q5",
		"argon2i":             strings.Replace(valid, "argon2id", "argon2i", 1),
		"old version":         strings.Replace(valid, "v=19", "v=16", 1),
		"params out of order": strings.Replace(valid, "m=19456,t=2", "t=2,m=19456", 1),
		"huge memory":         strings.Replace(valid, "m=19456", "m=4000000000", 1),
		"zero time":           strings.Replace(valid, "t=2", "t=0", 1),
		"huge parallelism":    strings.Replace(valid, "p=1", "p=300", 1),
		"negative":            strings.Replace(valid, "t=2", "t=-2", 1),
		"salt not base64":     strings.Replace(valid, "c2FsdHNhbHRzYWx0c2FsdA", "!!!", 1),
		"short salt":          strings.Replace(valid, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdA", 1),
		"short hash":          strings.Replace(valid, "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "aGFzaA", 1),
		"extra field":         valid + "$x",
		"missing leading $":   valid[1:],
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, _, err := ParsePHC(s); !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("ParsePHC(%q) = %v, want ErrInvalidHash", s, err)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, sum, err := ParsePHC(s)
		if err != nil {
			return
		}
		if p.validate() != nil || len(salt) != int(p.SaltLen) || len(sum) != int(p.KeyLen) {
			t.Fatalf("ParsePHC accepted %q with invalid parts %+v", s, p)
		}
	})
}

func TestPasswordPolicy(t *testing.T) {
	p := NewPasswordPolicy()
	tests := []struct {
		name, password string
		context        []string
		want           PolicyReason // "" for accepted
	}{
		{"passphrase", "violet lantern orbit harbour", nil, ""},
		{"random", "x7#Kq9!vLm2$Rt", nil, ""},
		{"unicode counts characters", "ééééé ççç ààà", nil, ""},
		{"eleven characters", "abcdefghijk", nil, ReasonTooShort},
		{"eleven multibyte characters are still eleven", "éèêëàâäîïôö", nil, ReasonTooShort},
		{"too long", strings.Repeat("x", 129), nil, ReasonTooLong},
		{"denylisted", "password1234", nil, ReasonCommon},
		{"denylisted any case", "PassWord1234", nil, ReasonCommon},
		{"keyboard walk", "qwertyuiop123", nil, ReasonCommon},
		{"decorated word", "!!Sunshine2024!!", nil, ReasonCommon},
		{"leet word", "P@ssw0rd!!!!!!", nil, ReasonCommon},
		{"repeated character", "aaaaaaaaaaaaaa", nil, ReasonRepetitive},
		{"repeated block", "xyzwxyzwxyzw", nil, ReasonRepetitive},
		{"alphabet run", "bcdefghijklmn", nil, ReasonRepetitive},
		{"digit run wrapping", "567890123456", nil, ReasonRepetitive},
		{"descending digits", "987654321098", nil, ReasonRepetitive},
		{"e-mail local part", "jeanne.dupont rocks", []string{"jeanne.dupont@example.com"}, ReasonContext},
		{"part of the e-mail name", "my dupont password", []string{"jeanne.dupont@example.com"}, ReasonContext},
		{"service name", "my smartx passphrase", nil, ReasonContext},
		{"account name", "acme corp forever!", []string{"Acme Corp"}, ReasonContext},
		{"e-mail domain is fine", "example violet harbour", []string{"jeanne@example.com"}, ""},
		{"control character", "tab\tinside password", nil, ReasonInvalid},
		// Well-known passphrases and keyboard walks pass the rules above; the denylist of
		// famous phrases and the strength estimator catch them.
		{"famous passphrase", "correcthorsebatterystaple", nil, ReasonCommon},
		{"famous passphrase with spaces", "Correct Horse Battery Staple", nil, ReasonCommon},
		{"keyboard walk in columns", "zaq12wsxcde3", nil, ReasonGuessable},
		{"another column walk", "1qazxsw23edc", nil, ReasonGuessable},
		{"repeated word", "Password-Password", nil, ReasonCommon},
		{"repeated word the estimator catches", "Sunflower-Sunflower", nil, ReasonGuessable},
		{"season and year", "Summer2026!!x", nil, ReasonGuessable},
		{"invalid utf-8", "abcdefghijkl\xff", nil, ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.password, tt.context...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check refused a good password: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Reason != tt.want {
				t.Fatalf("Check = %v, want reason %s", err, tt.want)
			}
			if strings.Contains(pe.Error(), tt.password) {
				t.Fatal("the policy message quotes the password")
			}
		})
	}
}
