package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"time"
)

// BackupInto writes a consistent copy of the database into a new file at path, while the
// store is in use: VACUUM INTO reads one snapshot (a read transaction, which WAL mode lets run
// beside the writer) and writes a compact copy with no free pages, so nothing a deletion left
// in the database's free space reaches the copy. path must not exist; the copy is created
// owner-only.
func (s *Store) BackupInto(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("back up the database: %w", err)
	}
	f.Close()
	// VACUUM INTO wants an empty file or none; it keeps the mode of the one created above. It
	// runs on a connection of its own: the readers are query-only, which VACUUM INTO refuses,
	// and the writer must stay free for the server.
	db, err := sql.Open("sqlite", s.path+"?_pragma=busy_timeout("+strconv.Itoa(int(busyTimeout/time.Millisecond))+")")
	if err == nil {
		_, err = db.ExecContext(ctx, `VACUUM INTO ?`, path)
		db.Close()
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("back up the database into %s: %w", path, err)
	}
	return nil
}
