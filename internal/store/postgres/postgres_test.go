package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
	"github.com/smart-impulse/smartx/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openTemp opens a store on a new empty database of the package's throwaway cluster.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// Two stores on one database are two server processes (replicas) sharing it.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.NewDatabase(t)
		a, err := Open(context.Background(), url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(context.Background(), url, Options{})
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		return a, b
	})
}

// Replicas purge the audit log on their own schedules: while one purges, another finds the
// lock taken and leaves the rows to it, so they are deleted once.
func TestPurgeAuditRunsOnce(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AppendAudit(ctx, []store.AuditEntry{{Time: old, RequestID: "req_a", Method: "GET", Route: "GET /v1/health", Status: 200, Count: 1},
		{Time: old, RequestID: "req_b", Method: "GET", Route: "GET /v1/health", Status: 200, Count: 1}}))

	other, err := s.pool.Begin(ctx) // another replica's purge, in progress
	must(err)
	defer other.Rollback(ctx)
	_, err = other.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(purgeLock))
	must(err)
	n, err := s.PurgeAudit(ctx, time.Now(), time.Now())
	if err != nil || n != 0 {
		t.Fatalf("purge while another replica purges: %d rows, %v; want 0, nil", n, err)
	}
	must(other.Rollback(ctx))
	if n, err = s.PurgeAudit(ctx, time.Now(), time.Now()); err != nil || n != 2 {
		t.Fatalf("purge: %d rows, %v; want 2", n, err)
	}
}
