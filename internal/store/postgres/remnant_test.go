package postgres

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
)

// A deleted account's and a deleted user's key material, sealed values and blind indexes leave
// no copy in the database's relation files (tables and indexes), even where the deleted row
// sat next to free space that a plain VACUUM would leave as it was. What the write-ahead log
// and the big tables' free space still hold is logged, for docs/security.md: sealed bytes
// under keys that died with the account.
func TestDeletionLeavesNoRemnant(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := func(what string) []byte { return []byte("REMNANT-" + what + "-7f3a9c") }
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

	// Kept rows first, so that the deleted ones sit next to the pages' free space.
	kept := store.Account{ID: "acc_keptkeptkeptkept", SealedName: []byte("kept"), DataKey: []byte("kept-key"), CreatedAt: now}
	must(t, s.CreateAccount(ctx, kept))
	for i := range 40 {
		must(t, s.CreateUser(ctx, store.User{ID: fmt.Sprintf("usr_kept%012d", i), AccountID: kept.ID, EmailIndex: []byte(fmt.Sprintf("kept-%d", i)),
			SealedEmail: []byte("kept"), Role: api.RoleAnalyst, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}))
	}
	doomed := store.Account{ID: "acc_doomeddoomeddoom", SealedName: marker("account-name"), DataKey: marker("wrapped-data-key"), CreatedAt: now}
	must(t, s.CreateAccount(ctx, doomed))
	users := []store.User{
		{ID: "usr_doomeddoomeddoom", AccountID: doomed.ID, EmailIndex: marker("email-index"), SealedEmail: marker("email"), Role: api.RoleOwner,
			PasswordHash: string(marker("password-hash")), CreatedAt: now, UpdatedAt: now},
		{ID: "usr_leavingleavingle", AccountID: kept.ID, EmailIndex: marker("leaver-index"), SealedEmail: marker("leaver-email"), Role: api.RoleAnalyst,
			PasswordHash: string(marker("leaver-hash")), TOTP: store.UserTOTP{SealedSecret: marker("leaver-totp")}, CreatedAt: now, UpdatedAt: now},
	}
	for i, u := range users {
		must(t, s.CreateUser(ctx, u))
		key := store.TokenKey{ID: fmt.Sprintf("tkk_remnant%05d", i), AccountID: u.AccountID, UserID: u.ID, Version: 1,
			WrappedKey: marker(fmt.Sprintf("token-key-%d", i)), CreatedAt: now}
		must(t, s.CreateTokenKey(ctx, key))
		must(t, s.CreateToken(ctx, store.Token{ID: fmt.Sprintf("tok_remnant%05d", i), AccountID: u.AccountID, UserID: u.ID, Kind: api.TokenKindAPI,
			SealedName: marker(fmt.Sprintf("token-name-%d", i)), SecretSalt: []byte("s"), SecretHash: []byte("h"), KeyID: key.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	}
	must(t, s.SetRecoveryCodes(ctx, kept.ID, users[1].ID, [][]byte{marker("recovery-code")}, now))
	site := store.Site{ID: "sit_doomeddoomeddoom", AccountID: doomed.ID, NameIndex: marker("site-index"), Sealed: marker("site"), CreatedAt: now, UpdatedAt: now}
	must(t, s.CreateSite(ctx, site))
	dev := store.Device{ID: "dev_doomeddoomeddoom", AccountID: doomed.ID, SiteID: site.ID, SerialIndex: marker("serial-index"), Sealed: marker("serial"),
		CredentialSalt: []byte("s"), CredentialHash: []byte("h"), CreatedAt: now, UpdatedAt: now}
	must(t, s.CreateDevice(ctx, dev, store.DeviceKey{DeviceID: dev.ID, KeyID: 1, SealedKey: marker("device-key"), CreatedAt: now}))
	must(t, s.StoreFile(ctx, doomed.ID, dev.ID, 1, func(sink store.SegmentSink) (store.DataFile, error) {
		err := sink.Add(&store.Segment{ChannelTag: marker("channel-tag"), Sealed: marker("readings"), TMin: 1, TMax: 2, Count: 2})
		return store.DataFile{DeviceID: dev.ID, Sequence: 1, SHA256: []byte("x"), Readings: 2, FirstReading: 1, LastReading: 2, ReceivedAt: now}, err
	}))
	must(t, s.AppendAudit(ctx, []store.AuditEntry{{Time: now, RequestID: "req_1", AccountID: doomed.ID, SealedSource: marker("source"), Count: 1}}))
	checkpoint(t, s) // the rows reach the relation files before they are deleted

	must(t, s.DeleteAccount(ctx, doomed.ID))
	must(t, s.DeleteUser(ctx, kept.ID, users[1].ID))
	checkpoint(t, s)

	// What crypto-shredding rests on, and values a master key alone could read or confirm.
	mustBeGone := []string{"account-name", "wrapped-data-key", "email-index", "email", "password-hash", "leaver-index", "leaver-email",
		"leaver-hash", "leaver-totp", "token-key-0", "token-key-1", "recovery-code", "site-index", "site", "serial-index", "serial"}
	// Sealed under keys that died with the account or user; plain VACUUM may leave their bytes.
	shredded := []string{"token-name-0", "token-name-1", "device-key", "channel-tag", "readings", "source"}
	c := pgtest.Get(t)
	var dboid string
	if err := s.pool.QueryRow(ctx, `SELECT oid::text FROM pg_database WHERE datname = current_database()`).Scan(&dboid); err != nil {
		t.Fatal(err)
	}
	relations := found(t, filepath.Join(c.Dir, "data", "base", dboid), append(mustBeGone, shredded...), marker)
	for _, m := range mustBeGone {
		if files := relations[m]; len(files) > 0 {
			t.Errorf("%q is still in the database's files after its deletion: %v", m, files)
		}
	}
	for _, m := range shredded {
		if files := relations[m]; len(files) > 0 {
			t.Logf("sealed %q remains in the free space of %v (its key was destroyed)", m, files)
		}
	}
	for m, files := range found(t, filepath.Join(c.Dir, "data", "pg_wal"), append(mustBeGone, shredded...), marker) {
		t.Logf("write-ahead log still holds %q in %v", m, files)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func checkpoint(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.pool.Exec(context.Background(), "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
}

// found returns, for each marker, the files under dir that contain it.
func found(t *testing.T, dir string, markers []string, marker func(string) []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range markers {
			if bytes.Contains(b, marker(m)) {
				out[m] = append(out[m], filepath.Base(p))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
