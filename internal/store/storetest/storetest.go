// Package storetest is the contract every store.Store implementation must meet. An
// implementation's tests call Run with a function that opens a fresh, empty store; the same
// tests then hold the SQLite store and any later one (PostgreSQL) to the same behaviour.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// Open returns a new empty store; Run closes it at the end of each test.
type Open func(t *testing.T) store.Store

// Run runs the contract tests.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"accounts", testAccounts},
		{"users", testUsers},
		{"disabling and deleting users", testUserLifecycle},
		{"two-factor state", testTOTP},
		{"login challenges", testChallenges},
		{"token keys", testTokenKeys},
		{"tokens", testTokens},
		{"tokens die with what minted them", testTokenLineage},
		{"revocation epoch moves on every invalidation", testEpoch},
		{"audit log", testAudit},
		{"audit pagination", testAuditPagination},
		{"audit purge", testAuditPurge},
		{"account deletion cascades", testDeleteAccount},
		{"meta", testMeta},
		{"sites", testSites},
		{"devices", testDevices},
		{"data files and losses", testFiles},
		{"readings segments", testSegments},
		{"account deletion cascades to devices and readings", testDeleteAccountDevices},
		{"preflight runs", testPreflightRuns},
		{"concurrent uploads of one file store it once", testSameStoreFileRace},
		{"single sign-on links", testSSOLinks},
		{"single sign-on identities", testSSOIdentities},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// base is a fixed time with microsecond precision, the precision stores must keep.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

type fixture struct {
	acc  store.Account
	user store.User
	key  store.TokenKey
}

var ids int

func newID(prefix string) string {
	ids++
	return fmt.Sprintf("%s%016d", prefix, ids)
}

// index and sealed stand for the server's blind indexes and sealed values: to a store they are
// opaque bytes, kept and compared as given.
func index(v string) []byte  { return []byte("index:" + v) }
func sealed(v string) []byte { return []byte("sealed:" + v) }

func seed(t testing.TB, s store.Store, email string) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{acc: store.Account{ID: newID(api.PrefixAccount), SealedName: sealed("Acme " + email), DataKey: []byte("wrapped-data-key"), CreatedAt: base}}
	must(t, s.CreateAccount(ctx, f.acc))
	f.user = newUser(f.acc, email)
	must(t, s.CreateUser(ctx, f.user))
	f.key = store.TokenKey{ID: newID(api.PrefixTokenKey), AccountID: f.acc.ID, UserID: f.user.ID, Version: 1, WrappedKey: []byte("wrapped-token-key"), CreatedAt: base}
	must(t, s.CreateTokenKey(ctx, f.key))
	return f
}

func newUser(acc store.Account, email string) store.User {
	return store.User{ID: newID(api.PrefixUser), AccountID: acc.ID, EmailIndex: index(strings.ToLower(email)), SealedEmail: sealed(email),
		Role: api.RoleOwner, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", CreatedAt: base, UpdatedAt: base}
}

func newToken(f fixture, kind api.TokenKind, created time.Time) store.Token {
	return store.Token{ID: newID(api.PrefixToken), AccountID: f.acc.ID, UserID: f.user.ID, Kind: kind, SealedName: sealed("ci"),
		Scopes: []api.Scope{api.ScopeReadingsRead}, Sites: []string{"sit_aaaaaaaaaaaaaaaa"}, SecretSalt: []byte("salt"),
		SecretHash: []byte("hash"), KeyID: f.key.ID, CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}
}

// childOf is a token minted with parent.
func childOf(f fixture, parent store.Token, kind api.TokenKind) store.Token {
	tok := newToken(f, kind, parent.CreatedAt.Add(time.Second))
	tok.ParentID, tok.ExpiresAt = parent.ID, parent.ExpiresAt
	return tok
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := seed(t, s, "a@example.com").acc
	b := seed(t, s, "b@example.com").acc
	got, err := s.Account(ctx, a.ID)
	must(t, err)
	if got.ID != a.ID || string(got.SealedName) != string(a.SealedName) || string(got.DataKey) != string(a.DataKey) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("Account = %+v, want %+v", got, a)
	}
	wantErr(t, s.CreateAccount(ctx, a), store.ErrConflict)
	_, err = s.Account(ctx, "acc_missing")
	wantErr(t, err, store.ErrNotFound)
	list, err := s.ListAccounts(ctx)
	must(t, err)
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("ListAccounts = %+v", list)
	}
	wantErr(t, s.DeleteAccount(ctx, "acc_missing"), store.ErrNotFound)
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	fa := seed(t, s, "Alice@Example.com")
	fb := seed(t, s, "bob@example.com")
	got, err := s.UserByEmail(ctx, index("alice@example.com"))
	must(t, err)
	if got.ID != fa.user.ID || string(got.SealedEmail) != "sealed:Alice@Example.com" || got.Role != api.RoleOwner ||
		got.PasswordHash != fa.user.PasswordHash || got.Disabled() || got.TOTP.Enabled() || len(got.TOTP.SealedSecret) != 0 {
		t.Fatalf("UserByEmail = %+v", got)
	}
	_, err = s.User(ctx, fa.acc.ID, fa.user.ID)
	must(t, err)
	_, err = s.User(ctx, fb.acc.ID, fa.user.ID)
	wantErr(t, err, store.ErrNotFound) // another account's user does not exist for you

	dup := fb.user
	dup.ID, dup.EmailIndex = newID(api.PrefixUser), index("alice@example.com")
	wantErr(t, s.CreateUser(ctx, dup), store.ErrConflict)
	orphan := fb.user
	orphan.ID, orphan.EmailIndex, orphan.AccountID = newID(api.PrefixUser), index("orphan@example.com"), "acc_missing"
	wantErr(t, s.CreateUser(ctx, orphan), store.ErrNotFound)

	all, err := s.ListUsers(ctx, "")
	must(t, err)
	mine, err := s.ListUsers(ctx, fb.acc.ID)
	must(t, err)
	if len(all) != 2 || len(mine) != 1 || mine[0].ID != fb.user.ID {
		t.Fatalf("ListUsers: all %d, of b %+v", len(all), mine)
	}

	must(t, s.SetPasswordHash(ctx, fa.acc.ID, fa.user.ID, "$argon2id$new", base.Add(time.Hour)))
	got, err = s.User(ctx, fa.acc.ID, fa.user.ID)
	must(t, err)
	if got.PasswordHash != "$argon2id$new" || !got.UpdatedAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("after SetPasswordHash: %+v", got)
	}
	wantErr(t, s.SetPasswordHash(ctx, fb.acc.ID, fa.user.ID, "x", base), store.ErrNotFound)

	// ChangePassword ends the user's sessions and what they minted, not root API tokens nor
	// other users' sessions.
	mySession, theirs := newToken(fa, api.TokenKindSession, base), newToken(fb, api.TokenKindSession, base)
	apiTok := newToken(fa, api.TokenKindAPI, base)
	minted := childOf(fa, mySession, api.TokenKindAPI)
	for _, tok := range []store.Token{mySession, theirs, apiTok, minted} {
		must(t, s.CreateToken(ctx, tok))
	}
	epoch, _ := s.RevocationEpoch(ctx)
	n, err := s.ChangePassword(ctx, fa.acc.ID, fa.user.ID, "$argon2id$newer", base.Add(2*time.Hour))
	must(t, err)
	got, _ = s.User(ctx, fa.acc.ID, fa.user.ID)
	after, _ := s.RevocationEpoch(ctx)
	if n != 2 || got.PasswordHash != "$argon2id$newer" || after == epoch {
		t.Fatalf("ChangePassword revoked %d tokens, hash %q, epoch %d -> %d", n, got.PasswordHash, epoch, after)
	}
	for id, wantRevoked := range map[string]bool{mySession.ID: true, minted.ID: true, theirs.ID: false, apiTok.ID: false} {
		tok, _ := s.Token(ctx, id)
		if tok.Revoked() != wantRevoked {
			t.Errorf("token %s revoked = %v, want %v", id, tok.Revoked(), wantRevoked)
		}
	}
	_, err = s.ChangePassword(ctx, fb.acc.ID, fa.user.ID, "x", base)
	wantErr(t, err, store.ErrNotFound)

	must(t, s.SetUserRole(ctx, fa.acc.ID, fa.user.ID, api.RoleAnalyst, base.Add(3*time.Hour)))
	got, _ = s.User(ctx, fa.acc.ID, fa.user.ID)
	if got.Role != api.RoleAnalyst || !got.UpdatedAt.Equal(base.Add(3*time.Hour)) {
		t.Fatalf("after SetUserRole: %+v", got)
	}
	wantErr(t, s.SetUserRole(ctx, fb.acc.ID, fa.user.ID, api.RoleAdmin, base), store.ErrNotFound)
}

func testUserLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "life@example.com")
	other := seed(t, s, "other-life@example.com")
	colleague := newUser(f.acc, "colleague@example.com")
	must(t, s.CreateUser(ctx, colleague))
	session := newToken(f, api.TokenKindSession, base)
	apiTok := newToken(f, api.TokenKindAPI, base)
	minted := childOf(f, session, api.TokenKindAPI)
	theirs := newToken(other, api.TokenKindAPI, base)
	for _, tok := range []store.Token{session, apiTok, minted, theirs} {
		must(t, s.CreateToken(ctx, tok))
	}
	ch := newChallenge(f, base)
	must(t, s.CreateChallenge(ctx, ch))

	// Disabling revokes every token of the user and ends their pending logins.
	epoch, _ := s.RevocationEpoch(ctx)
	wantErr(t, s.DisableUser(ctx, other.acc.ID, f.user.ID, base), store.ErrNotFound)
	must(t, s.DisableUser(ctx, f.acc.ID, f.user.ID, base.Add(time.Hour)))
	must(t, s.DisableUser(ctx, f.acc.ID, f.user.ID, base.Add(2*time.Hour))) // keeps the first time
	got, _ := s.User(ctx, f.acc.ID, f.user.ID)
	after, _ := s.RevocationEpoch(ctx)
	if !got.DisabledAt.Equal(base.Add(time.Hour)) || after == epoch {
		t.Fatalf("after DisableUser: disabled at %v, epoch %d -> %d", got.DisabledAt, epoch, after)
	}
	for _, id := range []string{session.ID, apiTok.ID, minted.ID} {
		if tok, _ := s.Token(ctx, id); !tok.Revoked() {
			t.Errorf("token %s of a disabled user is not revoked", id)
		}
	}
	if tok, _ := s.Token(ctx, theirs.ID); tok.Revoked() {
		t.Error("another account's token was revoked")
	}
	_, err := s.Challenge(ctx, ch.ID)
	wantErr(t, err, store.ErrNotFound)

	must(t, s.EnableUser(ctx, f.acc.ID, f.user.ID, base.Add(3*time.Hour)))
	got, _ = s.User(ctx, f.acc.ID, f.user.ID)
	if got.Disabled() {
		t.Fatalf("still disabled after EnableUser: %+v", got)
	}
	if tok, _ := s.Token(ctx, apiTok.ID); !tok.Revoked() {
		t.Error("enabling a user brought a revoked token back")
	}
	wantErr(t, s.EnableUser(ctx, other.acc.ID, f.user.ID, base), store.ErrNotFound)

	// Deleting takes the user's keys, tokens, codes and challenges with it, nobody else's.
	key2 := store.TokenKey{ID: newID(api.PrefixTokenKey), AccountID: f.acc.ID, UserID: colleague.ID, Version: 1, WrappedKey: []byte("k"), CreatedAt: base}
	must(t, s.CreateTokenKey(ctx, key2))
	must(t, s.SetTOTP(ctx, f.acc.ID, f.user.ID, sealed("totp"), base))
	must(t, s.EnableTOTP(ctx, f.acc.ID, f.user.ID, 1, [][]byte{[]byte("c1")}, base))
	must(t, s.CreateChallenge(ctx, newChallenge(f, base)))
	wantErr(t, s.DeleteUser(ctx, other.acc.ID, f.user.ID), store.ErrNotFound)
	epoch, _ = s.RevocationEpoch(ctx)
	must(t, s.DeleteUser(ctx, f.acc.ID, f.user.ID))
	after, _ = s.RevocationEpoch(ctx)
	if after == epoch {
		t.Fatal("DeleteUser did not move the epoch")
	}
	_, err = s.User(ctx, f.acc.ID, f.user.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, f.user.EmailIndex)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.TokenKey(ctx, f.key.ID)
	wantErr(t, err, store.ErrNotFound)
	for _, id := range []string{session.ID, apiTok.ID, minted.ID} {
		_, err = s.Token(ctx, id)
		wantErr(t, err, store.ErrNotFound)
	}
	if _, err := s.TokenKey(ctx, key2.ID); err != nil {
		t.Fatalf("a colleague's key went with the user: %v", err)
	}
	wantErr(t, s.DeleteUser(ctx, f.acc.ID, f.user.ID), store.ErrNotFound)
	// The e-mail can be used again.
	must(t, s.CreateUser(ctx, newUser(f.acc, "life@example.com")))
}

func testTOTP(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "totp@example.com")
	other := seed(t, s, "other-totp@example.com")
	wantErr(t, s.EnableTOTP(ctx, f.acc.ID, f.user.ID, 10, nil, base), store.ErrNotFound) // nothing pending
	must(t, s.SetTOTP(ctx, f.acc.ID, f.user.ID, sealed("secret"), base))
	got, _ := s.User(ctx, f.acc.ID, f.user.ID)
	if string(got.TOTP.SealedSecret) != "sealed:secret" || got.TOTP.Enabled() {
		t.Fatalf("pending TOTP read back as %+v", got.TOTP)
	}
	wantErr(t, s.SetTOTP(ctx, other.acc.ID, f.user.ID, sealed("x"), base), store.ErrNotFound)
	codes := [][]byte{[]byte("h1"), []byte("h2"), []byte("h3")}
	must(t, s.EnableTOTP(ctx, f.acc.ID, f.user.ID, 100, codes, base.Add(time.Minute)))
	got, _ = s.User(ctx, f.acc.ID, f.user.ID)
	if !got.TOTP.Enabled() || !got.TOTP.EnabledAt.Equal(base.Add(time.Minute)) || got.TOTP.LastStep != 100 {
		t.Fatalf("enabled TOTP read back as %+v", got.TOTP)
	}
	wantErr(t, s.EnableTOTP(ctx, f.acc.ID, f.user.ID, 101, codes, base), store.ErrNotFound) // already enabled

	// A step is accepted once, and never an older one.
	wantErr(t, s.UseTOTPStep(ctx, f.acc.ID, f.user.ID, 100), store.ErrConflict)
	must(t, s.UseTOTPStep(ctx, f.acc.ID, f.user.ID, 102))
	wantErr(t, s.UseTOTPStep(ctx, f.acc.ID, f.user.ID, 101), store.ErrConflict)
	wantErr(t, s.UseTOTPStep(ctx, other.acc.ID, f.user.ID, 200), store.ErrNotFound)

	// Recovery codes are single use.
	left, err := s.RecoveryCodesLeft(ctx, f.acc.ID, f.user.ID)
	must(t, err)
	if left != 3 {
		t.Fatalf("%d recovery codes, want 3", left)
	}
	left, err = s.UseRecoveryCode(ctx, f.acc.ID, f.user.ID, []byte("h2"), base)
	must(t, err)
	if left != 2 {
		t.Fatalf("%d recovery codes left, want 2", left)
	}
	_, err = s.UseRecoveryCode(ctx, f.acc.ID, f.user.ID, []byte("h2"), base)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, other.acc.ID, f.user.ID, []byte("h1"), base)
	wantErr(t, err, store.ErrNotFound)
	must(t, s.SetRecoveryCodes(ctx, f.acc.ID, f.user.ID, [][]byte{[]byte("n1")}, base))
	_, err = s.UseRecoveryCode(ctx, f.acc.ID, f.user.ID, []byte("h1"), base)
	wantErr(t, err, store.ErrNotFound) // replaced
	if left, _ = s.RecoveryCodesLeft(ctx, f.acc.ID, f.user.ID); left != 1 {
		t.Fatalf("%d recovery codes after replacing them, want 1", left)
	}
	wantErr(t, s.SetRecoveryCodes(ctx, other.acc.ID, f.user.ID, nil, base), store.ErrNotFound)

	must(t, s.ClearTOTP(ctx, f.acc.ID, f.user.ID, base))
	got, _ = s.User(ctx, f.acc.ID, f.user.ID)
	left, _ = s.RecoveryCodesLeft(ctx, f.acc.ID, f.user.ID)
	if got.TOTP.Enabled() || len(got.TOTP.SealedSecret) != 0 || left != 0 {
		t.Fatalf("after ClearTOTP: %+v, %d codes", got.TOTP, left)
	}
	_, err = s.RecoveryCodesLeft(ctx, other.acc.ID, f.user.ID)
	wantErr(t, err, store.ErrNotFound)
}

func newChallenge(f fixture, at time.Time) store.LoginChallenge {
	return store.LoginChallenge{ID: newID("lch_"), SecretHash: []byte("secret-hash"), AccountID: f.acc.ID, UserID: f.user.ID,
		Method: "email", CodeHash: []byte("code-hash"), Sends: 1, CreatedAt: at, SentAt: at, ExpiresAt: at.Add(10 * time.Minute)}
}

func testChallenges(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "challenge@example.com")
	c := newChallenge(f, base)
	must(t, s.CreateChallenge(ctx, c))
	wantErr(t, s.CreateChallenge(ctx, c), store.ErrConflict)
	got, err := s.Challenge(ctx, c.ID)
	must(t, err)
	if got.UserID != f.user.ID || got.AccountID != f.acc.ID || got.Method != "email" || string(got.CodeHash) != "code-hash" ||
		string(got.SecretHash) != "secret-hash" || got.Attempts != 0 || got.Sends != 1 || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.SentAt.Equal(base) {
		t.Fatalf("Challenge = %+v", got)
	}
	for want := 1; want <= 3; want++ {
		n, err := s.CountChallengeAttempt(ctx, c.ID)
		must(t, err)
		if n != want {
			t.Fatalf("attempt %d counted as %d", want, n)
		}
	}
	_, err = s.CountChallengeAttempt(ctx, "lch_missing")
	wantErr(t, err, store.ErrNotFound)
	must(t, s.ResendChallenge(ctx, c.ID, []byte("new-code"), base.Add(time.Minute), base.Add(11*time.Minute)))
	got, _ = s.Challenge(ctx, c.ID)
	if string(got.CodeHash) != "new-code" || got.Attempts != 0 || got.Sends != 2 || !got.SentAt.Equal(base.Add(time.Minute)) ||
		!got.ExpiresAt.Equal(base.Add(11*time.Minute)) {
		t.Fatalf("after ResendChallenge: %+v", got)
	}
	wantErr(t, s.ResendChallenge(ctx, "lch_missing", nil, base, base), store.ErrNotFound)

	// Only one of two requests finishing a login may end its challenge.
	must(t, s.DeleteChallenge(ctx, c.ID))
	wantErr(t, s.DeleteChallenge(ctx, c.ID), store.ErrNotFound)
	_, err = s.Challenge(ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)

	old, fresh := newChallenge(f, base), newChallenge(f, base.Add(time.Hour))
	must(t, s.CreateChallenge(ctx, old))
	must(t, s.CreateChallenge(ctx, fresh))
	n, err := s.DeleteChallengesBefore(ctx, base.Add(30*time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteChallengesBefore deleted %d, want 1", n)
	}
	_, err = s.Challenge(ctx, fresh.ID)
	must(t, err)
}

func testTokenKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "k@example.com")
	other := seed(t, s, "other-k@example.com")
	colleague := newUser(f.acc, "k2@example.com")
	must(t, s.CreateUser(ctx, colleague))
	k2 := store.TokenKey{ID: newID(api.PrefixTokenKey), AccountID: f.acc.ID, UserID: f.user.ID, Version: 2, WrappedKey: []byte("v2"), CreatedAt: base}
	must(t, s.CreateTokenKey(ctx, k2))
	theirs := store.TokenKey{ID: newID(api.PrefixTokenKey), AccountID: f.acc.ID, UserID: colleague.ID, Version: 1, WrappedKey: []byte("c1"), CreatedAt: base}
	must(t, s.CreateTokenKey(ctx, theirs)) // versions are per user
	stray := store.TokenKey{ID: newID(api.PrefixTokenKey), AccountID: other.acc.ID, UserID: f.user.ID, Version: 9, WrappedKey: []byte("x"), CreatedAt: base}
	wantErr(t, s.CreateTokenKey(ctx, stray), store.ErrNotFound) // a user of another account
	latest, err := s.LatestTokenKey(ctx, f.acc.ID, f.user.ID)
	must(t, err)
	if latest.ID != k2.ID || latest.Version != 2 || string(latest.WrappedKey) != "v2" {
		t.Fatalf("LatestTokenKey = %+v", latest)
	}
	got, err := s.TokenKey(ctx, f.key.ID)
	must(t, err)
	if got.AccountID != f.acc.ID || got.UserID != f.user.ID || got.Version != 1 {
		t.Fatalf("TokenKey = %+v", got)
	}
	if latest, _ := s.LatestTokenKey(ctx, f.acc.ID, colleague.ID); latest.ID != theirs.ID {
		t.Fatalf("the colleague's latest key is %+v", latest)
	}
	again := k2
	again.ID = newID(api.PrefixTokenKey)
	wantErr(t, s.CreateTokenKey(ctx, again), store.ErrConflict) // same version twice
	_, err = s.TokenKey(ctx, "tkk_missing")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.LatestTokenKey(ctx, "acc_missing", f.user.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.LatestTokenKey(ctx, other.acc.ID, f.user.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "t@example.com")
	other := seed(t, s, "o@example.com")
	api1 := newToken(f, api.TokenKindAPI, base)
	sess := newToken(f, api.TokenKindSession, base.Add(time.Minute))
	foreign := newToken(other, api.TokenKindAPI, base)
	for _, tok := range []store.Token{api1, sess, foreign} {
		must(t, s.CreateToken(ctx, tok))
	}
	wantErr(t, s.CreateToken(ctx, api1), store.ErrConflict)

	got, err := s.Token(ctx, api1.ID)
	must(t, err)
	if string(got.SealedName) != "sealed:ci" || got.ParentID != "" || got.Kind != api.TokenKindAPI || !slices.Equal(got.Scopes, api1.Scopes) || !slices.Equal(got.Sites, api1.Sites) ||
		string(got.SecretHash) != "hash" || string(got.SecretSalt) != "salt" || got.KeyID != f.key.ID ||
		!got.ExpiresAt.Equal(api1.ExpiresAt) || !got.LastUsedAt.IsZero() || got.Revoked() {
		t.Fatalf("Token = %+v", got)
	}

	list, err := s.ListTokens(ctx, store.TokenFilter{AccountID: f.acc.ID})
	must(t, err)
	if len(list) != 2 || list[0].ID != sess.ID { // newest first
		t.Fatalf("ListTokens all = %d tokens, first %s", len(list), list[0].ID)
	}
	list, err = s.ListTokens(ctx, store.TokenFilter{AccountID: f.acc.ID, Kind: api.TokenKindAPI, UserID: f.user.ID})
	must(t, err)
	if len(list) != 1 || list[0].ID != api1.ID {
		t.Fatalf("ListTokens api = %+v", list)
	}

	_, err = s.RevokeToken(ctx, f.acc.ID, foreign.ID, base)
	wantErr(t, err, store.ErrNotFound)
	if n, err := s.RevokeToken(ctx, f.acc.ID, api1.ID, base.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("RevokeToken revoked %d: %v", n, err)
	}
	if n, err := s.RevokeToken(ctx, f.acc.ID, api1.ID, base.Add(2*time.Hour)); err != nil || n != 0 { // keeps the first time
		t.Fatalf("RevokeToken again revoked %d: %v", n, err)
	}
	got, _ = s.Token(ctx, api1.ID)
	if !got.RevokedAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("RevokedAt = %v, want the first revocation", got.RevokedAt)
	}

	n, err := s.RevokeUserTokens(ctx, f.acc.ID, f.user.ID, api.TokenKindSession, base.Add(time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("RevokeUserTokens revoked %d, want 1", n)
	}
	got, _ = s.Token(ctx, foreign.ID)
	if got.Revoked() {
		t.Fatal("another account's token was revoked")
	}

	must(t, s.TouchTokens(ctx, map[string]time.Time{foreign.ID: base.Add(3 * time.Hour)}))
	must(t, s.TouchTokens(ctx, map[string]time.Time{foreign.ID: base.Add(2 * time.Hour)})) // never goes back
	got, _ = s.Token(ctx, foreign.ID)
	if !got.LastUsedAt.Equal(base.Add(3 * time.Hour)) {
		t.Fatalf("LastUsedAt = %v", got.LastUsedAt)
	}

	// api1 and sess were revoked an hour after base; foreign expires a day after base.
	deleted, err := s.DeleteTokensBefore(ctx, base.Add(90*time.Minute))
	must(t, err)
	if deleted != 2 {
		t.Fatalf("DeleteTokensBefore deleted %d, want 2", deleted)
	}
	_, err = s.Token(ctx, foreign.ID)
	must(t, err)
}

func testTokenLineage(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "lineage@example.com")
	// session -> child -> grandchild, and a sibling root that must survive.
	session := newToken(f, api.TokenKindSession, base)
	child := childOf(f, session, api.TokenKindAPI)
	grandchild := childOf(f, child, api.TokenKindAPI)
	root := newToken(f, api.TokenKindAPI, base)
	rootChild := childOf(f, root, api.TokenKindAPI)
	for _, tok := range []store.Token{session, child, grandchild, root, rootChild} {
		must(t, s.CreateToken(ctx, tok))
	}
	got, _ := s.Token(ctx, grandchild.ID)
	if got.ParentID != child.ID {
		t.Fatalf("ParentID read back as %q, want %q", got.ParentID, child.ID)
	}
	// Revoking the middle one takes its descendants, not its parent.
	n, err := s.RevokeToken(ctx, f.acc.ID, child.ID, base.Add(time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("revoking a token with one descendant revoked %d, want 2", n)
	}
	states := map[string]bool{session.ID: false, child.ID: true, grandchild.ID: true, root.ID: false, rootChild.ID: false}
	for id, want := range states {
		if tok, _ := s.Token(ctx, id); tok.Revoked() != want {
			t.Errorf("token %s revoked = %v, want %v", id, tok.Revoked(), want)
		}
	}
	// Logging out (revoking the user's sessions) takes what the sessions minted.
	other := childOf(f, session, api.TokenKindAPI)
	must(t, s.CreateToken(ctx, other))
	n, err = s.RevokeUserTokens(ctx, f.acc.ID, f.user.ID, api.TokenKindSession, base.Add(2*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("revoking the sessions revoked %d tokens, want 2 (the session and what it minted)", n)
	}
	if tok, _ := s.Token(ctx, rootChild.ID); tok.Revoked() {
		t.Error("a root token's child was revoked with the sessions")
	}
}

func testEpoch(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "e@example.com")
	tok := newToken(f, api.TokenKindAPI, base)
	must(t, s.CreateToken(ctx, tok))
	last, err := s.RevocationEpoch(ctx)
	must(t, err)
	steps := []struct {
		name string
		do   func() error
	}{
		{"revoke a token", func() error { _, err := s.RevokeToken(ctx, f.acc.ID, tok.ID, base); return err }},
		{"revoke a user's tokens", func() error {
			_, err := s.RevokeUserTokens(ctx, f.acc.ID, f.user.ID, "", base)
			return err
		}},
		{"disable a user", func() error { return s.DisableUser(ctx, f.acc.ID, f.user.ID, base) }},
		{"delete a user", func() error { return s.DeleteUser(ctx, f.acc.ID, f.user.ID) }},
		{"delete an account", func() error { return s.DeleteAccount(ctx, f.acc.ID) }},
	}
	for _, step := range steps {
		must(t, step.do())
		now, err := s.RevocationEpoch(ctx)
		must(t, err)
		if now == last {
			t.Fatalf("epoch did not move after: %s", step.name)
		}
		last = now
	}
}

func auditEntry(acc, user string, at time.Time, status int) store.AuditEntry {
	e := store.AuditEntry{Time: at, RequestID: newID(api.PrefixRequest), AccountID: acc, UserID: user, TokenID: "tok_x",
		Method: "GET", Route: "GET /v1/auth/whoami", Status: status, Latency: 1234 * time.Microsecond, SealedSource: sealed("127.0.0.1")}
	if status >= 400 {
		e.ErrorCode = "not_found"
	}
	return e
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "au@example.com")
	other := seed(t, s, "ao@example.com")
	entries := []store.AuditEntry{
		auditEntry(f.acc.ID, f.user.ID, base, 200),
		auditEntry(f.acc.ID, f.user.ID, base.Add(time.Minute), 404),
		auditEntry(f.acc.ID, "usr_someoneelse", base.Add(2*time.Minute), 201),
		auditEntry(other.acc.ID, other.user.ID, base, 200),
		auditEntry("", "", base, 401),                     // nobody authenticated
		auditEntry("acc_deletedmeanwhile", "", base, 200), // dropped, not an error
	}
	must(t, s.AppendAudit(ctx, entries))
	must(t, s.AppendAudit(ctx, nil))

	tests := []struct {
		name   string
		filter store.AuditFilter
		want   []string // request ids, newest first
	}{
		{"whole account", store.AuditFilter{AccountID: f.acc.ID}, []string{entries[2].RequestID, entries[1].RequestID, entries[0].RequestID}},
		{"time range", store.AuditFilter{AccountID: f.acc.ID, From: base.Add(time.Minute), To: base.Add(2 * time.Minute)}, []string{entries[1].RequestID}},
		{"user", store.AuditFilter{AccountID: f.acc.ID, UserID: "usr_someoneelse"}, []string{entries[2].RequestID}},
		{"status class", store.AuditFilter{AccountID: f.acc.ID, StatusClass: 4}, []string{entries[1].RequestID}},
		{"exact status", store.AuditFilter{AccountID: f.acc.ID, Status: 201}, []string{entries[2].RequestID}},
		{"other account", store.AuditFilter{AccountID: other.acc.ID}, []string{entries[3].RequestID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.ListAudit(ctx, tt.filter)
			must(t, err)
			var got []string
			for _, e := range page.Entries {
				got = append(got, e.RequestID)
			}
			if !slices.Equal(got, tt.want) || page.NextCursor != "" {
				t.Fatalf("got %v (cursor %q), want %v", got, page.NextCursor, tt.want)
			}
		})
	}
	page, err := s.ListAudit(ctx, store.AuditFilter{AccountID: f.acc.ID, Status: 404})
	must(t, err)
	e := page.Entries[0]
	if !e.Time.Equal(base.Add(time.Minute)) || e.Latency != 1234*time.Microsecond || e.ErrorCode != "not_found" ||
		e.Method != "GET" || e.Route != "GET /v1/auth/whoami" || string(e.SealedSource) != "sealed:127.0.0.1" || e.TokenID != "tok_x" ||
		e.AccountID != f.acc.ID || e.Count != 1 {
		t.Fatalf("entry read back as %+v", e)
	}
	_, err = s.ListAudit(ctx, store.AuditFilter{AccountID: f.acc.ID, Cursor: "garbage"})
	wantErr(t, err, store.ErrInvalidCursor)

	// Repeated failures folded into one entry keep their count.
	folded := auditEntry(f.acc.ID, "", base.Add(4*time.Minute), 429)
	folded.Count = 57
	must(t, s.AppendAudit(ctx, []store.AuditEntry{folded}))
	page, err = s.ListAudit(ctx, store.AuditFilter{AccountID: f.acc.ID, Status: 429})
	must(t, err)
	if len(page.Entries) != 1 || page.Entries[0].Count != 57 {
		t.Fatalf("a folded entry read back as %+v", page.Entries)
	}

	// Requests of a device name it.
	upload := auditEntry(f.acc.ID, "", base.Add(3*time.Minute), 201)
	upload.TokenID, upload.DeviceID, upload.Route = "", "dev_aaaaaaaaaaaaaaaa", "POST /v1/ingest"
	must(t, s.AppendAudit(ctx, []store.AuditEntry{upload}))
	page, err = s.ListAudit(ctx, store.AuditFilter{AccountID: f.acc.ID, DeviceID: "dev_aaaaaaaaaaaaaaaa"})
	must(t, err)
	if len(page.Entries) != 1 || page.Entries[0].DeviceID != "dev_aaaaaaaaaaaaaaaa" || page.Entries[0].RequestID != upload.RequestID {
		t.Fatalf("device filter: %+v", page.Entries)
	}
}

func testAuditPagination(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "p@example.com")
	var entries []store.AuditEntry
	for i := range 25 {
		// Pairs share a timestamp, so the cursor must break ties.
		entries = append(entries, auditEntry(f.acc.ID, f.user.ID, base.Add(time.Duration(i/2)*time.Second), 200))
	}
	must(t, s.AppendAudit(ctx, entries))
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := s.ListAudit(ctx, store.AuditFilter{AccountID: f.acc.ID, Limit: 7, Cursor: cursor})
		must(t, err)
		for _, e := range page.Entries {
			if seen[e.RequestID] {
				t.Fatalf("entry %s on two pages", e.RequestID)
			}
			seen[e.RequestID] = true
		}
		if page.NextCursor == "" {
			if pages != 3 {
				t.Fatalf("got %d pages, want 4", pages+1)
			}
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 25 {
		t.Fatalf("pages covered %d entries, want 25", len(seen))
	}
}

func testAuditPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "pu@example.com")
	now := base.Add(60 * 24 * time.Hour)
	day := 24 * time.Hour
	entries := []store.AuditEntry{
		auditEntry(f.acc.ID, "", now.Add(-6*day), 200),  // kept: under 7 days
		auditEntry(f.acc.ID, "", now.Add(-8*day), 200),  // purged: success over 7 days
		auditEntry(f.acc.ID, "", now.Add(-8*day), 500),  // kept: error under 30 days
		auditEntry(f.acc.ID, "", now.Add(-29*day), 403), // kept
		auditEntry(f.acc.ID, "", now.Add(-31*day), 404), // purged: error over 30 days
		auditEntry(f.acc.ID, "", now.Add(-31*day), 302), // purged
	}
	must(t, s.AppendAudit(ctx, entries))
	n, err := s.PurgeAudit(ctx, now.Add(-7*day), now.Add(-30*day))
	must(t, err)
	if n != 3 {
		t.Fatalf("purged %d entries, want 3", n)
	}
	page, err := s.ListAudit(ctx, store.AuditFilter{AccountID: f.acc.ID})
	must(t, err)
	var got []string
	for _, e := range page.Entries {
		got = append(got, e.RequestID)
	}
	want := []string{entries[0].RequestID, entries[2].RequestID, entries[3].RequestID}
	if !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
}

func testDeleteAccount(t *testing.T, s store.Store) {
	ctx := context.Background()
	doomed := seed(t, s, "doomed@example.com")
	kept := seed(t, s, "kept@example.com")
	for _, f := range []fixture{doomed, kept} {
		must(t, s.CreateToken(ctx, newToken(f, api.TokenKindAPI, base)))
		must(t, s.AppendAudit(ctx, []store.AuditEntry{auditEntry(f.acc.ID, f.user.ID, base, 200)}))
		must(t, s.SetTOTP(ctx, f.acc.ID, f.user.ID, sealed("totp"), base))
		must(t, s.EnableTOTP(ctx, f.acc.ID, f.user.ID, 1, [][]byte{[]byte("code")}, base))
	}
	challenge := newChallenge(doomed, base)
	must(t, s.CreateChallenge(ctx, challenge))
	must(t, s.DeleteAccount(ctx, doomed.acc.ID))

	_, err := s.Account(ctx, doomed.acc.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, doomed.user.EmailIndex)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.TokenKey(ctx, doomed.key.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Challenge(ctx, challenge.ID)
	wantErr(t, err, store.ErrNotFound)
	toks, err := s.ListTokens(ctx, store.TokenFilter{AccountID: doomed.acc.ID})
	must(t, err)
	page, err := s.ListAudit(ctx, store.AuditFilter{AccountID: doomed.acc.ID})
	must(t, err)
	if len(toks) != 0 || len(page.Entries) != 0 {
		t.Fatalf("after deletion: %d tokens and %d audit entries remain", len(toks), len(page.Entries))
	}

	toks, _ = s.ListTokens(ctx, store.TokenFilter{AccountID: kept.acc.ID})
	page, _ = s.ListAudit(ctx, store.AuditFilter{AccountID: kept.acc.ID})
	_, err = s.UserByEmail(ctx, kept.user.EmailIndex)
	if err != nil || len(toks) != 1 || len(page.Entries) != 1 {
		t.Fatalf("the other account lost data: user err %v, %d tokens, %d audit entries", err, len(toks), len(page.Entries))
	}
}

func testMeta(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.Meta(ctx, "k")
	wantErr(t, err, store.ErrNotFound)
	v, err := s.SetMetaIfAbsent(ctx, "k", []byte("first"))
	must(t, err)
	if string(v) != "first" {
		t.Fatalf("SetMetaIfAbsent = %q", v)
	}
	v, err = s.SetMetaIfAbsent(ctx, "k", []byte("second"))
	must(t, err)
	got, _ := s.Meta(ctx, "k")
	if string(v) != "first" || string(got) != "first" {
		t.Fatalf("second SetMetaIfAbsent = %q, Meta = %q; want the first value kept", v, got)
	}
}
