package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/storetest"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "smartx.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// Two stores on one file are the server and a second process sharing the database.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "smartx.db")
		a, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(context.Background(), path)
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		return a, b
	})
}

func TestPragmas(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "5000"},
		{"secure_delete", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := s.w.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("writer PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
			}
			if err := s.r.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("reader PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestMigrationsAreAppliedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smartx.db")
	ctx := context.Background()
	for range 2 { // the second open finds the schema current
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ms, _ := loadMigrations()
		if v != len(ms) {
			t.Fatalf("schema version %d, want %d", v, len(ms))
		}
		s.Close()
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smartx.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "upgrade smartx") {
		t.Fatalf("Open of a newer database: %v, want an upgrade error", err)
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "initial" {
		t.Fatalf("migrations = %+v", ms)
	}
}

// Two stores on one file stand for the server and an operator's offline command: their writes
// wait for each other (busy timeout, IMMEDIATE transactions) instead of failing.
func TestTwoProcessesShareTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smartx.db")
	ctx := context.Background()
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	errs := make(chan error, 2)
	for i, s := range []*Store{a, b} {
		go func() {
			for j := range 50 {
				_, err := s.SetMetaIfAbsent(ctx, fmt.Sprintf("k%d-%d", i, j), []byte("v"))
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	before, _ := a.RevocationEpoch(ctx)
	if _, err := b.RevokeUserTokens(ctx, "acc_x", "usr_x", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	after, _ := a.RevocationEpoch(ctx)
	if after == before {
		t.Fatal("a revocation by one process did not move the epoch the other sees")
	}
}

func TestOpenRejectsURIMetacharacters(t *testing.T) {
	for _, name := range []string{"", "a?b.db", "a#b.db"} {
		if _, err := Open(context.Background(), name); err == nil {
			t.Errorf("Open(%q) succeeded", name)
		}
	}
}

// BenchmarkRevocationEpoch measures the query every authenticated request makes.
func BenchmarkRevocationEpoch(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "smartx.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.RevocationEpoch(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
