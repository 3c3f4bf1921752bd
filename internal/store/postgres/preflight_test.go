package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

// Replicas purge the preflight runs on their own schedules, under the audit purge's lock:
// while one purges, another leaves the rows to it.
func TestPurgePreflightRunsRunsOnce(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	must(s.CreateAccount(ctx, store.Account{ID: "acc_0000000000000001", SealedName: []byte("n"), DataKey: []byte("k"), CreatedAt: old}))
	must(s.CreateSite(ctx, store.Site{ID: "sit_0000000000000001", AccountID: "acc_0000000000000001", NameIndex: []byte("i"),
		Sealed: []byte("s"), CreatedAt: old, UpdatedAt: old}))
	must(s.CreatePreflightRun(ctx, store.PreflightRun{ID: "pfr_0000000000000001", AccountID: "acc_0000000000000001",
		SiteID: "sit_0000000000000001", UserID: "usr_0000000000000001", TokenID: "tok_0000000000000001", RunIndex: []byte("r"),
		GeneratedAt: old, UploadedAt: old, Size: 1, Sealed: []byte("d")}))

	other, err := s.pool.Begin(ctx) // another replica's purge, in progress
	must(err)
	defer other.Rollback(ctx)
	_, err = other.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(purgeLock))
	must(err)
	n, err := s.PurgePreflightRuns(ctx, time.Now())
	if err != nil || n != 0 {
		t.Fatalf("purge while another replica purges: %d rows, %v; want 0, nil", n, err)
	}
	must(other.Rollback(ctx))
	if n, err = s.PurgePreflightRuns(ctx, time.Now()); err != nil || n != 1 {
		t.Fatalf("purge: %d rows, %v; want 1", n, err)
	}
}
