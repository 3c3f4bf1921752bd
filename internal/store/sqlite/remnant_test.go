package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// rawFiles returns the bytes of the database and everything SQLite keeps beside it.
func rawFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	matches, _ := filepath.Glob(path + "*")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(m)] = b
	}
	return out
}

// A deleted account's and a deleted user's rows leave nothing behind in the database file or
// its write-ahead log, as they were before any checkpoint: the wrapped data key (which
// crypto-shreds whatever a copy still holds sealed under it), sealed values and indexes.
func TestDeletionLeavesNoRemnant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smartx.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := func(what string) []byte { return []byte("REMNANT-" + what + "-7f3a9c") }
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	doomed := store.Account{ID: "acc_doomeddoomeddoom", SealedName: marker("account-name"), DataKey: marker("wrapped-data-key"), CreatedAt: now}
	kept := store.Account{ID: "acc_keptkeptkeptkept", SealedName: []byte("kept-name"), DataKey: []byte("kept-key"), CreatedAt: now}
	for _, a := range []store.Account{doomed, kept} {
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	users := []store.User{
		{ID: "usr_doomeddoomeddoom", AccountID: doomed.ID, EmailIndex: marker("email-index"), SealedEmail: marker("email"), Role: api.RoleOwner,
			PasswordHash: string(marker("password-hash")), CreatedAt: now, UpdatedAt: now},
		{ID: "usr_leavingleavingle", AccountID: kept.ID, EmailIndex: marker("leaver-index"), SealedEmail: marker("leaver-email"), Role: api.RoleAnalyst,
			PasswordHash: string(marker("leaver-hash")), TOTP: store.UserTOTP{SealedSecret: marker("leaver-totp")}, CreatedAt: now, UpdatedAt: now},
	}
	for _, u := range users {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	site := store.Site{ID: "sit_doomeddoomeddoom", AccountID: doomed.ID, NameIndex: marker("site-index"), Sealed: marker("site"), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	dev := store.Device{ID: "dev_doomeddoomeddoom", AccountID: doomed.ID, SiteID: site.ID, SerialIndex: marker("serial-index"), Sealed: marker("device"),
		CredentialSalt: []byte("s"), CredentialHash: []byte("h"), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateDevice(ctx, dev, store.DeviceKey{DeviceID: dev.ID, KeyID: 1, SealedKey: marker("device-key"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	err = s.StoreFile(ctx, doomed.ID, dev.ID, 1, func(sink store.SegmentSink) (store.DataFile, error) {
		err := sink.Add(&store.Segment{ChannelTag: marker("channel-tag"), TMin: 1, TMax: 2, Count: 2, Sealed: marker("readings")})
		return store.DataFile{DeviceID: dev.ID, Sequence: 1, SHA256: []byte("x"), CreatedAt: now, ReceivedAt: now}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, []store.AuditEntry{{Time: now, RequestID: "req_1", AccountID: doomed.ID, Method: "GET", Route: "r",
		Status: 200, SealedSource: marker("source")}}); err != nil {
		t.Fatal(err)
	}
	// A preflight run is several kilobytes: its end lies in an overflow page.
	run := store.PreflightRun{ID: "pfr_doomeddoomeddoom", AccountID: doomed.ID, SiteID: site.ID, UserID: users[0].ID, TokenID: "tok_1",
		RunIndex: marker("run-index"), GeneratedAt: now, UploadedAt: now, Size: 9000,
		Sealed: append(bytes.Repeat([]byte{0x5a}, 9000), marker("preflight-run")...)}
	if err := s.CreatePreflightRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	before := rawFiles(t, path)
	found := map[string]bool{}
	for _, b := range before {
		for _, m := range []string{"readings", "preflight-run"} {
			found[m] = found[m] || bytes.Contains(b, marker(m))
		}
	}
	if !found["readings"] || !found["preflight-run"] {
		t.Fatal("the markers are not in the files before the deletion: the test proves nothing")
	}

	if err := s.DeleteAccount(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, kept.ID, users[1].ID); err != nil {
		t.Fatal(err)
	}
	for name, b := range rawFiles(t, path) {
		if i := bytes.Index(b, []byte("REMNANT-")); i >= 0 {
			end := min(len(b), i+40)
			t.Errorf("%s still holds %q after the deletions", name, b[i:end])
		}
	}
	if _, err := s.Account(ctx, kept.ID); err != nil {
		t.Fatalf("the other account is gone: %v", err)
	}
}

func TestFilesAreOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not apply on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "smartx.db")
	// A database left readable by others (an older smartx, a copy) is tightened at open.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetMetaIfAbsent(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	matches, _ := filepath.Glob(path + "*")
	if len(matches) < 2 {
		t.Fatalf("files: %v, want the database and its WAL", matches)
	}
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %04o, want owner-only", filepath.Base(m), perm)
		}
	}
}

// A database of schema 2 (customer data in clear) that holds accounts is refused with
// ErrUnsealedDatabase, untouched; an empty one is brought up to date.
func TestUnsealedDatabaseIsRefused(t *testing.T) {
	ctx := context.Background()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	writeV2 := func(t *testing.T, withAccount bool) string {
		path := filepath.Join(t.TempDir(), "smartx.db")
		db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
			ms[0].SQL, ms[1].SQL, `INSERT INTO schema_migrations VALUES (1, 'initial', 0), (2, 'devices', 0)`}
		if withAccount {
			stmts = append(stmts, `INSERT INTO accounts (id, name, data_key, created_at) VALUES ('acc_x', 'Acme', x'00', 0)`)
		}
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	t.Run("with data", func(t *testing.T) {
		path := writeV2(t, true)
		_, err := Open(ctx, path)
		if !errors.Is(err, ErrUnsealedDatabase) {
			t.Fatalf("Open of a schema-2 database with an account: %v, want ErrUnsealedDatabase", err)
		}
		db, _ := sql.Open("sqlite", path)
		defer db.Close()
		var name string
		if err := db.QueryRowContext(ctx, `SELECT name FROM accounts`).Scan(&name); err != nil || name != "Acme" {
			t.Fatalf("the refused database was changed: %q, %v", name, err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		s, err := Open(ctx, writeV2(t, false))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if v, _ := s.SchemaVersion(ctx); v != len(ms) {
			t.Fatalf("schema %d, want %d", v, len(ms))
		}
	})
}
