package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

func newPreflightRun(site store.Site, user, doc string, generated, uploaded time.Time) store.PreflightRun {
	return store.PreflightRun{ID: newID(api.PrefixPreflightRun), AccountID: site.AccountID, SiteID: site.ID, UserID: user,
		TokenID: "tok_0000000000000001", RunIndex: index(doc), GeneratedAt: generated, UploadedAt: uploaded,
		Size: int64(len(doc)), Sealed: sealed(doc)}
}

func runIDs(runs []store.PreflightRun) []string {
	return idsOf(runs, func(r store.PreflightRun) string { return r.ID })
}

func testPreflightRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "preflight@example.com")
	other := seed(t, s, "other-preflight@example.com")
	paris := mustSite(t, s, f, "Paris")
	lyon := mustSite(t, s, f, "Lyon")
	theirs := mustSite(t, s, other, "Paris")

	// Listed by when the checks ran, newest first, whenever they were sent.
	first := newPreflightRun(paris, f.user.ID, "run 1", base, base.Add(3*time.Hour))
	second := newPreflightRun(paris, f.user.ID, "run 2", base.Add(time.Hour), base.Add(time.Hour))
	third := newPreflightRun(paris, f.user.ID, "run 3", base.Add(2*time.Hour), base.Add(2*time.Hour))
	inLyon := newPreflightRun(lyon, f.user.ID, "run 1", base, base) // the same document, another site
	for _, r := range []store.PreflightRun{first, second, third, inLyon} {
		must(t, s.CreatePreflightRun(ctx, r))
	}
	again := newPreflightRun(paris, f.user.ID, "run 2", base.Add(time.Hour), base.Add(4*time.Hour))
	wantErr(t, s.CreatePreflightRun(ctx, again), store.ErrConflict)
	stranger := newPreflightRun(theirs, f.user.ID, "run 9", base, base)
	stranger.AccountID = f.acc.ID // another account's site
	wantErr(t, s.CreatePreflightRun(ctx, stranger), store.ErrNotFound)
	nowhere := newPreflightRun(paris, f.user.ID, "run 8", base, base)
	nowhere.SiteID = "sit_nonenonenonenone"
	wantErr(t, s.CreatePreflightRun(ctx, nowhere), store.ErrNotFound)

	got, err := s.ListPreflightRuns(ctx, store.PreflightFilter{AccountID: f.acc.ID, SiteID: paris.ID})
	must(t, err)
	if ids := runIDs(got); !slices.Equal(ids, []string{third.ID, second.ID, first.ID}) {
		t.Fatalf("runs of Paris = %v, want %v", ids, []string{third.ID, second.ID, first.ID})
	}
	r := got[2]
	if r.AccountID != f.acc.ID || r.SiteID != paris.ID || r.UserID != f.user.ID || r.TokenID != first.TokenID ||
		!bytes.Equal(r.RunIndex, first.RunIndex) || !r.GeneratedAt.Equal(first.GeneratedAt) || !r.UploadedAt.Equal(first.UploadedAt) ||
		r.Size != first.Size || !bytes.Equal(r.Sealed, first.Sealed) {
		t.Fatalf("stored run %+v, want %+v", r, first)
	}

	tests := []struct {
		name   string
		filter store.PreflightFilter
		want   []string
	}{
		{"the latest", store.PreflightFilter{AccountID: f.acc.ID, SiteID: paris.ID, Limit: 1}, []string{third.ID}},
		{"by index", store.PreflightFilter{AccountID: f.acc.ID, SiteID: paris.ID, RunIndex: index("run 2")}, []string{second.ID}},
		{"another site", store.PreflightFilter{AccountID: f.acc.ID, SiteID: lyon.ID}, []string{inLyon.ID}},
		{"another account", store.PreflightFilter{AccountID: other.acc.ID, SiteID: paris.ID}, nil},
		{"nothing sent", store.PreflightFilter{AccountID: other.acc.ID, SiteID: theirs.ID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := s.ListPreflightRuns(ctx, tt.filter)
			must(t, err)
			if got := runIDs(list); !slices.Equal(got, tt.want) {
				t.Fatalf("ListPreflightRuns = %v, want %v", got, tt.want)
			}
		})
	}

	// The purge goes by when the platform received a run, not by the laptop's clock.
	n, err := s.PurgePreflightRuns(ctx, base.Add(90*time.Minute))
	must(t, err)
	if n != 2 {
		t.Fatalf("purge deleted %d runs, want 2 (the second of Paris and Lyon's)", n)
	}
	got, err = s.ListPreflightRuns(ctx, store.PreflightFilter{AccountID: f.acc.ID, SiteID: paris.ID})
	must(t, err)
	if ids := runIDs(got); !slices.Equal(ids, []string{third.ID, first.ID}) {
		t.Fatalf("after the purge: %v", ids)
	}

	// A site's runs go with the site, an account's with the account; others stay.
	theirRun := newPreflightRun(theirs, other.user.ID, "run 1", base, base.Add(time.Hour))
	must(t, s.CreatePreflightRun(ctx, theirRun))
	must(t, s.DeleteSite(ctx, f.acc.ID, lyon.ID))
	wantErr(t, s.CreatePreflightRun(ctx, newPreflightRun(lyon, f.user.ID, "late", base, base.Add(time.Hour))), store.ErrNotFound)
	must(t, s.DeleteAccount(ctx, f.acc.ID))
	if got, err := s.ListPreflightRuns(ctx, store.PreflightFilter{AccountID: f.acc.ID, SiteID: paris.ID}); err != nil || len(got) != 0 {
		t.Fatalf("%d runs survived their account (%v)", len(got), err)
	}
	if got, err := s.ListPreflightRuns(ctx, store.PreflightFilter{AccountID: other.acc.ID, SiteID: theirs.ID}); err != nil || len(got) != 1 {
		t.Fatalf("the other account's runs: %v, %v", runIDs(got), err)
	}
}
