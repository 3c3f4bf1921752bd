package postgres

import (
	"context"
	"testing"

	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/storetest"
)

// The same benchmarks as internal/store/sqlite's, for docs/benchmarks.md.

func BenchmarkIngest(b *testing.B) {
	for _, mode := range []struct {
		name string
		copy bool
	}{{"insert", false}, {"copy", true}} {
		open := func(b *testing.B) store.Store {
			s := openTemp(b)
			s.ingestCopy = mode.copy
			b.Cleanup(func() { s.Close() })
			return s
		}
		b.Run(mode.name+"/1-device", func(b *testing.B) { storetest.BenchIngest(b, open, 1) })
		b.Run(mode.name+"/4-devices", func(b *testing.B) { storetest.BenchIngest(b, open, 4) })
	}
}

func BenchmarkScanMonth(b *testing.B) {
	storetest.BenchScanMonth(b, func(b *testing.B) store.Store {
		s := openTemp(b)
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// BenchmarkRevocationEpoch measures the read every authenticated request makes: serially (one
// request at a time: a round trip each) and from many goroutines (requests share reads).
func BenchmarkRevocationEpoch(b *testing.B) {
	s := openTemp(b)
	defer s.Close()
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for range b.N {
			if _, err := s.RevocationEpoch(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(32) // a server's concurrent requests
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.RevocationEpoch(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
