package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/backup"
	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
	"github.com/smart-impulse/smartx/internal/ui"
)

// serverBackupOptions are the flags of `smartx server backup` and its verify subcommand.
type serverBackupOptions struct {
	data    *serverDataFlags
	to      string
	keep    string
	keyFile string
}

func newServerBackupCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	opts := &serverBackupOptions{data: data}
	cmd := &cobra.Command{
		Use:   "backup --to DIR",
		Short: "Take an encrypted backup of the server's database, while it runs",
		Long: `Take an online, consistent backup of the server's database into DIR, encrypted, with a
manifest beside it (time, database, schema version, size, SHA-256, key id).

The server may keep running: SQLite is copied with VACUUM INTO, PostgreSQL with pg_dump
(install postgresql-client where smartx runs), each from one snapshot. The backup is encrypted
as it is written (AES-256-GCM) under a key derived from the server's master key, or under the
key in --backup-key-file (64 hex characters: openssl rand -hex 32), so a stolen backup is
useless without it. --keep then removes older backups of DIR by a retention rule.`,
		Example: `  # a daily backup, keeping 7 daily and 4 weekly ones
  smartx server backup --data-dir /var/lib/smartx --master-key-file /etc/smartx/master.key \
    --to /var/backups/smartx --keep daily=7,weekly=4

  # check a backup without restoring it
  smartx server backup verify /var/backups/smartx/smartx-sqlite-20261202T020000123Z.sxbk --master-key-file /etc/smartx/master.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServerBackup(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.to, "to", "", "directory that receives the backup and its manifest")
	cmd.Flags().StringVar(&opts.keep, "keep", "", "after the backup, remove older ones by this rule, e.g. daily=7,weekly=4 (last, hourly, daily, weekly, monthly)")
	cmd.PersistentFlags().StringVar(&opts.keyFile, "backup-key-file", "", "file holding the backup key, 64 hex characters (default: derived from the master key)")
	cmd.AddCommand(newServerBackupVerifyCmd(f, opts))
	return cmd
}

func runServerBackup(ctx context.Context, f *Factory, opts *serverBackupOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	if opts.to == "" {
		return usageErrorf("--to is required: the directory that receives the backup")
	}
	var policy backup.Policy
	if opts.keep != "" {
		if policy, err = backup.ParsePolicy(opts.keep); err != nil {
			return &usageError{err: err}
		}
	}
	db, err := openServerBackupDatabase(ctx, f, opts.data, opts.keyFile, false)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := backup.Take(ctx, db.Source, backup.Options{Dir: opts.to, Key: db.Key, SmartxVersion: buildinfo.Version(), Now: f.Now})
	if err != nil {
		return err
	}
	var pruned []backup.Manifest
	if opts.keep != "" {
		if pruned, err = backup.Prune(opts.to, policy); err != nil {
			return fmt.Errorf("the backup was written (%s), but pruning older ones failed: %w", filepath.Join(opts.to, m.File), err)
		}
	}
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, struct {
			Backup backup.Manifest   `json:"backup"`
			Pruned []backup.Manifest `json:"pruned"`
		}{m, append([]backup.Manifest{}, pruned...)})
	}
	fmt.Fprintf(f.IO.Out, "%s backup written: %s (%s, %s)\n", m.Database, filepath.Join(opts.to, m.File), ui.HumanBytes(m.Size),
		ui.HumanDuration(time.Duration(m.Duration)*time.Millisecond))
	for _, p := range pruned {
		fmt.Fprintf(f.IO.Out, "removed by --keep %s: %s\n", policy, p.File)
	}
	return nil
}

func newServerBackupVerifyCmd(f *Factory, opts *serverBackupOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "Check that a backup decrypts and is intact, without restoring it",
		Long: `Check a backup without restoring it: its manifest, its size and SHA-256, that every chunk
decrypts and authenticates under the backup key, and that the content is sound (SQLite:
PRAGMA integrity_check on a decrypted copy in a private temporary directory, removed after;
PostgreSQL: pg_restore --list of the archive, when pg_restore is installed).`,
		Example: `  smartx server backup verify /var/backups/smartx/smartx-sqlite-20261202T020000123Z.sxbk --master-key-file /etc/smartx/master.key
  smartx server backup verify backup.sxbk --backup-key-file backup.key -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("name the backup to verify: smartx server backup verify FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
			if err != nil {
				return &usageError{err: err}
			}
			db, err := openServerBackupDatabase(cmd.Context(), f, opts.data, opts.keyFile, true)
			if err != nil {
				return err
			}
			defer db.Close()
			r, err := backup.Verify(cmd.Context(), args[0], db.Key)
			if err != nil {
				return backupError(err)
			}
			if format == ui.FormatJSON {
				return ui.WriteJSON(f.IO.Out, r)
			}
			checked := r.Checked
			if checked == "" {
				checked = "decryption only"
			}
			fmt.Fprintf(f.IO.Out, "ok: %s, %s backup of %s (schema %d), %s encrypted, %s decrypted, checked: %s\n", args[0], r.Manifest.Database,
				r.Manifest.CreatedAt.Format(time.RFC3339), r.Manifest.SchemaVersion, ui.HumanBytes(r.Manifest.Size), ui.HumanBytes(r.PlainSize), checked)
			if r.Note != "" {
				fmt.Fprintf(f.IO.ErrOut, "note: %s\n", r.Note)
			}
			return nil
		},
	}
}

func newServerRestoreCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "restore FILE (--data-dir DIR | --database URL)",
		Short: "Restore a backup into an empty data directory or database",
		Long: `Restore a backup taken by 'smartx server backup' into an empty target: a data directory
without a database (--data-dir), or an empty PostgreSQL database (--database postgres://...,
made with createdb). A target that holds data is refused. The backup is authenticated to its
end before a SQLite database is moved into place; a PostgreSQL restore runs in one
transaction, so a damaged backup leaves the target empty. Start the server on the target
with the same master key as the backed-up server's.`,
		Example: `  smartx server restore /var/backups/smartx/smartx-sqlite-20261202T020000123Z.sxbk \
    --data-dir /var/lib/smartx-restored --master-key-file /etc/smartx/master.key`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("name the backup to restore: smartx server restore FILE --data-dir DIR")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if (data.dataDir == "") == (data.database == "") {
				return usageErrorf("name one target: --data-dir DIR (SQLite) or --database postgres://... (an empty database)")
			}
			db, err := openServerBackupDatabase(cmd.Context(), f, data, keyFile, true)
			if err != nil {
				return err
			}
			defer db.Close()
			m, err := backup.Restore(cmd.Context(), args[0], db.Key, backup.Target{SQLitePath: db.SQLitePath, PostgresURL: db.PostgresURL})
			if err != nil {
				return backupError(err)
			}
			target := db.SQLitePath
			if target == "" {
				target = "the PostgreSQL database"
			}
			fmt.Fprintf(f.IO.Out, "restored the %s backup of %s (schema %d) into %s\n", m.Database, m.CreatedAt.Format(time.RFC3339), m.SchemaVersion, target)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "backup-key-file", "", "file holding the backup key, if the backup was made with one (default: derived from the master key)")
	return cmd
}

// backupError says what to do about the errors of reading a backup.
func backupError(err error) error {
	switch {
	case errors.Is(err, backup.ErrWrongKey):
		return fmt.Errorf("%w: pass the master key of the server that made it, or its --backup-key-file", err)
	case errors.Is(err, backup.ErrCorrupt):
		return fmt.Errorf("%w: use another backup, and check the copy from which this one came", err)
	}
	return err
}

// serverBackupDatabase is what the backup commands work on.
type serverBackupDatabase struct {
	// Source is the database to back up (nil for verify and restore).
	Source backup.Source
	// Key is the backup key: --backup-key-file's, or derived from the master key.
	Key []byte
	// The database the flags name: a SQLite file, or a PostgreSQL URL.
	SQLitePath, PostgresURL string
	// Close releases what opening took.
	Close func() error
}

// openServerBackupDatabase resolves the flags of the backup commands: the database they name
// (the data directory's SQLite file, or --database postgres://...), opened as a backup source
// unless targetOnly, and the backup key (--backup-key-file, else derived from the server's
// master key, found as the server finds it).
//
// This is the one place where the backup commands meet the server's data directory, master
// key and store opening.
func openServerBackupDatabase(ctx context.Context, f *Factory, data *serverDataFlags, keyFile string, targetOnly bool) (serverBackupDatabase, error) {
	db := serverBackupDatabase{Close: func() error { return nil }}
	var err error
	if keyFile != "" {
		if db.Key, err = backup.ReadKeyFile(keyFile); err != nil {
			return db, err
		}
	} else {
		// No --data-dir needed when the key comes from --master-key-file or the environment.
		dd := server.DataDir{Dir: data.dataDir, DatabaseURL: data.database, MasterKeyFile: data.masterKeyFile, MasterKeyHex: f.Getenv("SMARTX_MASTER_KEY")}
		master, err := server.MasterKey(dd, serverLogger(f.IO.ErrOut, false))
		if err != nil {
			return db, err
		}
		if db.Key, err = backup.DeriveKey(master[:]); err != nil {
			return db, err
		}
	}
	if scheme, _, _ := strings.Cut(data.database, "://"); scheme == "postgres" || scheme == "postgresql" {
		db.PostgresURL = data.database
		if !targetOnly {
			db.Source = backup.Postgres(data.database)
		}
		return db, nil
	}
	if data.dataDir == "" && data.database == "" {
		return db, nil // verify needs no database
	}
	if db.SQLitePath, err = server.DatabasePath(data.dataDir, data.database); err != nil {
		return db, err
	}
	if !targetOnly {
		if _, err := os.Stat(db.SQLitePath); err != nil {
			return db, fmt.Errorf("no smartx database at %s: check --data-dir or --database", db.SQLitePath)
		}
		st, err := sqlite.Open(ctx, db.SQLitePath)
		if err != nil {
			return db, err
		}
		db.Source, db.Close = backup.SQLite(st), st.Close
	}
	return db, nil
}
