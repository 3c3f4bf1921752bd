package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the driver of integrityCheck
)

// SQLiteDatabase is what Take needs of the SQLite store (*sqlite.Store).
type SQLiteDatabase interface {
	// BackupInto writes a consistent copy of the database into a new file.
	BackupInto(ctx context.Context, path string) error
	SchemaVersion(ctx context.Context) (int, error)
}

// SQLite returns the source of a backup of a SQLite store, which may be serving meanwhile.
func SQLite(db SQLiteDatabase) Source { return sqliteSource{db} }

type sqliteSource struct{ db SQLiteDatabase }

func (s sqliteSource) Kind() string { return KindSQLite }

func (s sqliteSource) SchemaVersion(ctx context.Context) (int, error) { return s.db.SchemaVersion(ctx) }

// dumpSQLite is the Dump of a SQLite backup: a database file.
const dumpSQLite = "sqlite3"

func (s sqliteSource) dump(ctx context.Context, w io.Writer, tmp string) (string, error) {
	copyPath := filepath.Join(tmp, "copy.db")
	if err := s.db.BackupInto(ctx, copyPath); err != nil {
		return "", err
	}
	defer os.Remove(copyPath)
	f, err := os.Open(copyPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return dumpSQLite, err
}

// integrityCheck runs PRAGMA integrity_check on the SQLite database at path.
func integrityCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check found %d problem(s), the first: %s", len(problems), problems[0])
	}
	return nil
}

// restoreSQLite writes the database of a backup to path, which must not exist or be empty.
func restoreSQLite(ctx context.Context, o *opened, path string) error {
	if err := emptySQLiteTarget(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".smartx-restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	_, err = io.Copy(tmp, o)
	if err == nil {
		err = o.finish()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := integrityCheck(ctx, tmp.Name()); err != nil {
		return err
	}
	// Refuse again at the last moment: the target may have been created meanwhile.
	if err := emptySQLiteTarget(path); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ErrTargetNotEmpty: a restore was pointed at a database that holds data.
var ErrTargetNotEmpty = errors.New("the restore target is not empty")

func emptySQLiteTarget(path string) error {
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Size() > 0 {
			return fmt.Errorf("%w: %s exists and holds data; restore into a new data directory, or move it away first", ErrTargetNotEmpty, p)
		}
	}
	return nil
}
