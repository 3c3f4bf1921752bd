package pgtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// Two databases of one cluster are separate, empty, and reachable over loopback.
func TestNewDatabase(t *testing.T) {
	ctx := context.Background()
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	var n int
	if err := other.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a table of one database shows in another: %d, %v", n, err)
	}
	var addr string
	if err := conn.QueryRow(ctx, `SELECT host(inet_server_addr())`).Scan(&addr); err != nil || addr != "127.0.0.1" {
		t.Fatalf("server address %q, %v; want loopback", addr, err)
	}
}

func TestClusterDirectory(t *testing.T) {
	c := Get(t)
	if _, err := os.Stat(c.Dir + "/data/PG_VERSION"); err != nil {
		t.Fatalf("no data directory in %s: %v", c.Dir, err)
	}
	if c.Version == "" {
		t.Error("the server version was not read")
	}
}

// Without PostgreSQL, the error names the package to install.
func TestFindBinDirMissing(t *testing.T) {
	defer func(old string) { debianBinDirs = old }(debianBinDirs)
	debianBinDirs = t.TempDir() + "/*/bin"
	t.Setenv("PATH", t.TempDir())
	_, err := FindBinDir()
	var missing *MissingError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Fatalf("FindBinDir without PostgreSQL: %v", err)
	}
}
