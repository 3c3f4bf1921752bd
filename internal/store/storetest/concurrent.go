package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// OpenPair returns two stores on one new empty database, as two server processes sharing it
// see it; RunShared closes them at the end of each test.
type OpenPair func(t *testing.T) (a, b store.Store)

// RunShared runs the contract tests of two processes sharing one database.
func RunShared(t *testing.T, open OpenPair) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"concurrent uploads of one file through two processes store it once", testConcurrentStoreFile},
		{"a revocation by one process is seen by the other's next epoch read", testSharedEpoch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() { a.Close(); b.Close() })
			tt.fn(t, a, b)
		})
	}
}

// testConcurrentStoreFile races uploads of the same files through two processes.
func testConcurrentStoreFile(t *testing.T, a, b store.Store) {
	testStoreFileRace(t, []store.Store{a, b})
}

// testSameStoreFileRace races uploads of the same files through one store's connections.
func testSameStoreFileRace(t *testing.T, s store.Store) {
	testStoreFileRace(t, []store.Store{s})
}

// testStoreFileRace uploads the same file of one device from several goroutines over the given
// stores at once: exactly one succeeds, every other gets ErrConflict (never another error),
// and the file, its segments and the device's totals are stored once.
func testStoreFileRace(t *testing.T, stores []store.Store) {
	ctx := context.Background()
	s := stores[0]
	f := seed(t, s, "race@example.com")
	site := mustSite(t, s, f, "Plant")
	d := mustDevice(t, s, site, "SX-RACE")
	const uploads = 8
	for seq := uint64(1); seq <= 3; seq++ {
		df := fileOf(d, seq, base.Add(time.Duration(seq)*time.Hour))
		chans := channelsAt(df.FirstReading, 3)
		start := make(chan struct{})
		errs := make([]error, uploads)
		var wg sync.WaitGroup
		for i := range uploads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = stores[i%len(stores)].StoreFile(ctx, f.acc.ID, d.ID, seq, func(sink store.SegmentSink) (store.DataFile, error) {
					for _, c := range chans {
						if err := sink.Add(c.segment()); err != nil {
							return store.DataFile{}, err
						}
					}
					// Decoding takes time on a real server: widen the window in which a
					// second upload of the same file could slip through.
					time.Sleep(2 * time.Millisecond)
					return df, nil
				})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("file %d, upload %d: %v, want success or ErrConflict", seq, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("file %d uploaded %d times at once: %d succeeded, want exactly 1", seq, uploads, ok)
		}
	}
	for i, st := range stores {
		dev, err := st.Device(ctx, f.acc.ID, d.ID)
		must(t, err)
		if dev.Stats.Files != 3 || dev.Stats.Readings != 18 || dev.Stats.LastSequence != 3 {
			t.Fatalf("store %d: device totals after 3 files uploaded %d times each: %+v", i, uploads, dev.Stats)
		}
		got := scanAll(t, st, store.SegmentQuery{AccountID: f.acc.ID, DeviceID: d.ID, From: 0, To: base.Add(24 * time.Hour).UnixMilli()})
		if len(got) != 6 {
			t.Fatalf("store %d: %d segments for 3 files of 2 channels, want 6", i, len(got))
		}
	}
}

// testSharedEpoch: every revocation committed through b moves the epoch that a's very next
// RevocationEpoch call returns, with no delay allowed.
func testSharedEpoch(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	f := seed(t, b, "shared-epoch@example.com")
	last, err := a.RevocationEpoch(ctx)
	must(t, err)
	for i := range 50 {
		tok := newToken(f, api.TokenKindAPI, base)
		must(t, b.CreateToken(ctx, tok))
		if _, err := b.RevokeToken(ctx, f.acc.ID, tok.ID, base); err != nil {
			t.Fatal(err)
		}
		now, err := a.RevocationEpoch(ctx)
		must(t, err)
		if now == last {
			t.Fatalf("revocation %d through one process: the other still reads epoch %d", i, now)
		}
		last = now
	}
}
