package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrNoPgDump: PostgreSQL's client tools are not installed.
var ErrNoPgDump = errors.New("PostgreSQL's client tools are not installed")

// Postgres returns the source of a backup of the PostgreSQL database at databaseURL, which
// may be serving meanwhile: pg_dump reads it in one snapshot.
func Postgres(databaseURL string) Source { return postgresSource{url: databaseURL} }

type postgresSource struct{ url string }

func (s postgresSource) Kind() string { return KindPostgres }

func (s postgresSource) SchemaVersion(ctx context.Context) (int, error) {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var v int
	err = conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// dumpPostgres is the Dump of a PostgreSQL backup.
const dumpPostgres = "pg_dump-custom"

// dump runs pg_dump in custom format (compressed; restored with pg_restore) and streams its
// output into w: the dump never reaches the disk in clear.
func (s postgresSource) dump(ctx context.Context, w io.Writer, _ string) (string, error) {
	bin, err := findTool("pg_dump")
	if err != nil {
		return "", err
	}
	cmd, err := pgCommand(ctx, bin, s.url, "--format=custom", "--no-owner", "--no-privileges")
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pg_dump: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return dumpPostgres, nil
}

// findTool finds a PostgreSQL client program: in /usr/lib/postgresql/*/bin, newest first
// (pg_dump must be at least as new as the server), then in PATH.
func findTool(name string) (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
	slices.SortFunc(dirs, func(a, b string) int { return major(b) - major(a) })
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(d, name)); err == nil && fi.Mode()&0o111 != 0 {
			return filepath.Join(d, name), nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s not found in /usr/lib/postgresql/*/bin or PATH (on Debian or Ubuntu: apt-get install postgresql-client)", ErrNoPgDump, name)
}

// pgCommand runs a PostgreSQL client program against the database at databaseURL. A password
// in the URL goes to the program through PGPASSWORD, never on its command line, where any user
// of the machine could read it.
func pgCommand(ctx context.Context, bin, databaseURL string, args ...string) (*exec.Cmd, error) {
	dbArg, password, err := splitPassword(databaseURL)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, append(args, "--dbname="+dbArg)...)
	cmd.Env = os.Environ()
	if password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
	}
	return cmd, nil
}

// splitPassword takes the password out of a postgres:// URL; other connection strings pass
// through as they are.
func splitPassword(databaseURL string) (string, string, error) {
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return databaseURL, "", nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", "", errors.New("invalid database URL (check its syntax; the password is not shown)")
	}
	q := u.Query()
	password := q.Get("password")
	q.Del("password")
	u.RawQuery = q.Encode()
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			password = p
			u.User = url.User(u.User.Username())
		}
	}
	return u.String(), password, nil
}

// restorePostgres restores a pg_dump archive into the empty database at databaseURL.
func restorePostgres(ctx context.Context, o *opened, databaseURL string) error {
	if err := emptyPostgresTarget(ctx, databaseURL); err != nil {
		return err
	}
	bin, err := findTool("pg_restore")
	if err != nil {
		return err
	}
	// One transaction: a restore that fails half way leaves the target as empty as it was.
	cmd, err := pgCommand(ctx, bin, databaseURL, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction")
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = o, &stderr
	runErr := cmd.Run()
	// The archive is authenticated to its end even when pg_restore stopped reading early.
	finishErr := o.finish()
	if finishErr != nil {
		return finishErr
	}
	if runErr != nil {
		return fmt.Errorf("pg_restore: %v: %s", runErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// emptyPostgresTarget refuses a database that has any table outside the system schemas.
func emptyPostgresTarget(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect to the restore target: %w", err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`).Scan(&tables); err != nil {
		return fmt.Errorf("inspect the restore target: %w", err)
	}
	if tables > 0 {
		return fmt.Errorf("%w: the database has %d table(s) or sequence(s); restore into a new, empty database (createdb)", ErrTargetNotEmpty, tables)
	}
	return nil
}

// listArchive runs pg_restore --list on a decrypted archive, which reads its whole table of
// contents: a check that it is a pg_dump archive pg_restore can use.
func listArchive(ctx context.Context, r io.Reader) (entries int, err error) {
	bin, err := findTool("pg_restore")
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, bin, "--list")
	var out, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &out, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("pg_restore --list: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, ";") {
			entries++
		}
	}
	return entries, nil
}
