package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/backup"
	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/postgres"
	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var key = bytes.Repeat([]byte{42}, backup.KeySize)

// fixture is an account with one device, ready to upload.
type fixture struct {
	accountID, deviceID string
}

func seed(t *testing.T, s store.Store) fixture {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	f := fixture{accountID: "acc_backupbackupback", deviceID: "dev_backupbackupback"}
	must(t, s.CreateAccount(ctx, store.Account{ID: f.accountID, SealedName: []byte("sealed"), DataKey: []byte("wrapped"), CreatedAt: now}))
	must(t, s.CreateUser(ctx, store.User{ID: "usr_backupbackupback", AccountID: f.accountID, EmailIndex: []byte("idx"), SealedEmail: []byte("sealed"),
		Role: api.RoleOwner, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}))
	must(t, s.CreateSite(ctx, store.Site{ID: "sit_backupbackupback", AccountID: f.accountID, NameIndex: []byte("n"), Sealed: []byte("s"), CreatedAt: now, UpdatedAt: now}))
	must(t, s.CreateDevice(ctx, store.Device{ID: f.deviceID, AccountID: f.accountID, SiteID: "sit_backupbackupback", SerialIndex: []byte("sn"),
		Sealed: []byte("s"), CredentialSalt: []byte("s"), CredentialHash: []byte("h"), CreatedAt: now, UpdatedAt: now},
		store.DeviceKey{DeviceID: f.deviceID, KeyID: 1, SealedKey: []byte("k"), CreatedAt: now}))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// upload stores file seq of the fixture's device: 7 channels of an hour of readings.
func upload(s store.Store, f fixture, seq uint64) error {
	t0 := int64(seq) * 3_600_000
	return s.StoreFile(context.Background(), f.accountID, f.deviceID, seq, func(sink store.SegmentSink) (store.DataFile, error) {
		for c := range 7 {
			times, values := make([]int64, 60), make([]int64, 60)
			for i := range times {
				times[i], values[i] = t0+int64(i)*60_000, int64(c*1000+i)
			}
			sg := &store.Segment{ChannelIndex: c, ChannelTag: []byte{byte(c)}, TMin: times[0], TMax: times[59], Count: 60,
				Sealed: store.AppendSegment(nil, times, values)}
			if err := sink.Add(sg); err != nil {
				return store.DataFile{}, err
			}
		}
		return store.DataFile{DeviceID: f.deviceID, Sequence: seq, SHA256: []byte(fmt.Sprint(seq)), Size: 1, KeyID: 1, Readings: 420,
			FirstReading: t0, LastReading: t0 + 59*60_000, Interval: time.Minute, ReceivedAt: time.UnixMilli(t0).UTC()}, nil
	})
}

// roundTrip backs up s while a device uploads through it, restores the backup with restore,
// and checks that the restored database holds every file acknowledged before the backup
// started, and is consistent (the device's totals count the files it holds).
func roundTrip(t *testing.T, s store.Store, src backup.Source, restore func(t *testing.T, path string) store.Store) {
	ctx := context.Background()
	f := seed(t, s)
	var mu sync.Mutex
	var acked []uint64
	stop := make(chan struct{})
	ingestErr := make(chan error, 1)
	go func() {
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				ingestErr <- nil
				return
			default:
			}
			if err := upload(s, f, seq); err != nil {
				ingestErr <- err
				return
			}
			mu.Lock()
			acked = append(acked, seq)
			mu.Unlock()
		}
	}()
	// Some files first, then the backup while uploads go on.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 50 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	before := append([]uint64{}, acked...)
	mu.Unlock()
	dir := t.TempDir()
	m, err := backup.Take(ctx, src, backup.Options{Dir: dir, Key: key, SmartxVersion: "test"})
	close(stop)
	must(t, err)
	must(t, <-ingestErr)
	mu.Lock()
	t.Logf("%d files acknowledged before the backup started, %d by the end of the uploads", len(before), len(acked))
	mu.Unlock()

	path := filepath.Join(dir, m.File)
	report, err := backup.Verify(ctx, path, key)
	must(t, err)
	if report.Checked == "" || m.SchemaVersion == 0 || m.SmartxVersion != "test" || m.KeyID != backup.KeyID(key) {
		t.Fatalf("manifest %+v, report %+v", m, report)
	}
	restored := restore(t, path)
	defer restored.Close()
	for _, seq := range before {
		if _, err := restored.DataFile(ctx, f.accountID, f.deviceID, seq); err != nil {
			t.Fatalf("file %d was acknowledged before the backup started, but the restored database lacks it: %v", seq, err)
		}
	}
	var files int64
	must(t, restored.ListDataFiles(ctx, f.accountID, f.deviceID, func(store.DataFile) error { files++; return nil }))
	dev, err := restored.Device(ctx, f.accountID, f.deviceID)
	must(t, err)
	if dev.Stats.Files != files || dev.Stats.Readings != 420*files {
		t.Fatalf("restored device totals %+v for %d files: the copy is not one consistent snapshot", dev.Stats, files)
	}
}

func TestRoundTripSQLite(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "smartx.db"))
	must(t, err)
	defer s.Close()
	roundTrip(t, s, backup.SQLite(s), func(t *testing.T, path string) store.Store {
		target := filepath.Join(t.TempDir(), "restored", "smartx.db")
		_, err := backup.Restore(ctx, path, key, backup.Target{SQLitePath: target})
		must(t, err)
		// A second restore into the now populated target is refused.
		if _, err := backup.Restore(ctx, path, key, backup.Target{SQLitePath: target}); !errors.Is(err, backup.ErrTargetNotEmpty) {
			t.Fatalf("restore into a populated file: %v, want ErrTargetNotEmpty", err)
		}
		if _, err := backup.Restore(ctx, path, key, backup.Target{PostgresURL: "postgres://127.0.0.1:1/x"}); err == nil {
			t.Fatal("a SQLite backup was restored into PostgreSQL")
		}
		r, err := sqlite.Open(ctx, target)
		must(t, err)
		return r
	})
}

func TestRoundTripPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(ctx, url, postgres.Options{})
	must(t, err)
	defer s.Close()
	roundTrip(t, s, backup.Postgres(url), func(t *testing.T, path string) store.Store {
		if _, err := backup.Restore(ctx, path, key, backup.Target{PostgresURL: url}); !errors.Is(err, backup.ErrTargetNotEmpty) {
			t.Fatalf("restore into the live database: %v, want ErrTargetNotEmpty", err)
		}
		target := pgtest.NewDatabase(t)
		_, err := backup.Restore(ctx, path, key, backup.Target{PostgresURL: target})
		must(t, err)
		r, err := postgres.Open(ctx, target, postgres.Options{})
		must(t, err)
		return r
	})
}

// Verify tells a damaged backup, a wrong key and a missing manifest apart.
func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "smartx.db"))
	must(t, err)
	defer s.Close()
	dir := t.TempDir()
	m, err := backup.Take(ctx, backup.SQLite(s), backup.Options{Dir: dir, Key: key})
	must(t, err)
	path := filepath.Join(dir, m.File)
	good, err := os.ReadFile(path)
	must(t, err)

	if _, err := backup.Verify(ctx, path, bytes.Repeat([]byte{1}, backup.KeySize)); !errors.Is(err, backup.ErrWrongKey) {
		t.Errorf("another key: %v, want ErrWrongKey", err)
	}
	damaged := append([]byte{}, good...)
	damaged[len(damaged)-100] ^= 1
	must(t, os.WriteFile(path, damaged, 0o600))
	if _, err := backup.Verify(ctx, path, key); !errors.Is(err, backup.ErrCorrupt) {
		t.Errorf("a flipped bit: %v, want ErrCorrupt", err)
	}
	must(t, os.WriteFile(path, good[:len(good)-1], 0o600))
	if _, err := backup.Verify(ctx, path, key); !errors.Is(err, backup.ErrCorrupt) {
		t.Errorf("truncated: %v, want ErrCorrupt", err)
	}
	must(t, os.WriteFile(path, good, 0o600))
	must(t, os.Remove(backup.ManifestPath(path)))
	if _, err := backup.Verify(ctx, path, key); err == nil {
		t.Error("a backup without its manifest verified")
	}
	list, err := backup.List(dir)
	if err != nil || len(list) != 0 {
		t.Fatalf("List without manifests: %v, %v", list, err)
	}
}
