package postgres

import (
	"context"
	"testing"

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
