package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
)

func (e *testEnv) issue(t testing.TB, kind api.TokenKind, ttl time.Duration) (string, string) {
	t.Helper()
	tok, secret, err := e.tokens.Issue(context.Background(), IssueRequest{AccountID: e.acc.ID, UserID: e.user.ID, Kind: kind,
		Name: "test", Scopes: []api.Scope{api.ScopeReadingsRead}, ExpiresAt: e.now.Add(ttl)})
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID, secret
}

// forge encrypts arbitrary claims with arbitrary JOSE parameters under a key.
func forge(t testing.TB, prefix string, claims any, alg jose.KeyAlgorithm, enc jose.ContentEncryption, key []byte, kid string, extra map[jose.HeaderKey]any) string {
	t.Helper()
	opts := &jose.EncrypterOptions{ExtraHeaders: extra}
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key, KeyID: kid}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := e.Encrypt(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return prefix + s
}

// tamper flips one bit in the given part (0 header ... 4 tag) of a token.
func tamper(secret string, part int) string {
	prefix, compact := secret[:4], secret[4:]
	parts := strings.Split(compact, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[part])
	if len(raw) == 0 {
		raw = []byte{0}
	}
	if part == 0 {
		raw[0] ^= 0x01 // breaks the JSON, whatever the key id
	} else {
		raw[len(raw)/2] ^= 0x01
	}
	parts[part] = base64.RawURLEncoding.EncodeToString(raw)
	return prefix + strings.Join(parts, ".")
}

func TestVerifyAcceptsIssuedTokens(t *testing.T) {
	e := newTestEnv(t)
	for _, kind := range []api.TokenKind{api.TokenKindAPI, api.TokenKindSession} {
		id, secret := e.issue(t, kind, time.Hour)
		wantPrefix := map[api.TokenKind]string{api.TokenKindAPI: "sxt_", api.TokenKindSession: "sxs_"}[kind]
		if !strings.HasPrefix(secret, wantPrefix) {
			t.Fatalf("%s token %q lacks prefix %s", kind, secret[:8], wantPrefix)
		}
		rec, err := e.tokens.Verify(context.Background(), secret)
		if err != nil || rec.ID != id || rec.AccountID != e.acc.ID || rec.UserID != e.user.ID || rec.Kind != kind {
			t.Fatalf("Verify(%s) = %+v, %v", kind, rec, err)
		}
		// The claims are encrypted: nothing readable about the account or scopes is in the token.
		for _, leak := range []string{e.acc.ID, e.user.ID, "readings", base64.RawURLEncoding.EncodeToString([]byte(`"scp"`))} {
			if strings.Contains(secret, leak) {
				t.Fatalf("token carries %q in clear", leak)
			}
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	kid, key, _ := e.keys.CurrentTokenKey(ctx, e.acc.ID, e.user.ID)
	goodID, good := e.issue(t, api.TokenKindAPI, time.Hour)
	claims := Claims{ID: goodID, Kind: api.TokenKindAPI, Account: e.acc.ID, User: e.user.ID,
		Scopes: []api.Scope{api.ScopeAdmin}, IssuedAt: e.now.Unix(), ExpiresAt: e.now.Add(time.Hour).Unix()}

	_, expiring := e.issue(t, api.TokenKindAPI, time.Minute)
	revokedID, revoked := e.issue(t, api.TokenKindAPI, time.Hour)
	if _, err := e.tokens.Revoke(ctx, e.acc.ID, revokedID); err != nil {
		t.Fatal(err)
	}
	// Another server: its own master key, account and keys.
	other := newTestEnv(t)
	_, foreign := other.issue(t, api.TokenKindAPI, time.Hour)
	otherKid, otherKey, _ := other.keys.CurrentTokenKey(ctx, other.acc.ID, other.user.ID)
	// The other server's key under this server's key id: decryption must fail.
	foreignSameKid := forge(t, "sxt_", claims, jose.DIRECT, jose.A256GCM, otherKey[:], kid, nil)
	_ = otherKid

	wrongEnc := forge(t, "sxt_", claims, jose.DIRECT, jose.A128GCM, key[:16], kid, nil)
	wrongAlg := forge(t, "sxt_", claims, jose.A256KW, jose.A256GCM, key[:], kid, nil)
	zipped := forge(t, "sxt_", claims, jose.DIRECT, jose.A256GCM, key[:], kid, map[jose.HeaderKey]any{"zip": "DEF"})
	noKid := forge(t, "sxt_", claims, jose.DIRECT, jose.A256GCM, key[:], "", nil)
	// Same id, re-encrypted under the right key with wider scopes: only the stored hash stops it.
	reminted := forge(t, "sxt_", claims, jose.DIRECT, jose.A256GCM, key[:], kid, nil)
	otherAccount, _ := e.newAccount(t, "b@example.com")
	crossAccount := claims
	crossAccount.Account = otherAccount.ID
	wrongAccountClaims := forge(t, "sxt_", crossAccount, jose.DIRECT, jose.A256GCM, key[:], kid, nil)
	colleague := e.newUser(t, e.acc, "colleague@example.com")
	crossUser := claims
	crossUser.User = colleague.ID
	wrongUserClaims := forge(t, "sxt_", crossUser, jose.DIRECT, jose.A256GCM, key[:], kid, nil)
	unknownID := claims
	unknownID.ID = "tok_doesnotexist0000"
	unknownToken := forge(t, "sxt_", unknownID, jose.DIRECT, jose.A256GCM, key[:], kid, nil)

	e.now = e.now.Add(2 * time.Minute) // past `expiring`, before the others

	tests := []struct {
		name   string
		secret string
		want   error
	}{
		{"empty", "", ErrTokenMalformed},
		{"garbage", "hello", ErrTokenMalformed},
		{"no prefix", strings.TrimPrefix(good, "sxt_"), ErrTokenMalformed},
		{"session prefix on an API token", "sxs_" + strings.TrimPrefix(good, "sxt_"), ErrTokenInvalid},
		{"four parts", good[:strings.LastIndex(good, ".")], ErrTokenMalformed},
		{"too long", good + strings.Repeat("A", maxTokenLength), ErrTokenMalformed},
		{"JSON serialization", "sxt_{\"protected\":\"\"}", ErrTokenMalformed},
		{"tampered header", tamper(good, 0), ErrTokenMalformed},
		{"tampered iv", tamper(good, 2), ErrTokenInvalid},
		{"tampered ciphertext", tamper(good, 3), ErrTokenInvalid},
		{"tampered tag", tamper(good, 4), ErrTokenInvalid},
		{"wrong enc", wrongEnc, ErrTokenMalformed},
		{"wrong alg", wrongAlg, ErrTokenMalformed},
		{"compressed", zipped, ErrTokenMalformed},
		{"no key id", noKid, ErrTokenMalformed},
		{"unknown key id", forge(t, "sxt_", claims, jose.DIRECT, jose.A256GCM, key[:], "tkk_unknown", nil), ErrTokenUnknownKey},
		{"another server's token", foreign, ErrTokenUnknownKey},
		{"another server's key under our key id", foreignSameKid, ErrTokenInvalid},
		{"re-encrypted claims (hash mismatch)", reminted, ErrTokenInvalid},
		{"claims of another account", wrongAccountClaims, ErrTokenInvalid},
		{"claims of a colleague under my key", wrongUserClaims, ErrTokenInvalid},
		{"no such token", unknownToken, ErrTokenInvalid},
		{"expired", expiring, ErrTokenExpired},
		{"revoked", revoked, ErrTokenRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.tokens.Verify(ctx, tt.secret)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := e.tokens.Verify(ctx, good); err != nil {
		t.Fatalf("the good token stopped verifying: %v", err)
	}
}

func TestRevocationReachesACachedToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smartx.db")
	master := mustKey(t)
	e := newTestEnvAt(t, path, master)
	ctx := context.Background()
	id, secret := e.issue(t, api.TokenKindAPI, time.Hour)
	for range 3 { // warm the caches
		if _, err := e.tokens.Verify(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("revoked by this process", func(t *testing.T) {
		id2, secret2 := e.issue(t, api.TokenKindAPI, time.Hour)
		if _, err := e.tokens.Verify(ctx, secret2); err != nil {
			t.Fatal(err)
		}
		if _, err := e.tokens.Revoke(ctx, e.acc.ID, id2); err != nil {
			t.Fatal(err)
		}
		if _, err := e.tokens.Verify(ctx, secret2); !errors.Is(err, ErrTokenRevoked) {
			t.Fatalf("next request after revocation: %v", err)
		}
	})

	t.Run("revoked by another process", func(t *testing.T) {
		// The operator's offline command opens the same database and revokes.
		st2, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st2.Close()
		other := NewTokenService(NewKeyring(master, st2, rand.Reader, e.clock), st2, rand.Reader, e.clock)
		if _, err := other.Revoke(ctx, e.acc.ID, id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.tokens.Verify(ctx, secret); !errors.Is(err, ErrTokenRevoked) {
			t.Fatalf("next request after another process revoked: %v", err)
		}
	})

	t.Run("user deleted by another process", func(t *testing.T) {
		leaver := e.newUser(t, e.acc, "leaver@example.com")
		_, secret4, err := e.tokens.Issue(ctx, IssueRequest{AccountID: e.acc.ID, UserID: leaver.ID, Kind: api.TokenKindAPI,
			Name: "leaver", Scopes: []api.Scope{api.ScopeReadingsRead}, ExpiresAt: e.now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.tokens.Verify(ctx, secret4); err != nil {
			t.Fatal(err)
		}
		st2, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st2.Close()
		if err := st2.DeleteUser(ctx, e.acc.ID, leaver.ID); err != nil {
			t.Fatal(err)
		}
		// The user's key went with them: the token cannot even be decrypted any more.
		if _, err := e.tokens.Verify(ctx, secret4); !errors.Is(err, ErrTokenUnknownKey) {
			t.Fatalf("a token of a deleted user: %v, want ErrTokenUnknownKey", err)
		}
	})

	t.Run("account deleted by another process", func(t *testing.T) {
		_, secret3 := e.issue(t, api.TokenKindAPI, time.Hour)
		if _, err := e.tokens.Verify(ctx, secret3); err != nil {
			t.Fatal(err)
		}
		st2, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st2.Close()
		if err := st2.DeleteAccount(ctx, e.acc.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.tokens.Verify(ctx, secret3); err == nil {
			t.Fatal("a token of a deleted account still verifies")
		}
	})
}

func TestLastUsedIsRecorded(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	id, secret := e.issue(t, api.TokenKindAPI, time.Hour)
	if _, err := e.tokens.Verify(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := e.tokens.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.st.Token(ctx, id)
	if !rec.LastUsedAt.Equal(e.now) {
		t.Fatalf("LastUsedAt = %v, want %v", rec.LastUsedAt, e.now)
	}
}

func FuzzVerifyToken(f *testing.F) {
	e := newTestEnv(f)
	_, good := e.issue(f, api.TokenKindAPI, time.Hour)
	f.Add(good)
	f.Add(tamper(good, 3))
	f.Add("sxt_a.b.c.d.e")
	f.Add("sxs_eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoidGtrX3gifQ..AAAA.AAAA.AAAA")
	f.Fuzz(func(t *testing.T, secret string) {
		_, err := e.tokens.Verify(context.Background(), secret)
		if err == nil && secret != good {
			t.Fatalf("a mutated token verified: %q", secret)
		}
	})
}

// BenchmarkVerify is the cost of authenticating a request once caches are warm.
func BenchmarkVerify(b *testing.B) {
	e := newTestEnv(b)
	_, secret := e.issue(b, api.TokenKindAPI, time.Hour)
	ctx := context.Background()
	if _, err := e.tokens.Verify(ctx, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.tokens.Verify(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/verify")
}

// BenchmarkVerifyFirstUse is the cost for a token this process has not seen yet (keys cached,
// the JWE parsed and decrypted).
func BenchmarkVerifyFirstUse(b *testing.B) {
	e := newTestEnv(b)
	_, secret := e.issue(b, api.TokenKindAPI, time.Hour)
	ctx := context.Background()
	if _, err := e.tokens.Verify(ctx, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.tokens.mu.Lock()
		clear(e.tokens.verified)
		e.tokens.mu.Unlock()
		if _, err := e.tokens.Verify(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/verify")
}
