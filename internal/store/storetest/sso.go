package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

func ssoLink(acc store.Account, at time.Time) store.SSOLink {
	return store.SSOLink{AccountID: acc.ID, Sealed: sealed("issuer " + acc.ID), SealedSecret: sealed("secret " + acc.ID), CreatedAt: at, UpdatedAt: at}
}

func ssoIdentity(u store.User, subject string, refresh []byte, at time.Time) store.SSOIdentity {
	return store.SSOIdentity{AccountID: u.AccountID, UserID: u.ID, SubjectIndex: index("sub:" + subject), SealedRefresh: refresh,
		CheckedAt: at, CreatedAt: at, UpdatedAt: at}
}

func testSSOLinks(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "owner@acme.example")
	other := seed(t, s, "owner@other.example")
	_, err := s.SSOLink(ctx, f.acc.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.SetSSOLink(ctx, ssoLink(store.Account{ID: "acc_missing"}, base), nil), store.ErrNotFound)
	l := ssoLink(f.acc, base)
	l.BreakGlassUserID = other.user.ID
	wantErr(t, s.SetSSOLink(ctx, l, nil), store.ErrNotFound) // another account's user

	l.RequireSSO, l.BreakGlassUserID = true, f.user.ID
	must(t, s.SetSSOLink(ctx, l, [][]byte{index("acme.example"), index("acme.fr")}))
	got, err := s.SSOLink(ctx, f.acc.ID)
	must(t, err)
	if string(got.Sealed) != string(l.Sealed) || string(got.SealedSecret) != string(l.SealedSecret) || !got.RequireSSO ||
		got.BreakGlassUserID != f.user.ID || !got.CreatedAt.Equal(base) || !got.UpdatedAt.Equal(base) {
		t.Fatalf("SSOLink = %+v, want %+v", got, l)
	}
	for _, d := range []string{"acme.example", "acme.fr"} {
		if got, err := s.SSOLinkByDomain(ctx, index(d)); err != nil || got.AccountID != f.acc.ID {
			t.Fatalf("SSOLinkByDomain(%s) = %+v, %v", d, got, err)
		}
	}

	// A domain signs in to one account: the refused change leaves both links as they were.
	must(t, s.SetSSOLink(ctx, ssoLink(other.acc, base), [][]byte{index("other.example")}))
	wantErr(t, s.SetSSOLink(ctx, ssoLink(other.acc, base.Add(time.Hour)), [][]byte{index("other.example"), index("acme.fr")}), store.ErrConflict)
	if got, _ := s.SSOLinkByDomain(ctx, index("acme.fr")); got.AccountID != f.acc.ID {
		t.Fatalf("acme.fr moved to %s", got.AccountID)
	}
	if got, _ := s.SSOLink(ctx, other.acc.ID); !got.UpdatedAt.Equal(base) {
		t.Fatalf("a refused change was kept: %+v", got)
	}

	// Replacing keeps the creation time and replaces the domains.
	l2 := ssoLink(f.acc, base.Add(time.Hour))
	l2.Sealed = sealed("new settings")
	must(t, s.SetSSOLink(ctx, l2, [][]byte{index("acme.example")}))
	got, _ = s.SSOLink(ctx, f.acc.ID)
	if string(got.Sealed) != "sealed:new settings" || got.RequireSSO || got.BreakGlassUserID != "" || !got.CreatedAt.Equal(base) || !got.UpdatedAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("after replacing: %+v", got)
	}
	_, err = s.SSOLinkByDomain(ctx, index("acme.fr"))
	wantErr(t, err, store.ErrNotFound)

	// Deleting the break-glass user leaves the link without one.
	glass := newUser(f.acc, "glass@acme.example")
	must(t, s.CreateUser(ctx, glass))
	l2.BreakGlassUserID, l2.RequireSSO = glass.ID, true
	must(t, s.SetSSOLink(ctx, l2, [][]byte{index("acme.example")}))
	must(t, s.DeleteUser(ctx, f.acc.ID, glass.ID))
	if got, _ := s.SSOLink(ctx, f.acc.ID); got.BreakGlassUserID != "" || !got.RequireSSO {
		t.Fatalf("after deleting the break-glass user: %+v", got)
	}

	// Removing the link removes its domains and identities, not its users.
	jit := newUser(f.acc, "jit@acme.example")
	jit.PasswordHash = ""
	must(t, s.CreateSSOUser(ctx, jit, ssoIdentity(jit, "jit", sealed("rt"), base)))
	wantErr(t, s.DeleteSSOLink(ctx, other.acc.ID+"x"), store.ErrNotFound)
	must(t, s.DeleteSSOLink(ctx, f.acc.ID))
	_, err = s.SSOLink(ctx, f.acc.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.SSOLinkByDomain(ctx, index("acme.example"))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.SSOIdentity(ctx, f.acc.ID, jit.ID)
	wantErr(t, err, store.ErrNotFound)
	if _, err := s.User(ctx, f.acc.ID, jit.ID); err != nil {
		t.Fatalf("the user went with the link: %v", err)
	}
	wantErr(t, s.DeleteSSOLink(ctx, f.acc.ID), store.ErrNotFound)
	if got, err := s.SSOLinkByDomain(ctx, index("other.example")); err != nil || got.AccountID != other.acc.ID {
		t.Fatalf("the other account's link: %+v, %v", got, err)
	}

	// Deleting an account deletes its link.
	must(t, s.DeleteAccount(ctx, other.acc.ID))
	_, err = s.SSOLinkByDomain(ctx, index("other.example"))
	wantErr(t, err, store.ErrNotFound)
}

func testSSOIdentities(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "owner@sso.example")
	other := seed(t, s, "owner@elsewhere.example")
	jit := newUser(f.acc, "jit@sso.example")
	jit.PasswordHash = ""
	// No link, no identity.
	wantErr(t, s.CreateSSOUser(ctx, jit, ssoIdentity(jit, "jit", nil, base)), store.ErrNotFound)
	if _, err := s.User(ctx, f.acc.ID, jit.ID); err == nil {
		t.Fatal("a refused CreateSSOUser left its user")
	}
	must(t, s.SetSSOLink(ctx, ssoLink(f.acc, base), [][]byte{index("sso.example")}))
	must(t, s.SetSSOLink(ctx, ssoLink(other.acc, base), [][]byte{index("elsewhere.example")}))

	must(t, s.CreateSSOUser(ctx, jit, ssoIdentity(jit, "jit", sealed("rt1"), base)))
	gotUser, err := s.UserByEmail(ctx, jit.EmailIndex)
	must(t, err)
	if gotUser.ID != jit.ID || gotUser.PasswordHash != "" {
		t.Fatalf("user made at sign-in: %+v", gotUser)
	}
	twin := newUser(f.acc, "twin@sso.example")
	wantErr(t, s.CreateSSOUser(ctx, twin, ssoIdentity(twin, "jit", nil, base)), store.ErrConflict) // same subject
	dup := newUser(f.acc, "jit@sso.example")
	wantErr(t, s.CreateSSOUser(ctx, dup, ssoIdentity(dup, "dup", nil, base)), store.ErrConflict) // same e-mail
	// The same subject in another account is another person.
	elsewhere := newUser(other.acc, "jit@elsewhere.example")
	must(t, s.CreateSSOUser(ctx, elsewhere, ssoIdentity(elsewhere, "jit", nil, base)))

	id, err := s.SSOIdentity(ctx, f.acc.ID, jit.ID)
	must(t, err)
	if string(id.SubjectIndex) != "index:sub:jit" || string(id.SealedRefresh) != "sealed:rt1" || !id.CheckedAt.Equal(base) || !id.ProviderDisabledAt.IsZero() {
		t.Fatalf("SSOIdentity = %+v", id)
	}
	_, err = s.SSOIdentity(ctx, other.acc.ID, jit.ID)
	wantErr(t, err, store.ErrNotFound)
	if got, err := s.SSOIdentityBySubject(ctx, f.acc.ID, index("sub:jit")); err != nil || got.UserID != jit.ID {
		t.Fatalf("SSOIdentityBySubject = %+v, %v", got, err)
	}
	if got, err := s.SSOIdentityBySubject(ctx, other.acc.ID, index("sub:jit")); err != nil || got.UserID != elsewhere.ID {
		t.Fatalf("SSOIdentityBySubject in the other account = %+v, %v", got, err)
	}

	// A password user signing in through the provider gets an identity; a subject is one user's.
	owner := ssoIdentity(f.user, "owner", sealed("rt-owner"), base)
	must(t, s.SaveSSOIdentity(ctx, owner))
	wantErr(t, s.SaveSSOIdentity(ctx, ssoIdentity(f.user, "jit", nil, base)), store.ErrConflict)
	wantErr(t, s.SaveSSOIdentity(ctx, ssoIdentity(store.User{ID: other.user.ID, AccountID: f.acc.ID}, "x", nil, base)), store.ErrNotFound)

	// Checks: each identity with a refresh token, checked before the cut, is claimed once.
	claimed, err := s.ClaimSSOChecks(ctx, base.Add(time.Minute), base.Add(time.Hour), 10)
	must(t, err)
	var ids []string
	for _, c := range claimed {
		ids = append(ids, c.UserID)
		if !c.CheckedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("claimed %s with checked_at %v", c.UserID, c.CheckedAt)
		}
	}
	slices.Sort(ids)
	want := []string{f.user.ID, jit.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("ClaimSSOChecks = %v, want %v (only identities with a refresh token)", ids, want)
	}
	if again, _ := s.ClaimSSOChecks(ctx, base.Add(time.Minute), base.Add(time.Hour), 10); len(again) != 0 {
		t.Fatalf("claimed twice: %+v", again)
	}
	if some, _ := s.ClaimSSOChecks(ctx, base.Add(2*time.Hour), base.Add(3*time.Hour), 1); len(some) != 1 {
		t.Fatalf("limit 1 claimed %d", len(some))
	}

	// A rotated refresh token replaces the one used, unless a sign-in replaced it meanwhile.
	wantErr(t, s.UpdateSSORefresh(ctx, f.acc.ID, jit.ID, sealed("stale"), sealed("rt2"), base), store.ErrConflict)
	must(t, s.UpdateSSORefresh(ctx, f.acc.ID, jit.ID, sealed("rt1"), sealed("rt2"), base))
	if got, _ := s.SSOIdentity(ctx, f.acc.ID, jit.ID); string(got.SealedRefresh) != "sealed:rt2" {
		t.Fatalf("refresh token = %q", got.SealedRefresh)
	}

	// The provider no longer knows the user: disabled, every token revoked, the epoch moved.
	tok := newToken(fixture{acc: f.acc, user: jit, key: f.key}, api.TokenKindSession, base)
	tok.UserID = jit.ID
	jitKey := store.TokenKey{ID: newID(api.PrefixTokenKey), AccountID: f.acc.ID, UserID: jit.ID, Version: 1, WrappedKey: []byte("k"), CreatedAt: base}
	must(t, s.CreateTokenKey(ctx, jitKey))
	tok.KeyID = jitKey.ID
	must(t, s.CreateToken(ctx, tok))
	wantErr(t, s.DisableSSOUser(ctx, f.acc.ID, jit.ID, sealed("rt1"), base.Add(time.Hour)), store.ErrConflict)
	if u, _ := s.User(ctx, f.acc.ID, jit.ID); u.Disabled() {
		t.Fatal("a refused DisableSSOUser disabled the user")
	}
	epoch, _ := s.RevocationEpoch(ctx)
	must(t, s.DisableSSOUser(ctx, f.acc.ID, jit.ID, sealed("rt2"), base.Add(time.Hour)))
	after, _ := s.RevocationEpoch(ctx)
	u, _ := s.User(ctx, f.acc.ID, jit.ID)
	id, _ = s.SSOIdentity(ctx, f.acc.ID, jit.ID)
	if gotTok, _ := s.Token(ctx, tok.ID); !u.Disabled() || !gotTok.Revoked() || after == epoch || id.SealedRefresh != nil || !id.ProviderDisabledAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("after DisableSSOUser: user %+v, token revoked %v, epoch %d -> %d, identity %+v", u, gotTok.Revoked(), epoch, after, id)
	}
	// Disabled users are not checked.
	if got, _ := s.ClaimSSOChecks(ctx, base.Add(24*time.Hour), base.Add(24*time.Hour), 10); len(got) != 1 || got[0].UserID != f.user.ID {
		t.Fatalf("ClaimSSOChecks after disabling = %+v", got)
	}

	// The next sign-in through the provider enables them again.
	must(t, s.SaveSSOIdentity(ctx, ssoIdentity(jit, "jit", sealed("rt3"), base.Add(2*time.Hour))))
	u, _ = s.User(ctx, f.acc.ID, jit.ID)
	id, _ = s.SSOIdentity(ctx, f.acc.ID, jit.ID)
	if u.Disabled() || !id.ProviderDisabledAt.IsZero() || string(id.SealedRefresh) != "sealed:rt3" || !id.CreatedAt.Equal(base) {
		t.Fatalf("after signing in again: user %+v, identity %+v", u, id)
	}

	// An owner's decision is not undone by a sign-in.
	must(t, s.DisableSSOUser(ctx, f.acc.ID, jit.ID, sealed("rt3"), base.Add(3*time.Hour)))
	must(t, s.DisableUser(ctx, f.acc.ID, jit.ID, base.Add(4*time.Hour)))
	must(t, s.SaveSSOIdentity(ctx, ssoIdentity(jit, "jit", sealed("rt4"), base.Add(5*time.Hour))))
	if u, _ := s.User(ctx, f.acc.ID, jit.ID); !u.Disabled() {
		t.Fatal("a sign-in enabled a user an owner disabled")
	}
	// Nor is a user the owner disabled before the provider's answer.
	must(t, s.SaveSSOIdentity(ctx, ssoIdentity(f.user, "owner", sealed("rt-owner2"), base)))
	must(t, s.DisableUser(ctx, f.acc.ID, f.user.ID, base.Add(time.Hour)))
	must(t, s.SaveSSOIdentity(ctx, ssoIdentity(f.user, "owner", sealed("rt-owner3"), base.Add(2*time.Hour))))
	if u, _ := s.User(ctx, f.acc.ID, f.user.ID); !u.Disabled() {
		t.Fatal("a sign-in enabled a user an owner disabled")
	}

	// Deleting a user deletes their identity; the subject can be linked again.
	must(t, s.DeleteUser(ctx, f.acc.ID, jit.ID))
	_, err = s.SSOIdentityBySubject(ctx, f.acc.ID, index("sub:jit"))
	wantErr(t, err, store.ErrNotFound)
}
