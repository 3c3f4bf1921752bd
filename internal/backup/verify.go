package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Report is what Verify found.
type Report struct {
	Manifest Manifest `json:"manifest"`
	// PlainSize is the size of the decrypted content, in bytes.
	PlainSize int64 `json:"plain_size"`
	// Checked says what was checked beyond decryption and the checksum: "integrity_check" for
	// a SQLite database, "pg_restore --list" for a PostgreSQL archive ("" when pg_restore is not
	// installed, see Note).
	Checked string `json:"checked"`
	// Entries is the number of entries in a PostgreSQL archive's table of contents.
	Entries int `json:"entries,omitempty"`
	// Note says what could not be checked, if anything.
	Note string `json:"note,omitempty"`
}

// Verify checks a backup without restoring it: its manifest, its size and SHA-256, that it
// decrypts and authenticates under key to its last chunk, and that the content is what it
// claims to be (PRAGMA integrity_check on a decrypted copy of a SQLite database, in a private
// temporary directory removed after; pg_restore --list on a PostgreSQL archive, streamed).
func Verify(ctx context.Context, path string, key []byte) (Report, error) {
	o, err := openBackup(path, key)
	if err != nil {
		return Report{}, err
	}
	r := Report{Manifest: o.m}
	switch o.m.Dump {
	case dumpSQLite:
		err = verifySQLite(ctx, o, &r)
	case dumpPostgres:
		err = verifyPostgres(ctx, o, &r)
	default:
		o.f.Close()
		return r, fmt.Errorf("%s: unknown content %q in the manifest: upgrade smartx", path, o.m.Dump)
	}
	r.PlainSize = o.read
	if err != nil {
		return r, fmt.Errorf("verify %s: %w", path, err)
	}
	return r, nil
}

func verifySQLite(ctx context.Context, o *opened, r *Report) error {
	tmp, err := os.MkdirTemp("", "smartx-verify-")
	if err != nil {
		o.f.Close()
		return err
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, "copy.db")
	f, err := os.OpenFile(copyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		o.f.Close()
		return err
	}
	_, err = io.Copy(f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if ferr := o.finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	r.Checked = "integrity_check"
	return integrityCheck(ctx, copyPath)
}

func verifyPostgres(ctx context.Context, o *opened, r *Report) error {
	if _, err := findTool("pg_restore"); err != nil {
		r.Note = "the archive decrypts and authenticates, but its content was not listed: " + err.Error()
		return o.finish()
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		n, err := listArchive(ctx, pr)
		r.Entries = n
		pr.Close() // pg_restore may stop reading before the end: let the writer go on
		done <- err
	}()
	_, copyErr := io.Copy(ignoreClosed{pw}, o)
	pw.Close()
	listErr := <-done
	if err := o.finish(); err != nil {
		return err
	}
	if copyErr != nil {
		return copyErr
	}
	if listErr != nil {
		return listErr
	}
	r.Checked = "pg_restore --list"
	return nil
}

// ignoreClosed writes to a pipe whose reader may have gone: the rest is discarded, so the
// source is still read (and authenticated) to its end.
type ignoreClosed struct{ w *io.PipeWriter }

func (i ignoreClosed) Write(p []byte) (int, error) {
	if _, err := i.w.Write(p); err == io.ErrClosedPipe {
		return len(p), nil
	} else if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Target is where Restore writes: exactly one of the two.
type Target struct {
	// SQLitePath is the database file to create (<data-dir>/smartx.db).
	SQLitePath string
	// PostgresURL is an empty PostgreSQL database.
	PostgresURL string
}

// Restore restores the backup at path into target, which must be empty: a SQLite file that
// does not exist (or is empty), or a PostgreSQL database without tables. The backup is
// authenticated to its end before a SQLite copy is moved into place; a PostgreSQL restore runs
// in one transaction, so a backup found damaged half way leaves the target empty.
func Restore(ctx context.Context, path string, key []byte, target Target) (Manifest, error) {
	if (target.SQLitePath == "") == (target.PostgresURL == "") {
		return Manifest{}, fmt.Errorf("restore: name one target, a SQLite file or a PostgreSQL URL")
	}
	o, err := openBackup(path, key)
	if err != nil {
		return Manifest{}, err
	}
	switch {
	case o.m.Dump == dumpSQLite && target.SQLitePath != "":
		err = restoreSQLite(ctx, o, target.SQLitePath)
	case o.m.Dump == dumpPostgres && target.PostgresURL != "":
		err = restorePostgres(ctx, o, target.PostgresURL)
	default:
		o.f.Close()
		want := "a PostgreSQL database (--database postgres://...)"
		if o.m.Dump == dumpSQLite {
			want = "a data directory (--data-dir)"
		}
		return o.m, fmt.Errorf("restore: %s is a backup of a %s database: restore it into %s", path, o.m.Database, want)
	}
	if err != nil {
		o.f.Close()
		return o.m, fmt.Errorf("restore %s: %w", path, err)
	}
	return o.m, nil
}
