package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
)

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "initial" || LatestSchema() != len(ms) {
		t.Fatalf("migrations = %+v", ms)
	}
}

// Replicas starting together on an empty database: one migrates under the advisory lock, the
// others wait and find the schema current; every one opens.
func TestReplicasMigrateTogether(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	const replicas = 6
	stores := make([]*Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, url, Options{MaxConns: 2})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var applied int
	if err := stores[0].pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	v, err := stores[0].SchemaVersion(ctx)
	if err != nil || v != LatestSchema() || applied != LatestSchema() {
		t.Fatalf("schema version %d (%v), %d migrations recorded; want %d once each", v, err, applied, LatestSchema())
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', now())`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, url, Options{})
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade smartx") {
		t.Fatalf("Open of a newer database: %v, want ErrNewerSchema and an upgrade hint", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Get(t)
	tests := []struct {
		name, url, want string
	}{
		{"not a URL", "postgres://u:secret@[::1", "open database"},
		{"no such database", c.URL("nosuchdb"), "nosuchdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.url, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %q: want it to mention %q and never the password", err, tt.want)
			}
		})
	}
}
