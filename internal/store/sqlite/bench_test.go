package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/storetest"
)

// The same benchmarks as internal/store/postgres's, for docs/benchmarks.md.

func openBench(b *testing.B) store.Store {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "smartx.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkIngest(b *testing.B) {
	b.Run("1-device", func(b *testing.B) { storetest.BenchIngest(b, openBench, 1) })
	b.Run("4-devices", func(b *testing.B) { storetest.BenchIngest(b, openBench, 4) })
}

func BenchmarkScanMonth(b *testing.B) { storetest.BenchScanMonth(b, openBench) }
